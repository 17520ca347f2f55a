"""The convolutional feature encoder of the wav2vec 2.0 family, channels-last, on the linear
kernels of :mod:`whisper_encoder.kernels`.

Transformers computes the seven convolutions over the waveform as ``(batch, channels, frames)``
tensors: each layer normalisation transposes them there and back, and each convolution reads
the result as a copy. At 512 channels and about 9600 frames per 3 s clip every such pass is a
hundred megabytes, and on a 2-core CPU the feature encoder took 59 % of a WavLM-base shaped
model's float32 time (1.24 of 2.13 s for 8 clips of 3 s). Here the frames stay
``(batch, frames, channels)``: a convolution of kernel ``k`` and stride ``s`` is one matrix
product over the strided view of ``k`` consecutive frames side by side (the weights arranged to
match, once), its bias inside the product; the layer normalisation acts on the last axis as it
is; a GELU without a normalisation before it goes inside the product too. The output is the
transposed view Transformers' next step expects.

Every model type of :data:`ravdess_prep.embedders.hf_folder.MODEL_TYPES` has this encoder (its
own copy of the classes): layers of a ``conv`` (no padding, no groups, dilation 1), an
optional ``layer_norm`` (``LayerNorm`` over channels; or ``GroupNorm`` with a group per channel,
over frames, on the first layer of the group-normalised models) and an ``activation``.

PyTorch is imported when an encoder is converted, not with this module.
"""

from __future__ import annotations

import dataclasses
import functools

from whisper_encoder.kernels import frame_windows, linear, window_weight


@dataclasses.dataclass(frozen=True)
class _Layer:
    """One convolution as a product: ``matrix`` ``(out, kernel * in)``, frame-major."""

    matrix: object
    bias: object
    kernel: int
    stride: int
    norm: object  # the layer's LayerNorm or GroupNorm module, or None
    activation: object  # the layer's activation module
    gelu: bool  # the activation is the exact GELU (taken inside the product where no norm comes first)


def to_channels_last(encoder, *, gelu: bool):
    """``encoder`` (a Transformers feature encoder module, after any cast of its weights)
    computing channels-last from now on; ``gelu``: its activation is the exact GELU
    (``feat_extract_activation`` ``gelu``).

    Raises:
        ValueError: A layer this computation does not cover (padding, groups, dilation, another
            normalisation); nothing is changed then.
    """
    import torch

    plan = []
    for layer in encoder.conv_layers:
        conv, norm = layer.conv, getattr(layer, "layer_norm", None)
        if conv.dilation != (1,) or conv.groups != 1 or conv.padding not in ((0,), 0):
            raise ValueError(f"a channels-last feature encoder needs convolutions without padding, groups or "
                             f"dilation, not {conv}")
        if not (norm is None or isinstance(norm, torch.nn.LayerNorm)
                or (isinstance(norm, torch.nn.GroupNorm) and norm.num_groups == norm.num_channels)):
            raise ValueError(f"a channels-last feature encoder has no rule for the normalisation {norm}")
        bias = None if conv.bias is None else conv.bias.detach()
        plan.append(_Layer(window_weight(conv.weight.detach()), bias, conv.kernel_size[0], conv.stride[0], norm,
                           layer.activation, gelu))
    encoder.forward = functools.partial(_forward, plan)
    return encoder


def _forward(plan: list[_Layer], input_values):
    """The feature encoder's output ``(batch, channels, frames)`` (a transposed view) of
    ``input_values`` ``(batch, samples)``."""
    import torch.nn.functional as F

    x = input_values[:, :, None]
    for layer in plan:
        fused = layer.norm is None and layer.gelu
        x = linear(frame_windows(x, kernel=layer.kernel, stride=layer.stride), layer.matrix, layer.bias, gelu=fused)
        if layer.norm is not None and hasattr(layer.norm, "normalized_shape"):
            x = F.layer_norm(x, layer.norm.normalized_shape, layer.norm.weight, layer.norm.bias, layer.norm.eps)
        elif layer.norm is not None:
            x = _channel_norm(x, layer.norm)
        if not fused:
            x = layer.activation(x)
    return x.transpose(1, 2)


def _channel_norm(x, norm):
    """``GroupNorm`` with a group per channel on channels-last ``x``: each channel of each
    input over its frames (statistics in float32 at least), scaled and shifted in one pass."""
    import torch

    exact = torch.promote_types(x.dtype, torch.float32)
    variance, mean = torch.var_mean(x.to(exact), dim=1, correction=0, keepdim=True)
    scale = norm.weight.to(exact) * torch.rsqrt(variance + norm.eps)
    shift = norm.bias.to(exact) - mean * scale
    return torch.addcmul(shift.to(x.dtype), x, scale.to(x.dtype))
