"""Whisper's encoder behind the embedder interface: the :mod:`whisper_encoder` package, its folder (local,
or fetched from the Hub), every layer's hidden states pooled over the clip's frames.

The clip is trimmed like every clip and resampled to 16 kHz by the pipeline. With ``pool``
``mean`` (the default) or ``mean-std`` it is not padded (silence would dilute the pooled
vectors): its log-mel frames run through the encoder, and each chosen layer's hidden states
are pooled over the clip's own encoder frames, ``(layers, D)`` or ``(layers, 2D)`` per clip,
computed in float64 and stored as float32. With ``pool`` ``none`` the centre-padded clip's
frames are kept, ``(layers, frames, D)``. Layer 0 is the input of the first block, layer K the
output of block K, the last after the final LayerNorm, as Transformers' ``hidden_states``
count them.

``input`` ``clip`` (the default) runs only the clip's frames, the positional table cut to them;
``30s`` runs the published input (the clip padded with zeros to 30 s, 3000 frames) and keeps
the clip's frames afterwards (``num_samples // 160`` log-mel frames, halved rounding up).

PyTorch is the optional extra ``whisper`` (``pip install -e ".[whisper]"``).
"""

from __future__ import annotations

import dataclasses
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import ClassVar

import numpy as np

import whisper_encoder
from whisper_encoder import params as whisper_params

from ..exceptions import ClipTooLongError, ModelFileError, ParameterError, RavdessPrepError, option
from ..settings import TEXT, setting
from .base import EMBEDDER_GROUP, ModelFiles
from .layer_stack import LayerStackEmbedder, resolve_layers, torch_device, transformer_bytes
from .outputs import pool_examples

#: What a layer number means, for the manifest and the data card.
LAYER_MEANING = ("0: the input of the first block (convolutions and positions); K: the output of block K; the last: "
                 "after the final LayerNorm (Transformers' hidden_states)")


@dataclasses.dataclass(frozen=True)
class WhisperFiles:
    """Where the Whisper model is.

    Attributes:
        model: A Transformers Whisper folder, or a Hub id (``openai/whisper-base``) fetched once
            into the cache.
        endpoint: The Hub's address (None: ``$HF_ENDPOINT``, else huggingface.co).
        revision: The Hub revision.
    """

    model: str | os.PathLike | None = setting(
        None, flags="--whisper-model", kind=TEXT, group="the embedder's files",
        help="whisper: a Transformers Whisper folder, or a Hub id (openai/whisper-base) fetched once into the cache")
    endpoint: str | None = None
    revision: str = "main"


@dataclasses.dataclass(frozen=True)
class WhisperInput:
    """A clip's model input: its log-mel frames, and how many encoder frames are the clip's."""

    mel: np.ndarray
    frames: int


