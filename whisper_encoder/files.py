"""A Transformers Whisper folder: its ``config.json``, and the encoder's weights read from its
safetensors file(s).

The folder is what ``WhisperModel.save_pretrained`` (or the Hub's ``openai/whisper-*``) holds:
``config.json``, ``preprocessor_config.json``, and ``model.safetensors`` or shards listed by
``model.safetensors.index.json``. Only the encoder's tensors are read (``model.encoder.`` for
a model saved with its decoder, ``encoder.`` for a bare ``WhisperModel``), with the
``safetensors`` package, which checks every offset of the header: float32, float16 and
bfloat16 tensors come out as float32, and a tensor with a NaN or an infinity is refused.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from . import params
from .errors import ModelFileError

#: What marks an encoder tensor's name: ``model.encoder.`` (a model saved with its decoder) or
#: ``encoder.`` (a bare ``WhisperModel``).
ENCODER_MARK = ".encoder."


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """The encoder's size, from ``config.json``.

    Attributes:
        d_model: Width of the hidden states.
        layers: Encoder blocks.
        heads: Attention heads.
        ffn_dim: Width of the feed-forward layer.
        num_mel_bins: Mel bins of the input (80; 128 for large-v3).
        max_positions: Encoder positions (1500: 30 s).
    """

    d_model: int
    layers: int
    heads: int
    ffn_dim: int
    num_mel_bins: int
    max_positions: int

    @property
    def hidden_states(self) -> int:
        """Hidden states per clip: the input of the first block, then each block's output."""
        return self.layers + 1


def read_config(folder: str | os.PathLike) -> EncoderConfig:
    """The encoder's size from a Whisper folder's ``config.json``.

    Raises:
        ModelFileError: No such file, not JSON, not a Whisper config, or a size missing.
    """
    path = Path(folder) / params.CONFIG_FILE
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file (a Whisper folder holds config.json and model.safetensors)") from None
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{path}: not a readable config ({error})") from None
    if not isinstance(config, dict) or config.get("model_type") != "whisper":
        raise ModelFileError(f"{path}: model_type is {config.get('model_type') if isinstance(config, dict) else None!r}, "
                             "not 'whisper'")
    try:
        sizes = EncoderConfig(int(config["d_model"]), int(config["encoder_layers"]),
                              int(config["encoder_attention_heads"]), int(config["encoder_ffn_dim"]),
                              int(config.get("num_mel_bins", 80)), int(config.get("max_source_positions", 1500)))
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: the encoder's size is incomplete ({error!r})") from None
    for field in dataclasses.fields(sizes):
        if getattr(sizes, field.name) < (0 if field.name == "layers" else 1):
            raise ModelFileError(f"{path}: the encoder's {field.name} is {getattr(sizes, field.name)}")
    if sizes.d_model % sizes.heads:
        raise ModelFileError(f"{path}: d_model {sizes.d_model} is not a multiple of encoder_attention_heads "
                             f"{sizes.heads}")
    return sizes


def weight_files(folder: str | os.PathLike) -> list[Path]:
    """The safetensors files of a folder: ``model.safetensors``, or the shards its index lists.

    Raises:
        ModelFileError: Neither is there, or the index is unreadable.
    """
    folder = Path(folder)
    single, index = folder / params.WEIGHTS_FILE, folder / params.WEIGHTS_INDEX_FILE
    if single.is_file():
        return [single]
    if index.is_file():
        try:
            names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError, AttributeError) as error:
            raise ModelFileError(f"{index}: not a readable index of shards ({error!r})") from None
        return [folder / name for name in names]
    raise ModelFileError(f"{folder}: no {params.WEIGHTS_FILE} nor {params.WEIGHTS_INDEX_FILE}")


def read_encoder_weights(folder: str | os.PathLike, config: EncoderConfig | None = None) -> dict[str, np.ndarray]:
    """Every encoder tensor of a Whisper folder, by its name after the encoder's prefix
    (``conv1.weight``, ``layers.0.self_attn.k_proj.weight``, ``layer_norm.bias``, ...), float32.

    The files are read with the ``safetensors`` package (PyTorch tensors, so that bfloat16
    weights read too), which checks the header's offsets against each other and the file.

    Raises:
        ModelFileError: A file is unreadable, cut short or not a valid safetensors file, a
            tensor has a type that is not a float, or a tensor the encoder needs is missing,
            has another shape than the config says or holds NaN or infinite values; the
            message names the file and the tensor.
    """
    import torch
    from safetensors import SafetensorError, safe_open

    config = config or read_config(folder)
    found: dict[str, np.ndarray] = {}
    for path in weight_files(folder):
        try:
            with safe_open(str(path), framework="pt") as stored:
                names = [name for name in stored.keys() if ENCODER_MARK in name or name.startswith("encoder.")]
                for name in names:
                    tensor = stored.get_tensor(name)
                    key = name[name.index("encoder.") + len("encoder."):]
                    if not tensor.is_floating_point():
                        raise ModelFileError(f"{path}: tensor {name} is {tensor.dtype}, not a float")
                    found[key] = tensor.to(torch.float32).numpy()
        except FileNotFoundError:
            raise ModelFileError(f"{path}: no such file (a shard the index lists)") from None
        except (SafetensorError, OSError, ValueError, RuntimeError) as error:
            raise ModelFileError(f"{path}: not a safetensors file, or a damaged one ({error})") from None
    if "conv1.weight" not in found:
        raise ModelFileError(f"{folder}: no tensor named *encoder.conv1.weight: not a Whisper model's weights")
    _check_shapes(found, config, folder)
    return found


def expected_shapes(config: EncoderConfig) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor the encoder needs."""
    d, f = config.d_model, config.ffn_dim
    shapes = {"conv1.weight": (d, config.num_mel_bins, 3), "conv1.bias": (d,), "conv2.weight": (d, d, 3),
              "conv2.bias": (d,), "embed_positions.weight": (config.max_positions, d), "layer_norm.weight": (d,),
              "layer_norm.bias": (d,)}
    for layer in range(config.layers):
        base = f"layers.{layer}."
        for projection, bias in (("q_proj", True), ("k_proj", False), ("v_proj", True), ("out_proj", True)):
            shapes[f"{base}self_attn.{projection}.weight"] = (d, d)
            if bias:
                shapes[f"{base}self_attn.{projection}.bias"] = (d,)
        for norm in ("self_attn_layer_norm", "final_layer_norm"):
            shapes[f"{base}{norm}.weight"] = shapes[f"{base}{norm}.bias"] = (d,)
        shapes.update({f"{base}fc1.weight": (f, d), f"{base}fc1.bias": (f,), f"{base}fc2.weight": (d, f),
                       f"{base}fc2.bias": (d,)})
    return shapes


def _check_shapes(found: dict, config: EncoderConfig, folder) -> None:
    problems = []
    for name, shape in expected_shapes(config).items():
        if name not in found:
            problems.append(f"{name} missing")
        elif tuple(found[name].shape) != shape:
            problems.append(f"{name} has shape {tuple(found[name].shape)}, not {shape}")
        elif not np.isfinite(found[name]).all():
            problems.append(f"{name} holds NaN or infinite values")
    if problems:
        raise ModelFileError(f"{folder}: the encoder's weights do not match its config: {'; '.join(problems[:5])}"
                             + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
