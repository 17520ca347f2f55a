"""The settings of a build: what it computes (:class:`Config`). How it runs is
:class:`ravdess_prep.build.executors.Run`'s, which changes nothing it computes.

:class:`Config` is frozen and validated on creation; its defaults are the original project's. Its fields (and those of its embedder) are the one vocabulary of settings: the keys
of :meth:`Config.to_dict`, of a manifest's ``config`` section and of ``--config`` files, each
declared with its command-line flag (:mod:`ravdess_prep.settings`). Stage functions never read
a config: its adapter methods turn it into their keyword arguments.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Mapping

from .audio.io import CHANNEL_POLICIES
from .audio.pad import TOO_LONG_POLICIES
from .audio.trim import SILENT_POLICIES, TRIM_METHODS, TrimRule
from .corpora import (CORPORA, Corpus, database_corpus, folds_help, get_corpus, presets_help, speakers_help,
                      table_corpus)
from .embedders import EMBEDDERS, Embedder, embedder_from_dict
from .embedders.vggish import VGGishEmbedder
from .exceptions import ParameterError, SplitError, option, render
from .settings import INTEGER, NUMBER, POSITIVE, SPEAKERS, SWITCH, setting, settings_of, values_from_file

SOURCE = "the source"
TRIMMING = "trimming and length"
SPLITTING = "the split"
RUNNING = "running"

# Settings of the version 1 manifests (one model) that are now the embedder's or renamed.
_V1_EMBEDDER_FIELDS = ("hop_seconds", "fc2_activation", "batch_size")
_V1_RENAMED = {"dev_actors": "dev_speakers", "test_actors": "test_speakers"}


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting that changes what a build computes.

    Attributes:
        corpus: The corpus's name (see :mod:`ravdess_prep.corpora`).
        trim_method: The trimming rule, ``"rolling"`` (the original's) or ``"energy"``. It and
            the other ``trim_*`` settings are the fields of :class:`ravdess_prep.audio.trim.TrimRule`,
            each prefixed ``trim_`` (:meth:`trim_rule` makes the rule).
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
        embedder: The model and its settings (default: VGGish as the original used it),
            pooling included.
        speakers: Build from these speakers only (None: every speaker of the source). It
            decides the target length, and the split check leaves the others out on purpose.
        split_preset: A named split of the corpus (RAVDESS: ``original``, ``folds6``,
            ``loso``, and the protocols ``emobox``, ``pepino2021``, ``luna2022``, which also
            take only their clips), or ``custom`` for explicit speaker lists. None:
            ``original``, or ``custom`` when speaker lists are given.
        fold: The preset's fold (``folds6``: 1..6; ``loso``: 1..number of speakers).
        dev_speakers: Speakers of the dev split (None: the preset's).
        test_speakers: Speakers of the test split (every other speaker is in train).
        labels, emotion_map, license, citation: For ``corpus="table"``: the labels table, the
            map of its emotions to canonical names, and the license and citation the manifest
            and the data card give (see :mod:`ravdess_prep.corpora.table`); recorded only when
            given. For ``corpus="audformat"``, ``labels`` is the database's folder, and
            ``labels_table`` and ``labels_column`` name the emotion's table and column (see
            :mod:`ravdess_prep.corpora.audformat_db`).
        shuffle_seed: None: clips stay in inventory order in each split. An integer: a seeded
            shuffle within each split.
        allow_missing_speakers: A speaker named for dev or test that has no clip in the source
            (and was not left out with ``speakers``), or a split left empty, is an error naming
            them; True builds without them.
    """

    corpus: str = setting("ravdess", flags="--corpus", choices=lambda: tuple(CORPORA), group=SOURCE,
                          help="the corpus (default ravdess; table: the files a labels table lists, --labels)")
    labels: str | None = setting(None, flags="--labels", group=SOURCE,
                                 help="--corpus table: the labels table, a CSV with file, speaker, emotion and optional "
                                 "gender, text, split, language columns")
    emotion_map: str | None = setting(None, flags="--emotion-map", group=SOURCE,
                                      help="--corpus table: the table's emotions to canonical names (a from,to CSV or a "
                                      "JSON object)")
    labels_table: str | None = setting(None, flags="--labels-table", group=SOURCE,
                                       help="--corpus audformat: the table holding the emotion (default: every table "
                                       "with the labels column)")
    labels_column: str | None = setting(None, flags="--labels-column", group=SOURCE,
                                        help="--corpus audformat: the emotion's column (default emotion)")
    license: str | None = setting(None, flags="--license", group=SOURCE,
                                  help="--corpus table: the corpus's license, for the manifest and the data card")
    citation: str | None = setting(None, flags="--citation", group=SOURCE,
                                   help="--corpus table: how to cite the corpus")
    trim_method: str = setting("rolling", flags="--trim", choices=TRIM_METHODS, group=TRIMMING,
                               help="rolling: the original's window rule (default); energy: librosa top_db")
    trim_window_samples: int = setting(50, flags="--window", kind=POSITIVE, group=TRIMMING,
                                       help="rolling window in samples (default 50)")
    trim_threshold: float = setting(0.01, flags="--threshold", kind=NUMBER, group=TRIMMING,
                                    help="threshold on the absolute signed window sum (default 0.01)")
    trim_top_db: float = setting(60.0, flags="--top-db", kind=NUMBER, group=TRIMMING,
                                 help="energy rule: dB below the peak (default 60)")
    trim_frame_length_samples: int = setting(2048, flags="--frame-length", kind=POSITIVE, group=TRIMMING,
                                             help="energy rule: frame length in samples (default 2048)")
    trim_hop_length_samples: int = setting(512, flags="--frame-hop", kind=POSITIVE, group=TRIMMING,
                                           help="energy rule: frame hop in samples (default 512)")
    on_silent: str = setting("keep", flags="--on-silent", choices=SILENT_POLICIES, group=TRIMMING,
                             help="a clip without active sample: keep it whole (default), drop it, or fail")
    sample_rate_hz: int | None = setting(None, flags="--sample-rate", kind=POSITIVE, group=TRIMMING,
                                         help="resample clips at other rates to this one (default: all rates must "
                                         "match)")
    target_length_samples: int | None = setting(None, flags="--target-length", kind=POSITIVE, group=TRIMMING,
                                                help="fix the target length in samples instead of measuring it")
    on_too_long: str = setting("error", flags="--on-too-long", choices=TOO_LONG_POLICIES, group=TRIMMING,
                               help="a clip longer than a fixed target: fail (default) or center-crop")
    channel: str = setting("first", flags="--channel", choices=CHANNEL_POLICIES, group=TRIMMING,
                           help="a multichannel file's first channel (default, the original's) or the mean of all")
    embedder: Embedder = setting(default_factory=VGGishEmbedder, flags="--embedder", choices=lambda: tuple(EMBEDDERS),
                                 group="the embedder", help="the model (default vggish, the original's)")
    speakers: tuple[int, ...] | None = setting(None, flags=("--actors", "--speakers"), kind=SPEAKERS, group=SPLITTING,
                                               help="build from these speakers only (default: all)")
    split_preset: str | None = setting(None, flags="--split-preset", group=SPLITTING,
                                       help=lambda: "a named split of the corpus (a published protocol also takes "
                                       "only its clips); " + presets_help())
    fold: int | None = setting(None, flags="--fold", kind=INTEGER, group=SPLITTING,
                               help=lambda: "the preset's fold: " + folds_help())
    dev_speakers: tuple[int, ...] | None = setting(None, flags=("--dev-actors", "--dev-speakers"), kind=SPEAKERS,
                                                   group=SPLITTING,
                                                   help=lambda: "comma-separated dev speakers (default: the corpus's; "
                                                   + speakers_help("dev") + ")")
    test_speakers: tuple[int, ...] | None = setting(None, flags=("--test-actors", "--test-speakers"), kind=SPEAKERS,
                                                    group=SPLITTING,
                                                    help=lambda: "comma-separated test speakers (default: the "
                                                    "corpus's; " + speakers_help("test") + ")")
    shuffle_seed: int | None = setting(None, flags="--shuffle-seed", kind=INTEGER, group=SPLITTING,
                                       help="shuffle clips within each split with this seed")
    allow_missing_speakers: bool = setting(False, flags="--allow-missing-speakers", kind=SWITCH, group=SPLITTING,
                                           help="build even when a dev or test speaker has no clip in the source, or "
                                           "a split is empty")

    #: Fields that only decide which clips are built and how they are grouped, not what a
    #: clip's embedding is (they are not part of the cache key; the target length is).
    SPLIT_FIELDS = ("speakers", "split_preset", "fold", "dev_speakers", "test_speakers", "shuffle_seed",
                    "allow_missing_speakers")
    #: Fields that describe a table corpus's source (recorded only when given; not part of the
    #: cache key: the clips' files are).
    TABLE_FIELDS = ("labels", "emotion_map", "labels_table", "labels_column", "license", "citation")

    def __post_init__(self):
        if not isinstance(self.embedder, Embedder):
            raise ParameterError(f"{option('embedder')} has to be an embedder ({', '.join(EMBEDDERS)}), "
                                 f"not {self.embedder!r}")
        self.embedder.check_pool()
        for name in ("speakers", "dev_speakers", "test_speakers"):
            _speaker_tuple(self, name)
        given = [name for name in self.TABLE_FIELDS if getattr(self, name) is not None]
        if self.corpus not in ("table", "audformat") and given:
            raise ParameterError(f"{option(given[0])} describes a table corpus; give it with {option('corpus', 'table')} "
                                 f"(or {option('corpus', 'audformat')})")
        database_only = [name for name in ("labels_table", "labels_column") if name in given]
        if self.corpus == "table" and database_only:
            raise ParameterError(f"{option(database_only[0])} names a table of an audformat database; give it with "
                                 f"{option('corpus', 'audformat')}")
        for name in given:
            if not isinstance(getattr(self, name), str):
                object.__setattr__(self, name, str(getattr(self, name)))
        self._resolve_split()
        if self.shuffle_seed is not None and (isinstance(self.shuffle_seed, bool) or not isinstance(self.shuffle_seed, int)):
            raise ParameterError(f"{option('shuffle_seed')} has to be None or an integer, not {self.shuffle_seed!r}")
        shared = sorted(set(self.dev_speakers) & set(self.test_speakers))
        if shared:
            raise SplitError(f"speakers {', '.join(f'{a:02d}' for a in shared)} are listed for both dev and test")
        for spec in settings_of(Config):
            if spec.name not in ("embedder", "corpus") and spec.choices is not None:
                _one_of(spec.name, getattr(self, spec.name), spec.allowed())
        for name in ("trim_window_samples", "trim_frame_length_samples", "trim_hop_length_samples"):
            _positive_int(name, getattr(self, name))
        for name in ("sample_rate_hz", "target_length_samples"):
            if getattr(self, name) is not None:
                _positive_int(name, getattr(self, name))
        if isinstance(self.trim_threshold, bool) or not isinstance(self.trim_threshold, (int, float)) \
                or not self.trim_threshold >= 0:
            raise ParameterError(f"{option('trim_threshold')} has to be a non-negative number, "
                                 f"not {self.trim_threshold!r}")
        if isinstance(self.trim_top_db, bool) or not isinstance(self.trim_top_db, (int, float)) or not self.trim_top_db > 0:
            raise ParameterError(f"{option('trim_top_db')} has to be a positive number, not {self.trim_top_db!r}")

    def _resolve_split(self) -> None:
        """Fill the speaker lists from the preset, or name explicit lists ``custom``."""
        corpus = self.source_corpus()
        given = self.dev_speakers is not None or self.test_speakers is not None
        name = self.split_preset or ("custom" if given else next(iter(corpus.split_presets)))
        if name == "custom":
            if self.fold is not None:
                raise ParameterError(f"a custom split has no folds ({option('fold', self.fold)})")
            dev, test = corpus.default_dev_speakers, corpus.default_test_speakers
        else:
            dev, test = corpus.preset(name).speakers(fold=self.fold, speakers=corpus.speakers,
                                                     default_dev=corpus.default_dev_speakers,
                                                     default_test=corpus.default_test_speakers)
        lists = {}
        for field, value, default in (("dev_speakers", self.dev_speakers, dev), ("test_speakers", self.test_speakers, test)):
            lists[field] = tuple(int(speaker) for speaker in (default if value is None else value))
            if name != "custom" and lists[field] != tuple(default):
                raise SplitError(f"{option(field, list(lists[field]))} are not those of the {name} split "
                                 f"{list(default)} (give speaker lists without a preset for a custom split)")
        object.__setattr__(self, "split_preset", name)
        for field, value in lists.items():
            object.__setattr__(self, field, value)

    def source_corpus(self) -> Corpus:
        """The corpus these settings read: the registered one, or for ``table`` the corpus of
        the labels table, for ``audformat`` that of the database in ``labels`` (read and
        checked once per version of the files).

        Raises:
            ParameterError: ``table`` without a labels table, or a bad table.
        """
        if self.corpus not in ("table", "audformat"):
            return get_corpus(self.corpus)
        if self.labels is None:
            raise ParameterError(f"{option('corpus', self.corpus)} needs the " + (
                "labels table" if self.corpus == "table" else "database's folder") + f" ({option('labels')})")
        if self.corpus == "audformat":
            return database_corpus(self.labels, table=self.labels_table, column=self.labels_column,
                                   emotion_map=self.emotion_map, license_name=self.license, citation=self.citation)
        return table_corpus(self.labels, emotion_map=self.emotion_map, license_name=self.license,
                            citation=self.citation)

    def replace(self, **changes) -> "Config":
        """A copy with some fields changed (validated like a new one)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Every field, JSON-ready (tuples become lists, the embedder a dictionary)."""
        values = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in self.TABLE_FIELDS and value is None:
                continue
            values[field.name] = (value.to_dict() if isinstance(value, Embedder)
                                  else list(value) if isinstance(value, tuple) else value)
        return values

    @classmethod
    def from_dict(cls, values: Mapping, *, where: str = "the configuration") -> "Config":
        """The inverse of :meth:`to_dict`, checking every key and value as ``--config`` files
        are checked (also reads the settings of version 1 and 2 manifests).

        Raises:
            ParameterError: An unknown key, a value of the wrong kind, or settings that do not
                go together; the message says ``where``.
        """
        values = upgrade_config(values)
        embedder = values.pop("embedder", {"name": VGGishEmbedder.name})
        values = values_from_file(cls, values, where=where)
        values["embedder"] = embedder if isinstance(embedder, Embedder) else embedder_from_dict(embedder, where=where)
        try:
            return cls(**values)
        except ParameterError as error:  # the file's keys are named, not the options
            raise type(error)(f"{where}: {render(error.args[0], keys=True)}") from None

    def embedding_digest(self) -> str:
        """SHA-256 of the settings that decide a clip's embedding (all but :data:`SPLIT_FIELDS`,
        and of the embedder's, those that decide its cached output)."""
        fields = {key: value for key, value in self.to_dict().items()
                  if key not in self.SPLIT_FIELDS + self.TABLE_FIELDS}
        fields["embedder"] = {"name": self.embedder.name, **self.embedder.cache_settings()}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    # --- adapters: the keyword arguments of the stage functions ------------------------

    def trim_rule(self) -> TrimRule:
        """The :class:`~ravdess_prep.audio.trim.TrimRule` of these settings."""
        return TrimRule(method=self.trim_method, window_samples=self.trim_window_samples,
                        threshold=self.trim_threshold, top_db=self.trim_top_db,
                        frame_length_samples=self.trim_frame_length_samples,
                        hop_length_samples=self.trim_hop_length_samples)

    def measure_kwargs(self) -> dict:
        """The keyword arguments of :func:`ravdess_prep.audio.measure.measure_file`."""
        return {"trim_rule": self.trim_rule(), "sample_rate_hz": self.sample_rate_hz, "on_silent": self.on_silent,
                "target_length_samples": self.target_length_samples, "on_too_long": self.on_too_long,
                "channel": self.channel}

    def prepare_kwargs(self) -> dict:
        """The keyword arguments of :func:`ravdess_prep.build.inference.prepare_clip` that come from the
        settings (how a clip is read and fitted to the target)."""
        return {"embedder": self.embedder, "sample_rate_hz": self.sample_rate_hz, "on_too_long": self.on_too_long,
                "channel": self.channel}

    def target_kwargs(self) -> dict:
        """The keyword arguments of :meth:`ravdess_prep.audio.measure.LengthTally.target`."""
        return {"target_length_samples": self.target_length_samples, "sample_rate_hz": self.sample_rate_hz}

    def split_kwargs(self) -> dict:
        """The keyword arguments of :func:`ravdess_prep.corpora.split.assign_splits`."""
        return {"dev_speakers": self.dev_speakers, "test_speakers": self.test_speakers}


