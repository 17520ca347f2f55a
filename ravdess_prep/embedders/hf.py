"""Self-supervised speech encoders of Transformers behind the embedder interface: wav2vec 2.0
(and XLS-R), HuBERT, WavLM, data2vec-audio and wav2vec 2.0-Conformer, chosen by the folder's
``config.json``; every layer's hidden states pooled over the clip's frames.

The clip is trimmed like every clip and resampled to 16 kHz by the pipeline; the model's own
feature extractor (``preprocessor_config.json``) prepares it exactly as for the model (zero
mean and unit variance per clip when it says ``do_normalize``), and
``model(..., output_hidden_states=True)`` runs on it. Hidden states are numbered as
Transformers returns them (0: the input of the first block; the last: the output of the last),
pooled over the clip's frames in float64 (``mean``, ``mean-std``), or kept for the
centre-padded clip (``none``).

Batches: a layer-normalised wav2vec 2.0, HuBERT or WavLM whose feature extractor returns an
attention mask runs clips padded to a multiple of :data:`BUCKET_SAMPLES` with the mask (the
build hands it clips of one padded length together); the others run only clips of equal length
together, so ``batch_size`` ``auto`` is 1 for them: those without a mask (wav2vec 2.0 base,
HuBERT base), the group-normalised ones with one (WavLM base-plus), whose first normalisation
would take in the padding, and data2vec-audio and the Conformer, whose convolutions over
frames would read it. Every run sees exactly
``batch_size`` inputs (zeros fill a last one), so a clip's result does not depend on its
batch-mates. A clip longer than ``max_seconds`` is an error naming it, or, with
``window_seconds``, runs in consecutive windows of that length whose frames are pooled
together.

PyTorch and Transformers are the optional extra ``ssl`` (``pip install -e ".[ssl]"``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..exceptions import ClipTooLongError, ModelFileError, ParameterError, option
from ..settings import NUMBER, TEXT, setting
from .base import EMBEDDER_GROUP, ModelFiles
from .cpu_kernels import on_cpu_kernels
from .hf_folder import MODEL_TYPES, SAMPLE_RATE_HZ, pads_exactly, read_extractor_config, read_model_config, weight_names
from .layer_stack import LayerStackEmbedder, resolve_layers, torch_device, transformer_bytes
from .outputs import pool_examples
from .strict_loading import check_weight_files, load_strictly

#: Clip inputs of a masked batch are padded to a multiple of this many samples.
BUCKET_SAMPLES = 8000
#: The standard feature encoder of these models: one frame per 20 ms.
CONV_KERNELS = (10, 3, 3, 3, 3, 2, 2)
CONV_STRIDES = (5, 2, 2, 2, 2, 2, 2)
LAYER_MEANING = ("0: the input of the first block (after the feature encoder and the positional convolution); K: "
                 "the output of block K (Transformers' hidden_states)")


@dataclasses.dataclass(frozen=True)
class HFFiles:
    """Where the model is.

    Attributes:
        model: A Transformers folder (``save_pretrained``), or a Hub id
            (``microsoft/wavlm-base-plus``) fetched once into the cache.
        endpoint: The Hub's address (None: ``$HF_ENDPOINT``, else huggingface.co).
        revision: The Hub revision.
    """

    model: str | os.PathLike | None = setting(
        None, flags="--hf-model", kind=TEXT, group="the embedder's files",
        help="hf: a Transformers folder of a wav2vec 2.0, HuBERT, WavLM or data2vec-audio model, or a Hub id "
        "(microsoft/wavlm-base-plus) fetched once into the cache")
    endpoint: str | None = None
    revision: str = "main"


def frames_of(num_samples: int, kernels=CONV_KERNELS, strides=CONV_STRIDES) -> int:
    """Frames of the feature encoder for ``num_samples`` samples (each convolution without
    padding)."""
    frames = int(num_samples)
    for kernel, stride in zip(kernels, strides):
        frames = max(0, (frames - kernel) // stride + 1)
    return frames


def receptive_field(kernels=CONV_KERNELS, strides=CONV_STRIDES) -> int:
    """The fewest samples that give the feature encoder a frame (400, 25 ms, for the standard
    one): the smallest ``n`` with ``frames_of(n) == 1``."""
    return kernels[0] + sum((kernel - 1) * math.prod(strides[:index]) for index, kernel in enumerate(kernels) if index)


@dataclasses.dataclass(frozen=True)
class HFEmbedder(LayerStackEmbedder):
    """A self-supervised speech encoder of Transformers, every layer's hidden states (``pool``,
    ``layers``, ``batch_size`` and ``precision``: see :class:`LayerStackEmbedder`; batches: the
    module docstring).

    Attributes:
        max_seconds: A longer clip is an error naming it, unless ``window_seconds`` is set.
        window_seconds: Run longer clips in consecutive windows of this length (None: off).
    """

    max_seconds: float = setting(30.0, flags="--hf-max-seconds", kind=NUMBER, group=EMBEDDER_GROUP,
                                 help="hf: a clip longer than this is an error (default 30), unless --hf-window")
    window_seconds: float | None = setting(None, flags="--hf-window", kind=NUMBER, group=EMBEDDER_GROUP,
                                           help="hf: run clips longer than --hf-max-seconds in windows of SECONDS")

    name: ClassVar[str] = "hf"
    files_type: ClassVar[type] = HFFiles
    model_example: ClassVar[str] = "microsoft/wavlm-base-plus"
    sample_rate_hz: ClassVar[int] = SAMPLE_RATE_HZ
    output: ClassVar[str] = "a Transformers speech encoder's hidden states (float32), per layer"
    license: ClassVar[str] = "the model's own (see its card on the Hub: MIT for WavLM, Apache-2.0 for wav2vec 2.0 and HuBERT)"
    citation: ClassVar[str] = ("the model's paper; e.g. Chen S et al. (2022) WavLM. IEEE JSTSP 16(6); Hsu W-N et al. "
                               "(2021) HuBERT. IEEE/ACM TASLP 29; Baevski A et al. (2020) wav2vec 2.0. NeurIPS 2020")

    def __post_init__(self):
        super().__post_init__()
        for name in ("max_seconds", "window_seconds"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not 0 < value < float("inf")):
                raise ParameterError(f"{option(name)} has to be a positive, finite number of seconds, not {value!r}")
        # windows of equal length are at least half the setting long: each has to give a frame
        shortest = 2 * receptive_field()
        if self.window_seconds is not None and int(self.window_seconds * SAMPLE_RATE_HZ) < shortest:
            raise ParameterError(f"{option('window_seconds', self.window_seconds)} is too short: a clip cut into "
                                 f"windows of it could give the model no frame (at least {shortest / SAMPLE_RATE_HZ:g} "
                                 f"s, {shortest} samples)")

    def clip_activation_bytes(self, files: ModelFiles, *, samples: int) -> int | None:
        """Besides the Transformer's, the feature encoder's first two convolutions' outputs;
        None for a model that cannot pad (see the module docstring)."""
        folder = model_folder(files)
        config = read_model_config(folder)
        if not pads_exactly(config, masked=bool(read_extractor_config(folder).get("return_attention_mask", False))):
            return None
        if self.window_seconds:
            samples = min(samples, int(self.window_seconds * SAMPLE_RATE_HZ))
        samples = -(-samples // BUCKET_SAMPLES) * BUCKET_SAMPLES
        channels = max(config.get("conv_dim", (512,)))
        convolution = 4 * 2 * channels * (samples // CONV_STRIDES[0])
        return convolution + transformer_bytes(frames=frames_of(samples), width=config["hidden_size"],
                                               states=config["num_hidden_layers"] + 1,
                                               heads=config["num_attention_heads"], inner=config["intermediate_size"])

    def model_config(self, files: ModelFiles) -> dict:
        return read_model_config(model_folder(files))

    def chosen_layers(self, files: ModelFiles) -> list[int]:
        return resolve_layers(self.layers, int(self.model_config(files)["num_hidden_layers"]) + 1)

    def clip_shape(self, *, examples: int | None, files: ModelFiles) -> tuple[int, ...]:
        config = self.model_config(files)
        width, layers = int(config["hidden_size"]), len(self.chosen_layers(files))
        if self.pool == "none":
            if (tuple(config.get("conv_kernel", CONV_KERNELS)), tuple(config.get("conv_stride", CONV_STRIDES))) != (
                    CONV_KERNELS, CONV_STRIDES):
                raise ParameterError(f"{option('pool', 'none')} needs the standard feature encoder (kernels "
                                     f"{CONV_KERNELS}, strides {CONV_STRIDES}); this model's differs")
            return (layers, int(examples), width)
        return (layers, width * (2 if self.pool == "mean-std" else 1))

    def output_facts(self, files: ModelFiles) -> dict:
        config = self.model_config(files)
        return {"layers": self.chosen_layers(files), "layer_meaning": LAYER_MEANING,
                "model": {"model_type": config["model_type"], "hidden_size": config["hidden_size"],
                          "num_hidden_layers": config["num_hidden_layers"]}}

    def num_examples(self, num_samples: int, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> int:
        return frames_of(num_samples)

    def examples(self, signal: np.ndarray, *, sample_rate_hz: int, sound: tuple[int, int] | None = None) -> np.ndarray:
        """The clip at 16 kHz itself (the model's feature extractor runs with the model)."""
        if sample_rate_hz != SAMPLE_RATE_HZ:
            raise ParameterError(f"the hf embedder reads {SAMPLE_RATE_HZ} Hz, not {sample_rate_hz} Hz")
        seconds = signal.shape[0] / SAMPLE_RATE_HZ
        if seconds > self.max_seconds and self.window_seconds is None:
            raise ClipTooLongError(f"{seconds:.2f} s is longer than {option('max_seconds', self.max_seconds)} (run it "
                                   f"in windows with {option('window_seconds', 30)})")
        return np.asarray(signal, np.float32)

    def describe(self) -> dict:
        found = {}
        for package in ("torch", "transformers"):
            try:
                found[package] = version(package)
            except PackageNotFoundError:
                found[package] = None
        return {"framework": "pytorch", **found, "device": _device()}

    def model_files(self, files: HFFiles | None = None, *, cache_dir: str | os.PathLike | None = None,
                    progress: bool = True) -> ModelFiles:
        """Every file the model reads (config, feature extractor, weights), each with its
        SHA-256; a Hub id is fetched once into ``cache_dir``.

        Raises:
            ParameterError: No model named, or a Whisper model (use the whisper embedder).
            ModelFileError: Not a folder of a supported model; the message names what is wrong.
        """
        folder = self.model_folder(files, cache_dir=cache_dir, progress=progress)
        read_model_config(folder)
        read_extractor_config(folder)
        names = ["config.json", "preprocessor_config.json"] + weight_names(folder)
        missing = [name for name in names if not (folder / name).is_file()]
        if missing:
            raise ModelFileError(f"{folder / missing[0]}: no such file (a shard the index lists)")
        check_weight_files([folder / name for name in names[2:]])
        return ModelFiles.in_folder(folder, names)

    def load(self, files: ModelFiles) -> "HFModel":
        return HFModel(model_folder(files), embedder=self, layers=self.chosen_layers(files))


def windows(signal: np.ndarray, step: int | None) -> list[np.ndarray]:
    """``signal`` cut into the fewest windows of equal length (within a sample) of at most
    ``step`` samples (None: whole)."""
    if step is None or signal.size <= step:
        return [signal]
    count = -(-signal.size // step)
    bounds = [signal.size * index // count for index in range(count + 1)]
    return [signal[start:stop] for start, stop in zip(bounds, bounds[1:])]


def model_folder(files: ModelFiles) -> Path:
    return files["config.json"].path.parent


class HFModel:
    """The model, its feature extractor, and the pooling of a clip's hidden states."""

    def __init__(self, folder: Path, *, embedder: HFEmbedder, layers: list[int]):
        import torch
        import transformers

        self.torch = torch
        self.embedder, self.layers = embedder, layers
        config = read_model_config(folder)
        self.device = torch.device(_device())
        try:
            self.extractor = transformers.AutoFeatureExtractor.from_pretrained(folder, local_files_only=True)
        except Exception as error:  # whatever Transformers raises: the file is at fault
            raise ModelFileError(f"{folder / 'preprocessor_config.json'}: the feature extractor cannot be loaded "
                                 f"({type(error).__name__}: {' '.join(str(error).split())[:300]})") from None
        model_class = getattr(transformers, MODEL_TYPES[config["model_type"]])
        weights = weight_names(folder)[0]
        self.model = load_strictly(model_class, folder, weights=weights).to(self.device).eval()
        self.dtype = torch.bfloat16 if embedder.precision == "bf16" else torch.float32
        self.model = on_cpu_kernels(self.model, precision=embedder.precision, device=self.device.type)
        self.masked = bool(getattr(self.extractor, "return_attention_mask", False))
        self.padded_together = pads_exactly(config, masked=self.masked)

    def embed(self, batch: list[np.ndarray]) -> list[np.ndarray]:
        """Each clip's chosen hidden states over its frames, ``(layers, frames, D)``."""
        window = self.embedder.window_seconds
        step = int(window * SAMPLE_RATE_HZ) if window else None
        pieces = [windows(clip, step) for clip in batch]
        flat = [piece for clip in pieces for piece in clip]
        states = self._states(flat)
        results, first = [], 0
        for clip in pieces:
            results.append(np.concatenate(states[first : first + len(clip)], axis=1))
            first += len(clip)
        return results

    def batch_key(self, clip: np.ndarray) -> int | None:
        """The padded length a clip runs at (clips of one run together); None for a clip cut
        into windows (its windows are grouped when run)."""
        return None if self.embedder.window_seconds else self.padded_samples(clip.size)

    def padded_samples(self, samples: int) -> int:
        """The samples an input of ``samples`` runs at: the next multiple of
        :data:`BUCKET_SAMPLES` for a model that masks padding (``batch_size`` above 1), else
        its own."""
        if self.padded_together and self.embedder.batch_size > 1:
            return -(-samples // BUCKET_SAMPLES) * BUCKET_SAMPLES
        return samples

    def _states(self, signals: list[np.ndarray]) -> list[np.ndarray]:
        """Hidden states of each signal, run in fixed-shape batches (see the module docstring)."""
        size = self.embedder.batch_size
        groups: dict[int, list[int]] = {}
        for index, signal in enumerate(signals):
            groups.setdefault(self.padded_samples(signal.size), []).append(index)
        results: list[np.ndarray | None] = [None] * len(signals)
        for length, members in groups.items():
            for first in range(0, len(members), size):
                batch = members[first : first + size]
                for index, states in zip(batch, self._run([signals[index] for index in batch], length, size)):
                    results[index] = states
        return results

    def _run(self, signals: list[np.ndarray], length: int, size: int) -> list[np.ndarray]:
        torch = self.torch
        prepared = [self.extractor(signal, sampling_rate=SAMPLE_RATE_HZ, return_tensors="np").input_values[0]
                    for signal in signals]
        values = np.zeros((size, length), np.float32)
        mask = np.ones((size, length), np.int64)  # fillers: all valid, so that nothing is empty
        for row, signal in enumerate(prepared):
            values[row, : signal.size] = signal
            mask[row, signal.size :] = 0
        inputs = {"input_values": torch.from_numpy(values).to(self.device, self.dtype)}
        if self.masked:
            inputs["attention_mask"] = torch.from_numpy(mask).to(self.device)
        with torch.inference_mode():
            states = self.model(**inputs, output_hidden_states=True).hidden_states
            frames = self.model._get_feat_extract_output_lengths(torch.tensor([signal.size for signal in prepared]))
            first = states[self.layers[0]]  # the kept states written once, as float32
            stacked = torch.empty((first.shape[0], len(self.layers), *first.shape[1:]), dtype=torch.float32,
                                  device=first.device)
            for index, layer in enumerate(self.layers):
                stacked[:, index] = states[layer]
            stacked = stacked.cpu().numpy()
        return [stacked[row, :, : int(frames[row])] for row in range(len(prepared))]

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        """``(layers, frames, D)`` pooled over frames in float64, as float32."""
        return pool_examples(raw, pool=self.embedder.pool, axis=1)

    def close(self) -> None:
        self.model = None


def _device() -> str:
    return torch_device()
