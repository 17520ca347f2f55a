"""Published evaluation protocols: which clips, which classes, which speaker folds.

A paper's number means something only on its own protocol. A :class:`Protocol` fixes the three
things that decide it: the clips taken (RAVDESS speech, or speech and song), how the corpus's
labels map to the protocol's classes (Pepino et al. merge calm into neutral), and the folds of
test and dev speakers. :func:`select` picks the protocol's clips of pooled bundles and their labels;
:meth:`Protocol.split_preset` makes it a split preset of ``build``; ``crossval --protocol``
runs every fold.

Dev speakers are always disjoint from the test and train speakers: a fold's dev speakers are
the next fold's test speakers (for a protocol of one fixed split, its own validation speakers).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, Sequence

import numpy as np

from ..exceptions import ParameterError, SourceError, option
from .split import SplitPreset


@dataclasses.dataclass(frozen=True)
class Fold:
    """One fold of a protocol: its test speakers and its dev speakers (train is the rest)."""

    test: tuple[int, ...]
    dev: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Regime:
    """How a fold's model is trained and its choices made.

    Attributes:
        name: ``"library"`` or ``"as published"``.
        dev: Where the choices are made: ``"speakers"`` (the fold's dev speakers, disjoint from
            train and test), ``"random"`` (a seeded random ``dev_fraction`` of the fold's
            training clips, whatever their speaker) or ``"none"`` (no dev: the head's choices
            take their fallbacks).
        refit: Whether the reported model is trained again on train and dev together once the
            choices are made.
        dev_fraction: With ``dev="random"``: the share of the training clips drawn as dev.
        summary: One line, for the record and the docs.
    """

    name: str
    dev: str
    refit: bool
    dev_fraction: float = 0.0
    summary: str = ""

    def __post_init__(self):
        if self.dev not in ("speakers", "random", "none"):
            raise ParameterError(f"a regime's dev is 'speakers', 'random' or 'none', not {self.dev!r}")
        if (self.dev == "random") != (0 < self.dev_fraction < 1):
            raise ParameterError(f"regime {self.name}: a dev fraction in (0, 1) goes with a random dev, and only "
                                 f"with one ({self.dev_fraction!r})")

    def describe(self) -> dict:
        """What a record says of it."""
        return {"name": self.name, "dev": self.dev, "refit": self.refit,
                **({"dev_fraction": self.dev_fraction} if self.dev == "random" else {}), "summary": self.summary}


#: EmoBox's paper, whose folds of RAVDESS, EmoDB and CREMA-D are protocols of those corpora.
EMOBOX_CITATION = ("Ma Z, Chen M, Zhang H, Zheng Z, Chen W, Li X, Ye J, Chen X, Hain T (2024) EmoBox: Multilingual "
                   "Multi-corpus Speech Emotion Recognition Toolkit and Benchmark. Proc. Interspeech 2024. "
                   "arXiv:2406.07162")


def emobox_file_regime() -> Regime:
    """EmoBox's regime on its folds of files (EmoDB, CREMA-D): no dev, no refit."""
    return Regime("as published", "none", False,
                  summary="EmoBox's: trained on every file outside the test fold, no dev (EmoBox validates on none), "
                  "so the head's choices take their fallbacks")


def library_regime(*, refit: bool = True) -> Regime:
    """The library's own regime, every protocol's default: the choices made on the fold's dev
    speakers, then (``refit``) the model trained again on train and dev together."""
    return Regime("library", "speakers", refit,
                  summary="choices made on the fold's dev speakers (disjoint from train and test), then the model "
                  + ("trained on train and dev together" if refit else "trained on train alone (no refit)"))


