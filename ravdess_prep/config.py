"""The one configuration object of a build: frozen, validated on creation.

Its defaults are the original project's. Stage functions never read it: the adapter methods
here turn it into their keyword arguments.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from . import params
from .exceptions import ParameterError, SplitError
from .pad import TOO_LONG_POLICIES
from .trim import TRIM_METHODS

SILENT_POLICIES = ("keep", "drop", "error")


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting that changes what a build computes.

    Attributes:
        trim_method: ``"rolling"`` (the original's rule) or ``"energy"`` (librosa, ``top_db``).
        trim_window_samples: Rolling rule: window length in samples.
        trim_threshold: Rolling rule: threshold on the absolute signed window sum.
        trim_top_db: Energy rule: silence threshold below the peak, in dB.
        trim_frame_length_samples: Energy rule: frame length in samples.
        trim_hop_length_samples: Energy rule: hop in samples.
        on_silent: A clip without active sample is kept whole (``"keep"``), dropped
            (``"drop"``), or an error (``"error"``).
        sample_rate_hz: None: every clip must have the same rate. An integer: clips at another
            rate are resampled to it (resampy ``kaiser_best``) before trimming.
        target_length_samples: None: the maximum trimmed length of the collection. An integer:
            that length, fixed.
        on_too_long: A clip longer than a fixed target is an error (``"error"``) or
            center-cropped (``"crop"``).
        hop_seconds: VGGish example hop (0.23 s in the original; 0.96 s is VGGish's default).
        fc2_activation: ``"relu"`` (2019 VGGish, the original's) or None (current VGGish).
        batch_size: Examples per model run. Part of the configuration because it is part of
            what the numbers are: float32 results of one example differ in the last bits
            between batch shapes.
        dev_actors: Actors of the dev split.
        test_actors: Actors of the test split (every other actor is in train).
        shuffle_seed: None: clips stay in inventory order (vocal channel, actor, name) in each
            split. An integer: a seeded shuffle within each split.
    """

    trim_method: str = "rolling"
    trim_window_samples: int = 50
    trim_threshold: float = 0.01
    trim_top_db: float = 60.0
    trim_frame_length_samples: int = 2048
    trim_hop_length_samples: int = 512
    on_silent: str = "keep"
    sample_rate_hz: int | None = None
    target_length_samples: int | None = None
    on_too_long: str = "error"
    hop_seconds: float = 0.23
    fc2_activation: str | None = "relu"
    batch_size: int = 128
    dev_actors: tuple[int, ...] = params.DEV_ACTORS
    test_actors: tuple[int, ...] = params.TEST_ACTORS
    shuffle_seed: int | None = None

    #: Fields that only decide how embedded clips are grouped, not what a clip's embedding is.
    SPLIT_FIELDS = ("dev_actors", "test_actors", "shuffle_seed")

    def __post_init__(self):
        object.__setattr__(self, "dev_actors", tuple(int(actor) for actor in self.dev_actors))
        object.__setattr__(self, "test_actors", tuple(int(actor) for actor in self.test_actors))
        _one_of("fc2_activation", self.fc2_activation, ("relu", None))
        _positive_int("batch_size", self.batch_size)
        if not (isinstance(self.hop_seconds, (int, float)) and self.hop_seconds > 0):
            raise ParameterError(f"hop_seconds has to be a positive number, not {self.hop_seconds!r}")
        if self.shuffle_seed is not None and (isinstance(self.shuffle_seed, bool) or not isinstance(self.shuffle_seed, int)):
            raise ParameterError(f"shuffle_seed has to be None or an integer, not {self.shuffle_seed!r}")
        shared = sorted(set(self.dev_actors) & set(self.test_actors))
        if shared:
            raise SplitError(f"actors {', '.join(f'{a:02d}' for a in shared)} are listed for both dev and test")
        _one_of("trim_method", self.trim_method, TRIM_METHODS)
        _one_of("on_silent", self.on_silent, SILENT_POLICIES)
        _one_of("on_too_long", self.on_too_long, TOO_LONG_POLICIES)
        _positive_int("trim_window_samples", self.trim_window_samples)
        _positive_int("trim_frame_length_samples", self.trim_frame_length_samples)
        _positive_int("trim_hop_length_samples", self.trim_hop_length_samples)
        if self.sample_rate_hz is not None:
            _positive_int("sample_rate_hz", self.sample_rate_hz)
        if self.target_length_samples is not None:
            _positive_int("target_length_samples", self.target_length_samples)
        if not self.trim_threshold >= 0:
            raise ParameterError(f"trim_threshold has to be a non-negative number, not {self.trim_threshold!r}")
        if not self.trim_top_db > 0:
            raise ParameterError(f"trim_top_db has to be a positive number, not {self.trim_top_db!r}")

    def replace(self, **changes) -> "Config":
        """A copy with some fields changed (validated like a new one)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Every field, JSON-ready (tuples become lists)."""
        return {field.name: (list(value) if isinstance(value, tuple) else value)
                for field in dataclasses.fields(self) for value in [getattr(self, field.name)]}

    @classmethod
    def from_dict(cls, values: dict) -> "Config":
        """The inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ParameterError(f"unknown configuration keys: {', '.join(unknown)}")
        return cls(**values)

    def embedding_digest(self) -> str:
        """SHA-256 of the fields that decide a clip's embedding (everything but the split)."""
        fields = {key: value for key, value in self.to_dict().items() if key not in self.SPLIT_FIELDS}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    def working_rate_hz(self, file_rate_hz: int) -> int:
        """The rate a file at ``file_rate_hz`` is trimmed, padded and embedded at: the file's
        own rate, or ``sample_rate_hz`` when that is set (the file is then resampled, unless
        the two are equal)."""
        return self.sample_rate_hz or file_rate_hz

    def trim_kwargs(self) -> dict:
        """The keyword arguments of :func:`ravdess_prep.trim.trim_offsets`."""
        return {
            "method": self.trim_method,
            "window_samples": self.trim_window_samples,
            "threshold": self.trim_threshold,
            "top_db": self.trim_top_db,
            "frame_length_samples": self.trim_frame_length_samples,
            "hop_length_samples": self.trim_hop_length_samples,
        }


def _one_of(name, value, allowed):
    if value not in allowed:
        raise ParameterError(f"{name} has to be one of {', '.join(map(repr, allowed))}, not {value!r}")


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name} has to be a positive integer, not {value!r}")
