"""A loaded Transformers speech encoder put onto the processor's own kernels, once, in place.

- ``bf16``: the weights cast to bfloat16 (:func:`ravdess_prep.embedders.bfloat16.to_bfloat16`,
  its ungrouped convolutions as products on a CPU);
- on a CPU, every ``Linear`` layer through :func:`whisper_encoder.kernels.linear` (oneDNN's
  inner product with the bias inside; in bfloat16 ``addmm`` misses the matrix units), and the
  feature encoder channels-last where each of its convolutions has a layer norm
  (:mod:`ravdess_prep.embedders.feature_encoder`).

Attention layers that call ``torch.nn.functional.multi_head_attention_forward`` with their
projections' weights (WavLM's) keep PyTorch's products. On a GPU only the cast applies.

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
    encoder = getattr(model, "feature_extractor", None)
    layers = getattr(encoder, "conv_layers", ())
    if layers and all(isinstance(getattr(layer, "layer_norm", None), torch.nn.LayerNorm) for layer in layers):
        to_channels_last(encoder, gelu=getattr(model.config, "feat_extract_activation", None) == "gelu")
    return model


def _linear_forward(module, x):
    """What ``module`` (a ``Linear``) computes of ``x``, on the linear kernels."""
    return linear(x, module.weight, module.bias)
