"""The convolutional feature encoder of the wav2vec 2.0 family, channels-last, on the linear
kernels of :mod:`whisper_encoder.kernels`, a piece of audio at a time.

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

Where every normalisation is over channels (``LayerNorm``, or none), each output frame depends
on its own receptive field of samples alone, so the waveform is cut into overlapping pieces
(equal lengths, as few as keep every intermediate tensor within ``piece_bytes``) and the stack
runs over a few pieces at a time. Nothing is computed twice but the pieces' overlap, and the
frames are the same sums as the whole clip's. Two things are won: the tensors stay within the
processor's caches, and within the sizes the C allocator keeps for reuse (a larger block is
mapped afresh from the system at every allocation and its pages faulted in again; 8 clips of
3 s in bfloat16 on a 2-core processor with AMX: 225 ms whole, 127 ms by pieces of a clip).

The first convolution reads a handful of samples per frame (10 for one input channel), so its
layer normalisation is taken into its product: the channels' mean is a fixed combination of
the window's samples (the weights centred over channels), the variance the quadratic form of
the centred weights' Gram matrix, so each window is scaled by its own reciprocal deviation and
multiplied by the centred weights scaled by the norm's weight, with the norm's bias (and the
GELU) inside the product; the 512-wide output is written once instead of three times.

Every model type of :data:`ravdess_prep.embedders.hf_folder.MODEL_TYPES` has this encoder (its
own copy of the classes): layers of a ``conv`` (no padding, no groups, dilation 1), an
optional ``layer_norm`` (``LayerNorm`` over channels; or ``GroupNorm`` with a group per channel,
over frames, on the first layer of the group-normalised models, which run whole clips) and an
``activation``.

PyTorch is imported when an encoder is converted, not with this module.
"""

from __future__ import annotations

import dataclasses
import functools

from whisper_encoder.kernels import frame_windows, linear, window_weight

#: The largest intermediate tensor of a run of pieces, in bytes (well within the C
#: allocator's 32 MiB of reused blocks; 16 and 24 MiB measured alike, 8 MiB about a tenth
#: slower: smaller products).
PIECE_BYTES = 16 << 20
#: The largest ``kernel * in_channels`` whose layer normalisation is taken into the product.
NORMALISED_WINDOW = 64


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


@dataclasses.dataclass(frozen=True)
class _Normalised:
    """A convolution over a short window followed by ``LayerNorm``, in one product: ``gram``
    ``(w + 1, w + 1)`` of the window with a constant 1 appended (statistics' type), ``matrix``
    ``(out, w + 1)`` and ``bias`` ``(out,)`` (the weights' type)."""

    gram: object
    matrix: object
    bias: object
    eps: float
    kernel: int
    stride: int
    activation: object
    gelu: bool


@dataclasses.dataclass(frozen=True)
class _Plan:
    layers: tuple  # of _Layer or _Normalised
    receptive_samples: int  # samples under one output frame
    hop_samples: int  # samples between output frames
    frame_bytes: int  # the largest intermediate tensor per output frame
    piece_bytes: int | None  # None: whole clips (a normalisation over frames)


