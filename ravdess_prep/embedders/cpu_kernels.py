"""A loaded Transformers speech encoder put onto the processor's own kernels, once, in place.

- ``bf16``: the weights cast to bfloat16 (:func:`ravdess_prep.embedders.bfloat16.to_bfloat16`,
  its ungrouped convolutions as products on a CPU);
- on a CPU, every ``Linear`` layer through :func:`whisper_encoder.kernels.linear` (oneDNN's
  inner product with the bias inside; in bfloat16 ``addmm`` misses the matrix units), and the
  feature encoder channels-last where each of its convolutions has a layer norm
  (:mod:`ravdess_prep.embedders.feature_encoder`), and the exact GELU of each feed-forward
  block inside its first product (the 3072-wide activations otherwise read and written once
  more);
- WavLM's attention, which Transformers runs through
  ``torch.nn.functional.multi_head_attention_forward`` (its projections as ``addmm``, and the
  attention weights of every head computed, averaged and returned though nobody reads them),
  as one query/key/value product and PyTorch's fused attention with the gated relative
  position bias and the key padding as its additive mask.

On a GPU only the cast applies.

PyTorch is imported when a model is converted, not with this module.
"""

from __future__ import annotations

import functools

from whisper_encoder.kernels import linear

from .bfloat16 import to_bfloat16
from .feature_encoder import to_channels_last


def on_cpu_kernels(model, *, precision: str, device: str):
    """``model`` (a wav2vec 2.0 family model of Transformers, loaded on ``device``) in
    ``precision`` (``fp32`` or ``bf16``), its layers moved onto the kernels above; returns it."""
    import torch

    cpu = str(device).startswith("cpu")
    if precision == "bf16":
        model = to_bfloat16(model, unfold_convolutions=cpu)
    if not cpu:
        return model
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            module.forward = functools.partial(_linear_forward, module)
        elif type(module).__name__ == "WavLMAttention" and hasattr(module, "torch_multi_head_self_attention"):
            module.torch_multi_head_self_attention = functools.partial(_wavlm_attention, module, _joined(module))
        elif _exact_gelu(getattr(module, "intermediate_act_fn", None)) and hasattr(module, "output_dense"):
            module.forward = functools.partial(_feed_forward, module)
    encoder = getattr(model, "feature_extractor", None)
    layers = getattr(encoder, "conv_layers", ())
    if layers and all(isinstance(getattr(layer, "layer_norm", None), torch.nn.LayerNorm) for layer in layers):
        to_channels_last(encoder, gelu=getattr(model.config, "feat_extract_activation", None) == "gelu")
    return model


def _joined(attention) -> tuple:
    """The query, key and value projections of an attention module as one weight and bias."""
    import torch

    projections = (attention.q_proj, attention.k_proj, attention.v_proj)
    return (torch.cat([projection.weight.detach() for projection in projections]),
            torch.cat([projection.bias.detach() for projection in projections]))


def _wavlm_attention(module, joined: tuple, hidden_states, attention_mask, gated_position_bias):
    """What ``WavLMAttention.torch_multi_head_self_attention`` returns, ``(output, None)``: the
    attention of ``hidden_states`` ``(batch, frames, width)`` with ``gated_position_bias``
    ``(batch * heads, frames, frames)`` added to the scores and the keys where
    ``attention_mask`` is not 1 left out; no attention weights."""
    import torch.nn.functional as F

    batch, frames, width = hidden_states.shape
    heads = module.num_heads
    query, key, value = linear(hidden_states, *joined).view(batch, frames, 3, heads, width // heads).permute(
        2, 0, 3, 1, 4)
    bias = gated_position_bias.view(batch, heads, frames, frames).to(query.dtype)
    if attention_mask is not None:
        bias = bias.masked_fill(attention_mask.ne(1)[:, None, None, :], float("-inf"))
    attended = F.scaled_dot_product_attention(query, key, value, attn_mask=bias)
    attended = attended.transpose(1, 2).reshape(batch, frames, width)
    return linear(attended, module.out_proj.weight, module.out_proj.bias), None


def _exact_gelu(activation) -> bool:
    """Whether ``activation`` is Transformers' exact (erf) GELU."""
    import torch

    return (type(activation).__name__ == "GELUActivation"
            and getattr(activation, "act", None) is torch.nn.functional.gelu)


def _feed_forward(module, x):
    """What a feed-forward block of the wav2vec 2.0 family computes of ``x`` in evaluation (its
    dropouts idle): the first product with its GELU inside, then the second."""
    hidden = linear(x, module.intermediate_dense.weight, module.intermediate_dense.bias, gelu=True)
    return linear(hidden, module.output_dense.weight, module.output_dense.bias)


def _linear_forward(module, x):
    """What ``module`` (a ``Linear``) computes of ``x``, on the linear kernels."""
    return linear(x, module.weight, module.bias)