@dataclasses.dataclass(frozen=True)
class WhisperEmbedder(LayerStackEmbedder):
    """Whisper's encoder (Radford et al. 2023), every layer's hidden states.

    Attributes:
        pool: ``mean`` (default) or ``mean-std`` over the clip's frames; ``none`` keeps the
            frames of the centre-padded clip.
        input: ``clip`` (the clip's frames alone) or ``30s`` (the published padded input).
        layers: Which hidden states (None: all, 0 .. encoder layers).
        batch_size: Clips per run of the encoder, or ``auto`` (see
            :class:`~ravdess_prep.embedders.layer_stack.LayerStackEmbedder`).
    """

    input: str = setting("clip", flags="--whisper-input", choices=whisper_params.INPUTS, group=EMBEDDER_GROUP,
                         help="whisper: clip (the clip's frames, default) or 30s (the published padded input)")

    name: ClassVar[str] = "whisper"
    files_type: ClassVar[type] = WhisperFiles
    model_example: ClassVar[str] = "openai/whisper-base"
    model_what: ClassVar[str] = "Whisper model"
    sample_rate_hz: ClassVar[int] = whisper_params.SAMPLE_RATE_HZ
    output: ClassVar[str] = "Whisper encoder hidden states (float32), per layer"
    license: ClassVar[str] = "MIT (OpenAI Whisper weights, Copyright (c) 2022 OpenAI)"
    citation: ClassVar[str] = ("Radford A et al. (2023) Robust Speech Recognition via Large-Scale Weak Supervision. "
                               "ICML 2023. https://arxiv.org/abs/2212.04356")

    def __post_init__(self):
        if self.input not in whisper_params.INPUTS:
            raise ParameterError(f"{option('input')} has to be one of {', '.join(map(repr, whisper_params.INPUTS))}, "
                                 f"not {self.input!r}")
        super().__post_init__()

    def clip_activation_bytes(self, files: ModelFiles, *, samples: int) -> int:
        config = whisper_encoder.read_config(model_folder(files))
        mel = whisper_params.CHUNK_FRAMES if self.input == "30s" else whisper_encoder.num_frames(samples)
        padded = min(-(-mel // whisper_params.BUCKET_FRAMES) * whisper_params.BUCKET_FRAMES, whisper_params.CHUNK_FRAMES)
        return transformer_bytes(frames=whisper_encoder.encoder_frames(padded), width=config.d_model,
                                 states=config.hidden_states, heads=config.heads, inner=config.ffn_dim)

    def chosen_layers(self, files: ModelFiles) -> list[int]:
        """The hidden states kept, checked against the model's depth."""
        return resolve_layers(self.layers, whisper_encoder.read_config(model_folder(files)).hidden_states)

    def clip_shape(self, *, examples: int | None, files: ModelFiles) -> tuple[int, ...]:
        config = whisper_encoder.read_config(model_folder(files))
        layers = len(self.chosen_layers(files))
        if self.pool == "none":
            return (layers, int(examples), config.d_model)
        return (layers, config.d_model * (2 if self.pool == "mean-std" else 1))

    def output_facts(self, files: ModelFiles) -> dict:
        config = whisper_encoder.read_config(model_folder(files))
        return {"layers": self.chosen_layers(files), "layer_meaning": LAYER_MEANING,
                "model": dataclasses.asdict(config)}

    def num_examples(self, num_samples: int, *, sample_rate_hz: int = whisper_params.SAMPLE_RATE_HZ) -> int:
        return whisper_encoder.encoder_frames(whisper_encoder.num_frames(num_samples))

    def examples(self, signal: np.ndarray, *, sample_rate_hz: int, sound: tuple[int, int] | None = None) -> WhisperInput:
        """The clip's log-mel frames (:func:`whisper_encoder.log_mel`) and its encoder frames."""
        if sample_rate_hz != self.sample_rate_hz:
            raise ParameterError(f"Whisper's frames are made at {self.sample_rate_hz} Hz, not {sample_rate_hz} Hz")
        try:
            mel = whisper_encoder.log_mel(signal, input=self.input, num_mel_bins=getattr(self, "_mel_bins", 80))
        except whisper_encoder.InputError as error:
            if signal.shape[0] > whisper_params.CHUNK_SAMPLES:
                raise ClipTooLongError(f"{error} (to cut longer clips, give {option('target_length_samples')} of at "
                                       f"most {whisper_params.CHUNK_SECONDS} s at the source's rate and "
                                       f"{option('on_too_long', 'crop')})") from None
            raise ParameterError(str(error)) from None
        return WhisperInput(mel, self.num_examples(signal.shape[0]))

    def describe(self) -> dict:
        try:
            torch = version("torch")
        except PackageNotFoundError:
            torch = None
        return {"framework": "pytorch", "torch": torch, "device": _device()}

    def model_files(self, files: WhisperFiles | None = None, *, cache_dir: str | os.PathLike | None = None,
                    progress: bool = True) -> ModelFiles:
        """Every file of the folder the encoder reads (``config.json``, the weights), each with
        its SHA-256; a Hub id is fetched once into ``cache_dir`` (see :mod:`ravdess_prep.embedders.hub`).

        Raises:
            ParameterError: No model named.
            ModelFileError: Not a Whisper folder (what is missing is named).
            DownloadError, ChecksumError: Fetching from the Hub failed.
        """
        folder = self.model_folder(files, cache_dir=cache_dir, progress=progress)
        try:
            whisper_encoder.read_config(folder)
            names = [whisper_params.CONFIG_FILE] + [path.name for path in whisper_encoder.weight_files(folder)]
        except whisper_encoder.ModelFileError as error:
            raise ModelFileError(str(error)) from None
        index = folder / whisper_params.WEIGHTS_INDEX_FILE
        names += [index.name] if index.is_file() else []
        return ModelFiles.in_folder(folder, names)

    def for_files(self, files: ModelFiles) -> "WhisperEmbedder":
        """A copy whose front-end makes the model's mel bins (80; 128 for large-v3)."""
        bound = dataclasses.replace(self)
        object.__setattr__(bound, "_mel_bins", whisper_encoder.read_config(model_folder(files)).num_mel_bins)
        return bound

    def load(self, files: ModelFiles) -> "WhisperModel":
        return WhisperModel(model_folder(files), embedder=self, layers=self.chosen_layers(files))


class WhisperModel:
    """The encoder, and the pooling of a clip's hidden states (see :class:`Model`)."""

    def __init__(self, folder: Path, *, embedder: WhisperEmbedder, layers: list[int]):
        try:
            self.encoder = whisper_encoder.WhisperEncoder(folder, batch_size=embedder.batch_size,
                                                  precision=embedder.precision)
        except whisper_encoder.ModelFileError as error:
            raise ModelFileError(str(error)) from None
        self.embedder, self.layers = embedder, layers

    def embed(self, batch: list[WhisperInput]) -> list[np.ndarray]:
        try:
            return self.encoder.hidden_states([clip.mel for clip in batch], input=self.embedder.input,
                                              frames=[clip.frames for clip in batch], layers=self.layers)
        except whisper_encoder.InputError as error:
            raise RavdessPrepError(str(error)) from None

    def batch_key(self, clip: WhisperInput) -> int:
        """The padded length the clip runs at (clips of one run together)."""
        return self.encoder.padded_frames(clip.mel.shape[1], input=self.embedder.input)

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        """``(layers, frames, D)`` pooled over frames in float64, as float32."""
        return pool_examples(raw, pool=self.embedder.pool, axis=1)

    def close(self) -> None:
        self.encoder.close()


def model_folder(files: ModelFiles) -> Path:
    """The folder of a Whisper model's verified files."""
    return files[whisper_params.CONFIG_FILE].path.parent


def _device() -> str:
    return torch_device()