def upgrade_config(values: Mapping) -> dict:
    """A manifest's ``config`` section of any version, in today's keys: version 1 kept the
    embedder's settings at the top and named speaker lists ``*_actors``; version 2 kept
    ``pool`` at the top (now the embedder's)."""
    values = dict(values)
    if "embedder" not in values:
        values["embedder"] = {"name": VGGishEmbedder.name,
                              **{key: values.pop(key) for key in _V1_EMBEDDER_FIELDS if key in values}}
    for old, new in _V1_RENAMED.items():
        if old in values:
            values[new] = values.pop(old)
    if "pool" in values and isinstance(values["embedder"], Mapping) and "pool" not in values["embedder"]:
        values["embedder"] = {**values["embedder"], "pool": values.pop("pool")}
    return values


def _one_of(name, value, allowed):
    if value not in allowed:
        raise ParameterError(f"{option(name)} has to be one of {', '.join(map(repr, allowed))}, not {value!r}")


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{option(name)} has to be a positive integer, not {value!r}")


def _speaker_tuple(config, name):
    value = getattr(config, name)
    if value is None:
        return
    if isinstance(value, (str, bytes)) or not all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        raise ParameterError(f"{option(name)} has to be a list of speaker numbers, not {value!r}")
    object.__setattr__(config, name, tuple(int(speaker) for speaker in value))