@dataclasses.dataclass(frozen=True)
class Protocol:
    """A published evaluation protocol on one corpus.

    Attributes:
        name: Its name (``--protocol``, ``--split-preset``).
        corpus: The corpus it is defined on.
        title: One line: what it is.
        citation: The paper that defines it.
        selection: ``{metadata column: values kept}``; the columns are facets of the corpus's
            bundles (RAVDESS: ``vocal_channel``).
        classes: The protocol's class names, in label order.
        label_map: ``{corpus label name: protocol class name}`` for the labels it renames (calm
            to neutral, say); every other label keeps its name, which has to be a class.
        test_folds: Each fold's test speakers.
        dev_folds: Each fold's dev speakers (None: the next fold's test speakers).
        all_speakers: Every speaker whose clips it takes, train included (empty: those of
            its folds).
        differences: How the library's regime (:func:`library_regime`) differs from the
            paper's, for the docs and the data card.
        published: How the paper trained and chose (``crossval --as-published`` runs it).
        expected_clips: A function giving every clip name the protocol takes from the complete
            corpus (its bundles must hold them all).
        clip_folds: For a protocol whose folds are lists of files rather than of speakers: a
            function giving each fold's test clip names (``test_folds`` is then empty; a fold
            has no dev speakers, and cannot be a split preset).
        speaker_dependent: Whether a test fold's speakers are also trained on (the docs,
            the record and ``audit`` say so).
    """

    name: str
    corpus: str
    title: str
    citation: str
    selection: Mapping[str, tuple[str, ...]]
    classes: tuple[str, ...]
    test_folds: tuple[tuple[int, ...], ...]
    label_map: Mapping[str, str] = dataclasses.field(default_factory=dict)
    dev_folds: tuple[tuple[int, ...], ...] | None = None
    all_speakers: tuple[int, ...] = ()
    differences: str = ""
    published: Regime | None = None
    expected_clips: Callable[[], Sequence[str]] | None = None
    clip_folds: Callable[[], Sequence[frozenset[str]]] | None = None
    speaker_dependent: bool = False

    def __post_init__(self):
        if self.dev_folds is not None and len(self.dev_folds) != len(self.test_folds):
            raise ParameterError(f"protocol {self.name}: {len(self.dev_folds)} dev folds for "
                                 f"{len(self.test_folds)} test folds")
        for fold in [] if self.clip_folds is not None else self.folds():  # clip folds are read when used
            if set(fold.test) & set(fold.dev):
                raise ParameterError(f"protocol {self.name}: speakers in both test and dev of a fold")

    def folds(self) -> list[Fold]:
        """Every fold, in order (a protocol of clip folds: no test or dev speakers, see
        :meth:`test_clips`)."""
        if self.clip_folds is not None:
            return [Fold((), ()) for _ in self.clip_folds()]
        count = len(self.test_folds)
        devs = self.dev_folds or tuple(self.test_folds[(index + 1) % count] for index in range(count))
        return [Fold(tuple(test), tuple(dev)) for test, dev in zip(self.test_folds, devs)]

    def speakers(self) -> tuple[int, ...]:
        """Every speaker whose clips it takes, sorted."""
        return tuple(sorted(set(self.all_speakers) | {speaker for fold in self.folds() for speaker in fold.test + fold.dev}))

    def test_clips(self, fold: int) -> frozenset[str] | None:
        """The test clip names of fold ``fold`` (0-based) of a protocol of clip folds (None: its
        folds are speakers)."""
        return None if self.clip_folds is None else frozenset(self.clip_folds()[fold])

    def split_preset(self) -> SplitPreset:
        """The protocol as a split preset of ``build``: fold K's test and dev speakers (a
        protocol of one fold has no ``--fold``); its selection keeps only its clips.

        Raises:
            ParameterError: Its folds are lists of files, which no speaker split expresses.
        """
        if self.clip_folds is not None:
            raise ParameterError(f"protocol {self.name}: its folds are lists of files, not of speakers; run it with "
                                 "crossval --protocol, not as a split preset")
        folds = self.folds()
        if len(folds) == 1:
            return SplitPreset(self.name, f"{self.title} (one fixed split)", None, dict(self.selection),
                               fixed=(folds[0].dev, folds[0].test))
        return SplitPreset(self.name, f"{self.title} ({len(folds)} folds)",
                           lambda speakers: [fold.test for fold in folds], dict(self.selection),
                           dev_groups=[fold.dev for fold in folds])

    def class_of(self, label_names: Sequence[str]) -> np.ndarray:
        """For each of the corpus's labels, the protocol's class (int array; -1: none).

        Raises:
            ParameterError: A corpus label maps to no class of the protocol.
        """
        mapped = []
        for name in label_names:
            target = self.label_map.get(name, name)
            if target not in self.classes:
                raise ParameterError(f"protocol {self.name}: the label {name!r} maps to no class of "
                                     f"{', '.join(self.classes)}")
            mapped.append(self.classes.index(target))
        return np.asarray(mapped, dtype=np.int32)

    def describe(self) -> dict:
        """What a manifest, a data card and ``--json`` record of it."""
        return {"name": self.name, "title": self.title, "citation": self.citation,
                "selection": {key: list(values) for key, values in self.selection.items()},
                "classes": list(self.classes), "label_map": dict(self.label_map),
                "folds": ([{"test_clips": len(clips)} for clips in self.clip_folds()] if self.clip_folds is not None
                          else [{"test_speakers": list(fold.test), "dev_speakers": list(fold.dev)}
                                for fold in self.folds()]),
                "speaker_dependent": self.speaker_dependent, "differences": self.differences,
                **({"published_regime": self.published.describe()} if self.published is not None else {})}


