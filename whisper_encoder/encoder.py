"""Whisper's encoder built in code (PyTorch) with the weights of a Transformers folder.

Two convolutions with GELU (the second halves the frame rate), the sinusoidal positional
table (stored as weights), pre-LayerNorm blocks (self-attention with the query scaled before
the product, then a GELU feed-forward layer), and the final LayerNorm. Every hidden state
comes out, as Transformers' ``hidden_states`` counts them: state 0 is the input of the first
block, state K the output of block K, the last one after the final LayerNorm.

Inputs are log-mel frames (:mod:`whisper_encoder.frontend`): ``30s`` inputs of 3000 frames (the
published model: every position, nothing masked), or ``clip`` inputs of any length up to 30 s,
whose positional table is cut to their frames. Transformers' ``WhisperEncoder`` refuses the
latter. A batch of clip inputs is padded to a multiple of :data:`params.BUCKET_FRAMES` frames
with the padding's keys masked, and every run sees exactly ``batch_size`` inputs (zeros fill a
last one), so a clip's result depends on neither its batch-mates nor their number; with
``batch_size`` 1 a clip runs alone on its own frames.

The layers run on :mod:`whisper_encoder.kernels`' linear layers (on a CPU: oneDNN's, with the
bias, the feed-forward GELU and the residual sums inside the products). The query, key and
value projections are one product of their three weights side by side, the query's scale
(``head_dim ** -0.5``, a power of two for every published size) folded into its weights once.

PyTorch is imported when an encoder is made, not with this package; a GPU is used when
PyTorch sees one.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from . import params
from .errors import InputError
from .files import EncoderConfig, read_config, read_encoder_weights
from .frontend import encoder_frames
from .kernels import frame_windows, linear, window_weight


def torch_device(device: str | None = None) -> str:
    """``device``, or ``"cuda"`` when PyTorch sees a GPU, else ``"cpu"``."""
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


class WhisperEncoder:
    """The encoder of a Whisper folder, ready to run on log-mel frames.

    Args:
        folder: A Transformers Whisper folder (see :mod:`whisper_encoder.files`).
        batch_size: Inputs per run (a last run is filled with zeros).
        device: A PyTorch device (default: a GPU when there is one, else the CPU).
        precision: ``fp32`` (every operation in float32) or ``bf16`` (the weights cast to
            bfloat16 once, here, and every step in bfloat16, the residual stream included; the
            layer norms take their statistics in float32, with float32 scales on a CPU; the
            hidden states come out as float32). On a processor without native bfloat16
            (AVX512-BF16 or AMX) ``bf16`` is emulated and slower than ``fp32``.

    Raises:
        ModelFileError: The folder's config or weights are missing, damaged or do not match.
        InputError: ``batch_size`` is not a positive integer, or an unknown ``precision``.
    """

    def __init__(self, folder: str | os.PathLike, *, batch_size: int = 1, device: str | None = None,
                 precision: str = "fp32"):
        import torch

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size has to be a positive integer, not {batch_size!r}")
        if precision not in params.PRECISIONS:
            raise InputError(f"precision has to be one of {', '.join(map(repr, params.PRECISIONS))}, not {precision!r}")
        self.config: EncoderConfig = read_config(folder)
        self.batch_size = batch_size
        self.precision = precision
        self.device = torch.device(torch_device(device))
        #: The type of the matrix products' operands: float32, or bfloat16 (cast once, here).
        self.compute_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        # one tensor at a time, each source array dropped once converted: the float32 weights are
        # never all held beside their bfloat16 copies
        source = read_encoder_weights(folder, self.config)
        self.weights = {}
        for name in list(source):
            self.weights[name] = torch.from_numpy(np.array(source.pop(name))).to(self.device, self._dtype_of(name))
        self._join_attention_projections()
        self._convolutions_as_products()

    def _dtype_of(self, name: str):
        """The type a tensor is kept in: the compute type, but float32 for the layer norms'
        scales on a CPU (PyTorch normalises bfloat16 there with float32 scales)."""
        import torch

        return torch.float32 if "layer_norm" in name and self.device.type == "cpu" else self.compute_dtype

    def _join_attention_projections(self) -> None:
        """Each block's query, key and value weights as one ``(3 d_model, d_model)`` product
        (``self_attn.qkv_proj``), the query's scale folded in (exactly, for a power of two);
        the key has no bias (zeros)."""
        import torch

        scale = (self.config.d_model // self.config.heads) ** -0.5
        w = self.weights
        for layer in range(self.config.layers):
            base = f"layers.{layer}.self_attn."
            query, query_bias = w.pop(base + "q_proj.weight"), w.pop(base + "q_proj.bias")
            value, value_bias = w.pop(base + "v_proj.weight"), w.pop(base + "v_proj.bias")
            w[base + "qkv_proj.weight"] = torch.cat([query * scale, w.pop(base + "k_proj.weight"), value])
            w[base + "qkv_proj.bias"] = torch.cat([query_bias * scale, torch.zeros_like(value_bias), value_bias])

    def _convolutions_as_products(self) -> None:
        """The two convolutions' weights ``(d_model, channels, 3)`` as matrices over three
        consecutive frames side by side: ``conv1.matrix`` channel by channel (its input is
        unfolded from the log-mel frames), ``conv2.matrix`` frame by frame (its input is a
        strided view of the first's channels-last output)."""
        w = self.weights
        w["conv1.matrix"] = w.pop("conv1.weight").flatten(1)
        w["conv2.matrix"] = window_weight(w.pop("conv2.weight"))

    def hidden_states(self, mels: Sequence[np.ndarray], *, input: str = "clip", frames: Sequence[int] | None = None,
                      layers: Sequence[int] | None = None) -> list[np.ndarray]:
        """Every clip's hidden states.

        Args:
            mels: Each clip's log-mel frames, float32 ``(num_mel_bins, frames)``: 3000 frames
                for ``30s`` inputs, any number up to 3000 for ``clip`` inputs.
            input: ``"clip"`` or ``"30s"`` (see the module docstring).
            frames: Encoder frames to keep of each clip (default: all of a ``clip`` input, all
                1500 of a ``30s`` one).
            layers: Which hidden states (0 .. layers; default: all).

        Returns:
            One float32 array per clip, ``(len(layers), frames, d_model)``.

        Raises:
            InputError: An input of the wrong shape or mode.
        """
        import torch

        chosen = list(range(self.config.hidden_states)) if layers is None else [int(layer) for layer in layers]
        lengths = [self._check(mel, input) for mel in mels]
        keep = [encoder_frames(length) if frames is None or frames[index] is None else int(frames[index])
                for index, length in enumerate(lengths)]
        results: list[np.ndarray | None] = [None] * len(mels)
        groups: dict[int, list[int]] = {}
        for index, length in enumerate(lengths):
            groups.setdefault(self.padded_frames(length, input=input), []).append(index)
        with torch.inference_mode():
            for padded, members in groups.items():
                for first in range(0, len(members), self.batch_size):
                    batch = members[first : first + self.batch_size]
                    states = self._run([mels[index] for index in batch], [lengths[index] for index in batch],
                                       padded=padded, masked=input == "clip" and self.batch_size > 1, layers=chosen)
                    for row, index in enumerate(batch):
                        results[index] = states[row][:, : keep[index]]
        return results

    def padded_frames(self, frames: int, *, input: str = "clip") -> int:
        """The log-mel frames an input of ``frames`` runs at: its own with ``batch_size`` 1 or
        a ``30s`` input, else the next multiple of :data:`params.BUCKET_FRAMES` (at most 3000).
        Inputs of one padded length run together."""
        if input == "30s" or self.batch_size == 1:
            return frames
        return min(-(-frames // params.BUCKET_FRAMES) * params.BUCKET_FRAMES, params.CHUNK_FRAMES)

    def _check(self, mel: np.ndarray, input: str) -> int:
        if input not in params.INPUTS:
            raise InputError(f"input has to be one of {', '.join(map(repr, params.INPUTS))}, not {input!r}")
        shape = np.shape(mel)
        if len(shape) != 2 or shape[0] != self.config.num_mel_bins or not 1 <= shape[1] <= params.CHUNK_FRAMES:
            raise InputError(f"log-mel frames of shape {shape}: the model takes ({self.config.num_mel_bins}, 1 to "
                             f"{params.CHUNK_FRAMES} frames)")
        if input == "30s" and shape[1] != params.CHUNK_FRAMES:
            raise InputError(f"a 30s input has {params.CHUNK_FRAMES} frames, not {shape[1]}")
        return int(shape[1])

    def _run(self, mels: list, lengths: list[int], *, padded: int, masked: bool, layers: list[int]) -> np.ndarray:
        """One run of exactly ``batch_size`` inputs of ``padded`` frames (zeros past each
        input's end; a batch of fewer inputs is filled with zero inputs)."""
        import torch
        import torch.nn.functional as F

        size = self.batch_size
        batch = np.zeros((size, self.config.num_mel_bins, padded), np.float32)
        for row, (mel, length) in enumerate(zip(mels, lengths)):
            batch[row, :, :length] = mel
        w, compute = self.weights, self.compute_dtype
        x = torch.from_numpy(batch).to(self.device, compute)
        # the first convolution: each frame's three neighbours' mel bins side by side, one product
        x = F.pad(x, (1, 1)).unfold(2, 3, 1).permute(0, 2, 1, 3).flatten(2)
        x = linear(x, w["conv1.matrix"], w["conv1.bias"], gelu=True)  # (batch, frames, d_model)
        valid = None
        if masked:  # past an input's end the second convolution reads zeros, as it would alone
            frames = torch.arange(padded, device=self.device)
            ends = torch.tensor(lengths + [padded] * (size - len(lengths)), device=self.device)  # fillers: all valid
            x = x * (frames[None, :] < ends[:, None])[:, :, None]
            valid = torch.arange(-(-padded // 2), device=self.device)[None, :] < -(-ends[:, None] // 2)
        # the second: frames 2t-1, 2t, 2t+1 side by side, a strided view of the padded frames
        x = frame_windows(F.pad(x, (0, 0, 1, 1)), kernel=3, stride=params.CONV_STRIDE)
        x = linear(x, w["conv2.matrix"], w["conv2.bias"], gelu=True) + w["embed_positions.weight"][: x.shape[1]]
        mask = None if valid is None else valid[:, None, None, :]
        # each kept state is written once, as float32, into the batch's output
        out = torch.empty((size, len(layers), x.shape[1], self.config.d_model), dtype=torch.float32,
                          device=self.device)
        last = self.config.layers
        for layer in range(last + 1):
            if layer:
                x = self._block(x, f"layers.{layer - 1}.", mask)
            if layer == last:
                d = self.config.d_model
                x = F.layer_norm(x, (d,), w["layer_norm.weight"], w["layer_norm.bias"], params.LAYER_NORM_EPSILON)
            for slot in (slot for slot, chosen in enumerate(layers) if chosen == layer):
                out[:, slot] = x
        return out[: len(mels)].cpu().numpy()

    def _block(self, x, base: str, mask):
        """One pre-LayerNorm block: self-attention, then the feed-forward layer, each added to
        the residual stream inside its last product."""
        import torch.nn.functional as F

        w, d, heads = self.weights, self.config.d_model, self.config.heads
        epsilon = params.LAYER_NORM_EPSILON
        h = F.layer_norm(x, (d,), w[base + "self_attn_layer_norm.weight"], w[base + "self_attn_layer_norm.bias"],
                         epsilon)
        batch, length = h.shape[0], h.shape[1]
        qkv = linear(h, w[base + "self_attn.qkv_proj.weight"], w[base + "self_attn.qkv_proj.bias"])
        query, key, value = qkv.view(batch, length, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=1.0)
        attended = attended.transpose(1, 2).reshape(batch, length, d)
        x = linear(attended, w[base + "self_attn.out_proj.weight"], w[base + "self_attn.out_proj.bias"], residual=x)
        h = F.layer_norm(x, (d,), w[base + "final_layer_norm.weight"], w[base + "final_layer_norm.bias"], epsilon)
        h = linear(h, w[base + "fc1.weight"], w[base + "fc1.bias"], gelu=True)
        return linear(h, w[base + "fc2.weight"], w[base + "fc2.bias"], residual=x)

    def close(self) -> None:
        """Free the weights (and the GPU memory they hold)."""
        self.weights = {}

    def __enter__(self) -> "WhisperEncoder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