def to_channels_last(encoder, *, gelu: bool, piece_bytes: int = PIECE_BYTES):
    """``encoder`` (a Transformers feature encoder module, after any cast of its weights)
    computing channels-last from now on; ``gelu``: its activation is the exact GELU
    (``feat_extract_activation`` ``gelu``); ``piece_bytes``: the bound on a run of pieces'
    largest tensor.

    Raises:
        ValueError: A layer this computation does not cover (padding, groups, dilation, another
            normalisation); nothing is changed then.
    """
    import torch

    layers, whole, widths = [], False, []
    receptive, hop = 1, 1
    for layer in encoder.conv_layers:
        conv, norm = layer.conv, getattr(layer, "layer_norm", None)
        if conv.dilation != (1,) or conv.groups != 1 or conv.padding not in ((0,), 0):
            raise ValueError(f"a channels-last feature encoder needs convolutions without padding, groups or "
                             f"dilation, not {conv}")
        if not (norm is None or isinstance(norm, torch.nn.LayerNorm)
                or (isinstance(norm, torch.nn.GroupNorm) and norm.num_groups == norm.num_channels)):
            raise ValueError(f"a channels-last feature encoder has no rule for the normalisation {norm}")
        whole = whole or isinstance(norm, torch.nn.GroupNorm)
        kernel, stride = conv.kernel_size[0], conv.stride[0]
        receptive, hop = receptive + (kernel - 1) * hop, hop * stride
        window = kernel * conv.in_channels
        widths.append((max(window, conv.out_channels) * conv.weight.element_size(), hop))  # bytes a frame
        if isinstance(norm, torch.nn.LayerNorm) and window <= NORMALISED_WINDOW:
            layers.append(_normalised(conv, norm, layer.activation, gelu))
        else:
            bias = None if conv.bias is None else conv.bias.detach()
            layers.append(_Layer(window_weight(conv.weight.detach()), bias, kernel, stride, norm, layer.activation,
                                 gelu))
    per_frame = max(width * (hop // layer_hop) for width, layer_hop in widths)
    plan = _Plan(tuple(layers), receptive, hop, per_frame, None if whole else piece_bytes)
    encoder.forward = functools.partial(_forward, plan)
    return encoder


def _normalised(conv, norm, activation, gelu: bool) -> _Normalised:
    """``conv`` and its ``LayerNorm`` ``norm`` as one product over windows with a 1 appended."""
    import torch

    weight = window_weight(conv.weight.detach())
    exact = {"dtype": torch.promote_types(weight.dtype, torch.float32), "device": weight.device}
    out = weight.shape[0]
    bias = torch.zeros(out, **exact) if conv.bias is None else conv.bias.detach().to(**exact)
    joined = torch.cat([weight.to(**exact), bias[:, None]], dim=1)
    centred = joined - joined.mean(dim=0, keepdim=True)
    scale = torch.ones(out, **exact) if norm.weight is None else norm.weight.detach().to(**exact)
    shift = torch.zeros(out, **exact) if norm.bias is None else norm.bias.detach().to(**exact)
    return _Normalised(centred.T @ centred / out, (scale[:, None] * centred).to(weight.dtype),
                       shift.to(weight.dtype), norm.eps, conv.kernel_size[0], conv.stride[0], activation, gelu)


def _forward(plan: _Plan, input_values):
    """The feature encoder's output ``(batch, channels, frames)`` (a transposed view) of
    ``input_values`` ``(batch, samples)``: whole clips, or by pieces where ``plan`` allows."""
    import torch.nn.functional as F

    batch, samples = input_values.shape
    frames = (samples - plan.receptive_samples) // plan.hop_samples + 1
    if plan.piece_bytes is None or frames < 1:
        return _stack(plan, input_values[:, :, None]).transpose(1, 2)
    limit = max(1, plan.piece_bytes // plan.frame_bytes)  # output frames in one run
    count = -(-frames // limit)  # pieces per clip
    per = -(-frames // count)  # output frames per piece, the pieces equal
    together = max(1, limit // per)  # pieces in one run
    if count == 1 and together >= batch:
        return _stack(plan, input_values[:, :, None]).transpose(1, 2)
    span = (per - 1) * plan.hop_samples + plan.receptive_samples
    needed = (count - 1) * per * plan.hop_samples + span
    padded = F.pad(input_values, (0, needed - samples)) if needed > samples else input_values[:, :needed]
    pieces = padded.unfold(1, span, per * plan.hop_samples).reshape(batch * count, span, 1)
    out = None
    for start in range(0, batch * count, together):
        run = _stack(plan, pieces[start:start + together])
        out = run.new_empty(batch * count, per, run.shape[-1]) if out is None else out
        out[start:start + together] = run
    return out.view(batch, count * per, -1)[:, :frames].transpose(1, 2)


def _stack(plan: _Plan, x):
    """The layers over ``x`` ``(batch, samples, 1)``: ``(batch, frames, channels)``."""
    import torch.nn.functional as F

    for layer in plan.layers:
        if isinstance(layer, _Normalised):
            x = _normalised_forward(layer, x)
            continue
        fused = layer.norm is None and layer.gelu
        x = linear(frame_windows(x, kernel=layer.kernel, stride=layer.stride), layer.matrix, layer.bias, gelu=fused)
        if layer.norm is not None and hasattr(layer.norm, "normalized_shape"):
            x = F.layer_norm(x, layer.norm.normalized_shape, layer.norm.weight, layer.norm.bias, layer.norm.eps)
        elif layer.norm is not None:
            x = _channel_norm(x, layer.norm)
        if not fused:
            x = layer.activation(x)
    return x


def _normalised_forward(layer: _Normalised, x):
    """The convolution, its layer normalisation and activation of :class:`_Normalised`."""
    import torch
    import torch.nn.functional as F

    windows = F.pad(frame_windows(x, kernel=layer.kernel, stride=layer.stride).to(layer.gram.dtype), (0, 1), value=1.0)
    variance = ((windows @ layer.gram) * windows).sum(dim=-1, keepdim=True).clamp_(min=0)
    scaled = (windows * torch.rsqrt(variance + layer.eps)).to(layer.matrix.dtype)
    y = linear(scaled, layer.matrix, layer.bias, gelu=layer.gelu)
    return y if layer.gelu else layer.activation(y)


def _channel_norm(x, norm):
    """``GroupNorm`` with a group per channel on channels-last ``x``: each channel of each
    input over its frames (statistics in float32 at least), scaled and shifted in one pass."""
    import torch

    exact = torch.promote_types(x.dtype, torch.float32)
    variance, mean = torch.var_mean(x.to(exact), dim=1, correction=0, keepdim=True)
    scale = norm.weight.to(exact) * torch.rsqrt(variance + norm.eps)
    shift = norm.bias.to(exact) - mean * scale
    return torch.addcmul(shift.to(x.dtype), x, scale.to(x.dtype))
