"""The family of TensorFlow models that embed fixed-length examples (patches) of a padded clip,
run in batches of examples (VGGish, YAMNet): what they share, declared once.

A member declares its ``hop_seconds`` and ``batch_size`` settings (their defaults differ), the
size of an example's output, and its front-end: how many examples a clip gives
(:meth:`PatchEmbedder.count`), the examples themselves (:meth:`PatchEmbedder.front_end`) and
the example of silence; see :mod:`.vggish` and :mod:`.yamnet`.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from ..exceptions import ParameterError
from .base import Embedder, ModelFiles, sequence_shape
from .outputs import SEQUENCE, OutputKind


@dataclasses.dataclass(frozen=True)
class PatchEmbedder(Embedder):
    """An embedder of the examples of a padded clip, one output row per example.

    Class attributes:
        example_size: The width of an example's output (128 for VGGish, 1024 for YAMNet).
        examples_are: How messages call its examples ("VGGish examples", "YAMNet patches").
    """

    example_size: ClassVar[int]
    examples_are: ClassVar[str]

    def clip_kind(self) -> OutputKind:
        return SEQUENCE

    @property
    def batch_examples(self) -> int:
        return self.batch_size

    def clip_shape(self, *, examples: int | None, files: ModelFiles) -> tuple[int, ...]:
        return sequence_shape(self, examples, self.example_size)

    def num_examples(self, num_samples: int, *, sample_rate_hz: int | None = None) -> int:
        return self.count(num_samples)

    def examples(self, signal: np.ndarray, *, sample_rate_hz: int, sound: tuple[int, int] | None = None) -> np.ndarray:
        if sample_rate_hz != self.sample_rate_hz:
            raise ParameterError(f"{self.examples_are} are made at {self.sample_rate_hz} Hz, not {sample_rate_hz} Hz")
        return self.front_end(signal, sound=sound)

    def count(self, num_samples: int) -> int:
        """The examples of a clip of ``num_samples`` samples at the model's rate."""
        raise NotImplementedError

    def front_end(self, signal: np.ndarray, *, sound: tuple[int, int] | None) -> np.ndarray:
        """The examples of a clip at the model's rate (``sound``: see :meth:`Embedder.examples`)."""
        raise NotImplementedError