def select(protocol: Protocol, *, names: np.ndarray, labels: np.ndarray, speakers: np.ndarray,
           facets: Mapping[str, np.ndarray], label_names: Sequence[str] | None,
           where: str = "the dataset") -> tuple[np.ndarray, np.ndarray]:
    """Which clips the protocol takes, and their labels as its classes.

    Args:
        names: Every clip's name, ``(clips,)``.
        labels: The corpus's label of each clip.
        speakers: Each clip's speaker.
        facets: ``{column: values}`` holding the protocol's selection columns.
        label_names: The corpus's label names (None: unknown).
        where: The dataset, for messages.

    Returns:
        ``(indices of the kept clips, their labels as the protocol's classes)``.

    Raises:
        SourceError: The clips lack a selection column, or speakers or clips the protocol
            takes are missing (the first few named, with the count).
        ParameterError: A label has no class of the protocol.
    """
    if label_names is None:
        raise SourceError(f"{where}: the bundles do not name their labels; the {protocol.name} protocol maps them "
                          "by name")
    keep = np.ones(len(names), dtype=bool)
    for column, values in protocol.selection.items():
        if column not in facets:
            raise SourceError(f"{where}: the clips do not say their {column}, which the {protocol.name} protocol "
                              f"selects on")
        keep &= np.isin(np.asarray(facets[column]).astype(str), list(values))
    present = {int(speaker) for speaker in np.asarray(speakers)[keep]}
    absent = [speaker for speaker in protocol.speakers() if speaker not in present]
    if absent:
        raise SourceError(f"{where}: no clip of {len(absent)} speakers of the {protocol.name} protocol "
                          f"({_few(f'{speaker:02d}' for speaker in absent)})")
    if protocol.expected_clips is not None:
        held = set(np.asarray(names)[keep].tolist())
        missing = [name for name in protocol.expected_clips() if name not in held]
        if missing:
            raise SourceError(f"{where} lacks {len(missing)} clips of the {protocol.name} protocol "
                              f"({_few(missing)}); build it from the complete corpus")
    index = np.flatnonzero(keep & np.isin(speakers, protocol.speakers()))
    return index, protocol.class_of(label_names)[np.asarray(labels, int)[index]]


def _few(items, count: int = 3) -> str:
    items = list(items)
    return ", ".join(items[:count]) + (f" and {len(items) - count} more" if len(items) > count else "")


def named(protocols: Mapping[str, Protocol], name: str, *, corpus: str) -> Protocol:
    """The protocol ``name`` of a corpus.

    Raises:
        ParameterError: No such protocol; the message lists the corpus's.
    """
    try:
        return protocols[name]
    except (KeyError, TypeError):
        known = ", ".join(protocols) or "none"
        raise ParameterError(f"{option('protocol', name)}: no such protocol of the {corpus} corpus (its protocols: "
                             f"{known})") from None
