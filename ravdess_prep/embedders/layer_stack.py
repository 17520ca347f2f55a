"""The family of PyTorch encoders whose rows are stacks of hidden states (Whisper, and the
self-supervised encoders of Transformers): the settings they share, declared once, and what
follows from them (the kind of a row, which layers, the precision the machine can run).

A member adds its own settings and its model: see :mod:`.whisper` and :mod:`.hf`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from pathlib import Path
from typing import ClassVar

from ..exceptions import ParameterError, option
from ..settings import BATCH, LAYER_LIST, setting
from .base import EMBEDDER_GROUP, Embedder, check_files_type, check_positive
from .hub import local_or_hub
from .outputs import LAYER_SEQUENCES, LAYERS, POOLS, OutputKind
from .precision import PRECISIONS, check_precision, require_native


@dataclasses.dataclass(frozen=True)
class LayerStackEmbedder(Embedder):
    """An encoder whose rows are its hidden states, per layer.

    Attributes:
        pool: ``mean`` (default) or ``mean-std`` over the clip's frames; ``none`` keeps the
            frames of the centre-padded clip.
        layers: Which hidden states (None: all).
        batch_size: Clips per run of the model, or ``"auto"`` (the default): as many as fit
            :data:`AUTO_MEMORY_BYTES` of activations at the build's longest clip, at most
            :data:`AUTO_MOST_CLIPS` (see :meth:`resolved`; the number chosen is what the
            manifest records). A clip's result does not depend on its batch-mates; the size is
            part of the settings because float32 results can differ in the last bits between
            batch shapes.
        precision: ``fp32`` or ``bf16`` (the weights cast once; rows still float32).
    """

    pool: str = setting("mean", flags="--pool", choices=POOLS, group=EMBEDDER_GROUP,
                        help="none: every example (frame) kept; mean or mean-std: one vector per clip (per layer)")
    layers: tuple[int, ...] | None = setting(None, flags="--layers", kind=LAYER_LIST, none_word="all",
                                             group=EMBEDDER_GROUP,
                                             help="whisper, hf: which hidden states, all (default), K or K1,K2,...")
    batch_size: int | str = setting("auto", flags="--batch-size", kind=BATCH, group=EMBEDDER_GROUP,
                                    help="examples (or clips) per model run (default: the embedder's; vggish, yamnet "
                                    "128; whisper, hf auto: as many clips as 1 GiB of activations allows, at most 8 "
                                    "on a CPU, 64 on a GPU)")
    precision: str = setting("fp32", flags="--precision", choices=PRECISIONS, group=EMBEDDER_GROUP,
                             help="whisper, hf: fp32 (default) or bf16: the weights cast to bfloat16 once, several "
                             "times faster where the processor has AMX (or on a GPU), rows still float32")

    batching: ClassVar[str] = "clips"
    pools_frames: ClassVar[bool] = True
    #: A Hub id of the family, for the message when no model is named; what a model is called.
    model_example: ClassVar[str] = ""
    model_what: ClassVar[str] = "model"

    def __post_init__(self):
        if self.batch_size != "auto":
            check_positive("batch_size", self.batch_size)
        check_layers(self.layers)
        check_precision(self.precision)

    @property
    def batch_examples(self) -> int:
        """Clips per run (:meth:`resolved` first makes ``auto`` a number)."""
        if self.batch_size == "auto":
            raise ParameterError(f"{option('batch_size', 'auto')} is chosen once the model's files and the longest "
                                 "clip are known (resolved)")
        return self.batch_size

    def resolved(self, files, *, longest_samples: int) -> "LayerStackEmbedder":
        """A copy whose ``batch_size`` is a number: ``auto`` becomes the most clips whose
        activations at ``longest_samples`` (at the model's rate) fit :data:`AUTO_MEMORY_BYTES`,
        at least 1 and at most :data:`AUTO_MOST_CLIPS` for the device (1 where the model can
        batch only clips of equal length)."""
        if self.batch_size != "auto":
            return self
        per_clip = self.clip_activation_bytes(files, samples=longest_samples)
        most = AUTO_MOST_CLIPS["cuda" if torch_device() == "cuda" else "cpu"]
        chosen = 1 if per_clip is None else max(1, min(most, AUTO_MEMORY_BYTES // max(per_clip, 1)))
        return dataclasses.replace(self, batch_size=int(chosen))

    def clip_activation_bytes(self, files, *, samples: int) -> int | None:
        """The bytes of activations one clip of ``samples`` samples holds at once in a run
        (None: the model batches only clips of equal length)."""
        raise NotImplementedError

    def clip_kind(self) -> OutputKind:
        return LAYERS if self.pool != "none" else LAYER_SEQUENCES

    def model_uses_every_core(self) -> bool:
        """True on a CPU: PyTorch runs each operation on a thread per core."""
        return torch_device() == "cpu"

    def check_machine(self) -> None:
        """``bf16`` needs native bfloat16 here (:func:`ravdess_prep.embedders.precision.require_native`)."""
        require_native(self.precision, device=torch_device())

    def model_folder(self, files, *, cache_dir: str | os.PathLike | None, progress: bool) -> Path:
        """The folder ``files.model`` names: a local folder, or a Hub id fetched once into
        ``cache_dir`` (see :mod:`ravdess_prep.embedders.hub`).

        Raises:
            ParameterError: Files of another embedder, or no model named.
        """
        check_files_type(self, files)
        if files is None or files.model is None:
            raise ParameterError(f"the {self.name} embedder needs a model: {option('model')} DIR or a Hub id such as "
                                 f"{self.model_example}")
        return local_or_hub(files.model, cache_dir=cache_dir, endpoint=files.endpoint, revision=files.revision,
                            progress=progress, what=self.model_what)

    def relocated(self, files, roles) -> dict[str, Path]:
        """Where a dataset's files are now, when its model folder moved to ``files.model``."""
        return {role: Path(files.model) / role for role in roles}


#: The activations a batch of ``auto`` size may hold, in bytes.
AUTO_MEMORY_BYTES = 1 << 30
#: The most clips an ``auto`` batch takes, per device: on a CPU, bigger batches of Whisper-base
#: and WavLM-base gained nothing more (``benchmarks/encoder_batches.py``).
AUTO_MOST_CLIPS = {"cpu": 8, "cuda": 64}


def transformer_bytes(*, frames: int, width: int, states: int, heads: int, inner: int) -> int:
    """float32 bytes one input of ``frames`` positions holds at once in a Transformer encoder
    that keeps ``states`` hidden states of ``width``: the states, one layer's attention
    scores (``heads`` x frames x frames) and its feed-forward activations (``inner``)."""
    return 4 * frames * (states * width + heads * frames + inner)


def resolve_layers(layers: tuple[int, ...] | None, count: int) -> list[int]:
    """The hidden states kept of a model with ``count`` of them (None: all).

    Raises:
        ParameterError: A layer the model does not have.
    """
    if layers is None:
        return list(range(count))
    beyond = [layer for layer in layers if not 0 <= layer < count]
    if beyond:
        raise ParameterError(f"{option('layers', list(layers))}: the model has hidden states 0 to {count - 1}, not "
                             f"{', '.join(map(str, beyond))}")
    return list(layers)


def check_layers(layers) -> None:
    """Raise :class:`ParameterError` unless ``layers`` is None or distinct non-negative numbers."""
    if layers is None:
        return
    if not isinstance(layers, tuple) or not layers or any(isinstance(layer, bool) or not isinstance(layer, int)
                                                           or layer < 0 for layer in layers) \
            or len(set(layers)) != len(layers):
        raise ParameterError(f"{option('layers')} has to be all, or distinct layer numbers from 0, not {layers!r}")


def torch_device() -> str:
    """``"cuda"`` where PyTorch is installed and sees a GPU, else ``"cpu"``."""
    if importlib.util.find_spec("torch") is None:
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
