"""A Transformers speech encoder in bfloat16, with its convolutions as matrix products.

Casting a model to bfloat16 makes its linear layers run on the processor's bfloat16 matrix
units (AMX, AVX512-BF16), but not its one-dimensional convolutions: PyTorch's CPU convolution
in bfloat16 is no faster than in float32. The feature encoder of wav2vec 2.0 and its kin is
seven such convolutions and about a third of the model's work, so here each one is computed,
in the loaded model only, as the same sums written as a matrix product over the input's
unfolded frames (``Tensor.unfold``), which does reach the matrix units (on a 2-core AMX machine,
8 clips of 3 s: 108 against 191 ms for the second convolution). The grouped positional
convolution (kernel 128, 16 groups) stays PyTorch's: unfolded, its input is copied 128 times
over, and there PyTorch's own bfloat16 convolution is the faster by far (14 against 110 ms).

PyTorch is imported when a model is converted, not with this module.
"""

from __future__ import annotations

import functools


def to_bfloat16(model, *, unfold_convolutions: bool = True):
    """``model`` (a ``torch.nn.Module``) cast to bfloat16, every ungrouped ``Conv1d`` in it
    computed by :func:`unfolded_conv1d` (same weights, same results up to bfloat16 rounding)
    unless ``unfold_convolutions`` is False (on a GPU, whose own bfloat16 convolutions are fast)."""
    import torch

    model = model.to(torch.bfloat16)
    for module in model.modules() if unfold_convolutions else ():
        if isinstance(module, torch.nn.Conv1d) and module.groups == 1:
            if module.dilation != (1,) or not isinstance(module.padding, tuple) or module.padding_mode != "zeros":
                raise ValueError(f"an unfolded convolution needs dilation 1 and numeric zero padding, not {module}")
            module.forward = functools.partial(unfolded_conv1d, module)
    return model


def unfolded_conv1d(conv, x):
    """What ``conv`` (a ``Conv1d``: any stride, padding and groups; dilation 1) computes of
    ``x`` ``(batch, channels, frames)``, as one matrix product per group over the unfolded
    frames. The module's ``weight`` attribute is read on every call, so a parametrisation of
    it (the positional convolution's weight norm) is applied as usual."""
    import torch
    import torch.nn.functional as F

    weight, bias, groups = conv.weight, conv.bias, conv.groups
    stride, padding, kernel = conv.stride[0], conv.padding[0], conv.kernel_size[0]
    if padding:
        x = F.pad(x, (padding, padding))
    batch, channels, _ = x.shape
    out, per_group = weight.shape[0], channels // groups
    # (batch, channels, frames, kernel) -> (batch, groups, frames, channels/groups * kernel)
    frames = x.unfold(2, kernel, stride)
    count = frames.shape[2]
    frames = frames.reshape(batch, groups, per_group, count, kernel).permute(0, 1, 3, 2, 4)
    frames = frames.reshape(batch, groups, count, per_group * kernel)
    # weight (out, channels/groups, kernel) -> (groups, channels/groups * kernel, out/groups)
    matrix = weight.reshape(groups, out // groups, per_group * kernel).transpose(1, 2)
    y = torch.matmul(frames, matrix).permute(0, 1, 3, 2).reshape(batch, out, count)
    return y if bias is None else y + bias[None, :, None]
