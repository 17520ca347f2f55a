"""The settings of a build: what it computes (:class:`Config`) and how it runs (:class:`Run`).

Both are frozen and validated on creation. :class:`Config`'s defaults are the original
project's. Stage functions never read it: its adapter methods turn it into their keyword
arguments. The command line builds its choices from the same constants.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Mapping, Sequence

from .audio import CHANNEL_POLICIES
from .corpora import CORPORA, get_corpus
from .embedders import EMBEDDERS, Embedder, VGGishEmbedder, embedder_from_dict
from .exceptions import ParameterError, SplitError
from .pad import TOO_LONG_POLICIES
from .pool import POOLS
from .split import SPLIT_PRESETS, preset_speakers
from .trim import SILENT_POLICIES, TRIM_METHODS, TrimRule

RUNNERS = ("local", "beam")

#: The choices of each setting that has a fixed set, for the command line and error messages.
CHOICES = {
    "corpus": lambda: tuple(CORPORA),
    "embedder": lambda: tuple(EMBEDDERS),
    "trim_method": lambda: TRIM_METHODS,
    "on_silent": lambda: SILENT_POLICIES,
    "on_too_long": lambda: TOO_LONG_POLICIES,
    "channel": lambda: CHANNEL_POLICIES,
    "pool": lambda: POOLS,
    "split_preset": lambda: SPLIT_PRESETS + ("custom",),
    "runner": lambda: RUNNERS,
}

# Settings of the version 1 manifests (one model) that are now the embedder's or renamed.
_V1_EMBEDDER_FIELDS = ("hop_seconds", "fc2_activation", "batch_size")
_V1_RENAMED = {"dev_actors": "dev_speakers", "test_actors": "test_speakers"}


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting that changes what a build computes.

    Attributes:
        corpus: The corpus's name (see :mod:`ravdess_prep.corpora`).
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
        channel: Which channel of a multichannel file: ``"first"`` (the original's) or
            ``"mean"`` (the mean of all).
        embedder: The model and its settings (default: VGGish as the original used it).
        pool: ``"none"``: one embedding per example (the original layout); ``"mean"`` or
            ``"mean-std"``: one vector per clip (see :func:`ravdess_prep.pool.pool_embeddings`).
        split_preset: A named split (:data:`ravdess_prep.split.SPLIT_PRESETS`: ``original``,
            ``folds6``, ``loso``), or ``custom`` for explicit speaker lists. None: ``original``,
            or ``custom`` when speaker lists are given.
        fold: The preset's fold (``folds6``: 1..6; ``loso``: 1..number of speakers).
        dev_speakers: Speakers of the dev split (None: the preset's).
        test_speakers: Speakers of the test split (every other speaker is in train).
        shuffle_seed: None: clips stay in inventory order in each split. An integer: a seeded
            shuffle within each split.
        allow_missing_speakers: A speaker named for dev or test that has no clip in the source
            (and was not left out by the build's own speaker list), or a split left empty, is an
            error naming them; True builds without them.
    """

    corpus: str = "ravdess"
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
    channel: str = "first"
    embedder: Embedder = VGGishEmbedder()
    pool: str = "none"
    split_preset: str | None = None
    fold: int | None = None
    dev_speakers: tuple[int, ...] | None = None
    test_speakers: tuple[int, ...] | None = None
    shuffle_seed: int | None = None
    allow_missing_speakers: bool = False

    #: Fields that only decide how embedded clips are grouped and pooled, not what a clip's
    #: embedding is (they are not part of the cache key).
    SPLIT_FIELDS = ("split_preset", "fold", "dev_speakers", "test_speakers", "shuffle_seed", "pool",
                    "allow_missing_speakers")

    def __post_init__(self):
        self._resolve_split(get_corpus(self.corpus))
        if not isinstance(self.embedder, Embedder):
            raise ParameterError(f"embedder has to be an embedder ({', '.join(EMBEDDERS)}), not {self.embedder!r}")
        if self.shuffle_seed is not None and (isinstance(self.shuffle_seed, bool) or not isinstance(self.shuffle_seed, int)):
            raise ParameterError(f"shuffle_seed has to be None or an integer, not {self.shuffle_seed!r}")
        shared = sorted(set(self.dev_speakers) & set(self.test_speakers))
        if shared:
            raise SplitError(f"speakers {', '.join(f'{a:02d}' for a in shared)} are listed for both dev and test")
        for name in ("trim_method", "on_silent", "on_too_long", "channel", "pool"):
            _one_of(name, getattr(self, name), CHOICES[name]())
        if self.embedder.clip_level and self.pool != "none":
            raise ParameterError(f"the {self.embedder.name} embedder gives one vector per clip: "
                                 f"there is nothing to pool (pool='none', not {self.pool!r})")
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

    def _resolve_split(self, corpus) -> None:
        """Fill the speaker lists from the preset, or name explicit lists ``custom``."""
        _one_of("split_preset", self.split_preset or "original", CHOICES["split_preset"]())
        given = self.dev_speakers is not None or self.test_speakers is not None
        preset = self.split_preset or ("custom" if given else "original")
        if preset == "custom":
            if self.fold is not None:
                raise ParameterError(f"a custom split has no folds (fold {self.fold}, --fold)")
            dev, test = corpus.default_dev_speakers, corpus.default_test_speakers
        else:
            dev, test = preset_speakers(preset, fold=self.fold, speakers=corpus.speakers,
                                        default_dev=corpus.default_dev_speakers,
                                        default_test=corpus.default_test_speakers)
        lists = {}
        for name, value, default in (("dev_speakers", self.dev_speakers, dev), ("test_speakers", self.test_speakers, test)):
            lists[name] = tuple(int(speaker) for speaker in (default if value is None else value))
            if preset != "custom" and lists[name] != tuple(default):
                raise SplitError(f"{name} {list(lists[name])} are not those of the {preset} split "
                                 f"{list(default)} (give speaker lists without a preset for a custom split)")
        object.__setattr__(self, "split_preset", preset)
        for name, value in lists.items():
            object.__setattr__(self, name, value)

    def replace(self, **changes) -> "Config":
        """A copy with some fields changed (validated like a new one)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Every field, JSON-ready (tuples become lists, the embedder a dictionary)."""
        values = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            values[field.name] = (value.to_dict() if isinstance(value, Embedder)
                                  else list(value) if isinstance(value, tuple) else value)
        return values

    @classmethod
    def from_dict(cls, values: Mapping) -> "Config":
        """The inverse of :meth:`to_dict` (also reads the one-model settings of version 1
        manifests); unknown keys are an error naming them."""
        values = dict(values)
        if "embedder" not in values:
            values["embedder"] = {"name": VGGishEmbedder.name,
                                  **{key: values.pop(key) for key in _V1_EMBEDDER_FIELDS if key in values}}
        for old, new in _V1_RENAMED.items():
            if old in values:
                values[new] = values.pop(old)
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ParameterError(f"unknown configuration keys: {', '.join(unknown)}")
        embedder = values["embedder"]
        values["embedder"] = embedder if isinstance(embedder, Embedder) else embedder_from_dict(embedder)
        return cls(**values)

    def embedding_digest(self) -> str:
        """SHA-256 of the fields that decide a clip's embedding (all but :data:`SPLIT_FIELDS`)."""
        fields = {key: value for key, value in self.to_dict().items() if key not in self.SPLIT_FIELDS}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    # --- adapters: the keyword arguments of the stage functions ------------------------

    def trim_rule(self) -> TrimRule:
        """The :class:`~ravdess_prep.trim.TrimRule` of these settings."""
        return TrimRule(method=self.trim_method, window_samples=self.trim_window_samples,
                        threshold=self.trim_threshold, top_db=self.trim_top_db,
                        frame_length_samples=self.trim_frame_length_samples,
                        hop_length_samples=self.trim_hop_length_samples)

    def measure_kwargs(self) -> dict:
        """The keyword arguments of :func:`ravdess_prep.measure.measure` and ``measure_file``."""
        return {"trim_rule": self.trim_rule(), "sample_rate_hz": self.sample_rate_hz, "on_silent": self.on_silent,
                "target_length_samples": self.target_length_samples, "on_too_long": self.on_too_long,
                "channel": self.channel}

    def prepare_kwargs(self) -> dict:
        """The keyword arguments of :func:`ravdess_prep.embed.prepare_clip` and ``embed_clips``
        that come from the settings (how a clip is read and fitted to the target)."""
        return {"embedder": self.embedder, "sample_rate_hz": self.sample_rate_hz, "on_too_long": self.on_too_long,
                "channel": self.channel}

    def target_kwargs(self) -> dict:
        """The keyword arguments of :meth:`ravdess_prep.measure.LengthTally.target`."""
        return {"target_length_samples": self.target_length_samples, "sample_rate_hz": self.sample_rate_hz}

    def split_kwargs(self) -> dict:
        """The keyword arguments of :func:`ravdess_prep.split.assign_splits`."""
        return {"dev_speakers": self.dev_speakers, "test_speakers": self.test_speakers}


