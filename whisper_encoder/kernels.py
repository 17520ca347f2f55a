"""Linear layers on the processor's own matrix-product kernels, and convolutions as such layers.

On a CPU, ``torch.nn.functional.linear`` with a bias runs as ``addmm``: the bias is copied into
the output and the product added to it, and in bfloat16 that path misses the processor's
matrix units (at Whisper-base's shapes on a 2-core processor with AMX: 0.7 TFLOP/s, against
1.5 for the same product without a bias). oneDNN's inner product, which PyTorch's CPU builds
register as the operator ``mkldnn::_linear_pointwise`` (the one its own compiler emits for a
linear layer on a CPU), takes the bias, a GELU or a residual sum inside the product, in
float32 and in bfloat16 alike. :func:`linear` uses it where it is there, and computes the same
sums with plain PyTorch operations where it is not (a GPU, a build without oneDNN).

PyTorch is imported when a layer runs, not with this module.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=None)
def onednn_linear():
    """PyTorch's oneDNN linear operator, or None where this PyTorch has none."""
    import torch

    if not torch.backends.mkldnn.is_available():
        return None
    try:
        return torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):
        return None


def linear(x, weight, bias=None, *, gelu: bool = False, residual=None):
    """``x @ weight.T + bias``, then the exact (erf) GELU if ``gelu``, then ``+ residual``.

    Args:
        x: ``(..., in)`` float32 or bfloat16.
        weight: ``(out, in)``, of ``x``'s type.
        bias: ``(out,)`` or None.
        gelu: Apply GELU to the sum (not with ``residual``).
        residual: ``(..., out)`` added to the result (a transformer block's residual stream);
            of ``x``'s type for the sum to be taken inside the product.

    Returns:
        ``(..., out)`` of ``x``'s type (of the promoted type where ``residual``'s differs).
    """
    import torch
    import torch.nn.functional as F

    if gelu and residual is not None:
        raise ValueError("a linear layer takes either a GELU or a residual sum, not both")
    kernel = onednn_linear()
    native = (kernel is not None and x.device.type == "cpu" and x.dtype in (torch.float32, torch.bfloat16)
              and weight.dtype == x.dtype and (bias is None or bias.dtype == x.dtype))
    if native:
        x = x.contiguous()
    if native and residual is not None and residual.dtype == x.dtype:
        return kernel.binary(x, residual.contiguous(), weight, bias, "add")
    if native:
        y = kernel(x, weight, bias, "gelu" if gelu else "none", [], "none" if gelu else "")
    else:
        y = F.linear(x, weight, bias)
        y = F.gelu(y) if gelu else y
    return y if residual is None else residual + y


def frame_windows(x, *, kernel: int, stride: int):
    """``x`` ``(batch, frames, channels)`` as ``(batch, count, kernel * channels)``: every
    ``stride``-th run of ``kernel`` consecutive frames side by side, frame after frame (a
    strided view of a contiguous copy, no more), so that a convolution without padding over the
    frames is :func:`linear` of them with its weight arranged by :func:`window_weight`."""
    x = x.contiguous()
    batch, frames, channels = x.shape
    count = (frames - kernel) // stride + 1
    return x.as_strided((batch, count, kernel * channels), (frames * channels, stride * channels, 1))


def window_weight(weight):
    """A convolution's weight ``(out, in, kernel)`` as the matrix ``(out, kernel * in)`` that
    multiplies :func:`frame_windows` (frame after frame, each frame's channels together)."""
    return weight.permute(0, 2, 1).flatten(1).contiguous()