@dataclasses.dataclass(frozen=True)
class Run:
    """How a build runs; nothing here changes what it computes.

    Attributes:
        jobs: Worker threads for the per-clip stages (default: every core); with the Beam
            runner, local worker processes.
        cache_dir: The cache root (see :func:`ravdess_prep.cache.cache_root`).
        progress: Show a progress bar per stage.
        runner: ``"local"`` (threads of this process) or ``"beam"`` (Apache Beam).
        beam_options: Beam pipeline options (runner ``"beam"`` only), ``["KEY=VALUE", ...]`` or
            a mapping (see :func:`ravdess_prep.beam.pipeline_options`).
        fast: Skip work whose result is known (resampling the padding, running the example of
            silence more than once); False takes the straightforward path. Same bytes either way.
    """

    jobs: int | None = None
    cache_dir: str | os.PathLike | None = None
    progress: bool = True
    runner: str = "local"
    beam_options: Sequence[str] | Mapping[str, object] = ()
    fast: bool = True

    def __post_init__(self):
        if self.jobs is not None:
            _positive_int("jobs", self.jobs)
        _one_of("runner", self.runner, RUNNERS)
        if self.beam_options and self.runner != "beam":
            raise ParameterError("beam_options are for runner='beam' (--runner beam)")


def _one_of(name, value, allowed):
    if value not in allowed:
        raise ParameterError(f"{name} has to be one of {', '.join(map(repr, allowed))}, not {value!r}")


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name} has to be a positive integer, not {value!r}")
