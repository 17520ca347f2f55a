"""Speaker normalisation: each speaker's features standardised with that speaker's own clips
(the common practice with eGeMAPS; Pepino et al.'s convention).

Two modes. ``all`` (transductive, Pepino et al.'s): a speaker's statistics come from every clip
given with them, the scored clips included, so a clip's features depend on which other clips
of its speaker are scored with it, and the statistics see the class mix of the scored set.
``enrol`` (inductive): each speaker of a scored split (dev, test) lends K of their clips, drawn
with a seed and without their labels, as an enrolment; the statistics come from those alone,
and those clips are not scored. Training speakers use all their clips in both modes: they
are training data, whose labels the model sees anyway.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from ..dataset.bundles import Bundle
from ..exceptions import SourceError
from .clips import subset


def normalise_per_speaker(embeddings: np.ndarray, speakers: np.ndarray, *, axes: Sequence[str]) -> np.ndarray:
    """Each speaker's features standardised with that speaker's own clips.

    Args:
        embeddings: float array ``(clips, *row shape)``.
        speakers: The speaker of each clip, ``(clips,)``.
        axes: A row's axes (a bundle's, :attr:`ravdess_prep.dataset.bundles.Bundle.axes`).

    Returns:
        float32, the same shape: ``(x - mean) / std`` per feature (and per layer of a stack),
        the mean and standard deviation taken over the speaker's clips and their examples; a
        feature constant within a speaker becomes 0.
    """
    embeddings, speakers = np.asarray(embeddings), np.asarray(speakers)
    normalised = np.empty(embeddings.shape, np.float32)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        normalised[rows] = standardised(embeddings[rows], embeddings[rows], axes=axes)
    return normalised


def standardised(values: np.ndarray, reference: np.ndarray, *, axes: Sequence[str]) -> np.ndarray:
    """``values`` minus the mean of ``reference``, over its standard deviation (1 where it is
    0), in float64; both taken over the clips and their examples (``axes``: a row's axes)."""
    reference = reference.astype(np.float64)
    reduce = reduced_axes(axes)
    return standardise(values, mean=reference.mean(axis=reduce, keepdims=True),
                       std=reference.std(axis=reduce, keepdims=True))


def reduced_axes(axes: Sequence[str]) -> tuple[int, ...]:
    """The axes of ``(clips, *row)`` that a speaker's statistics are taken over: the clips and
    their examples (``axes``: a row's axes)."""
    names = ("clips",) + tuple(axes)
    return tuple(index for index, name in enumerate(names) if name in ("clips", "examples"))


def standardise(values: np.ndarray, *, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(values - mean) / std`` in float64, a standard deviation of 0 read as 1 (a feature
    constant for the speaker becomes 0)."""
    return (values.astype(np.float64) - mean) / np.where(std > 0, std, 1.0)


def speaker_normalised(bundles: Mapping[str, Bundle], *, where: str, enrol_clips: int | None = None,
                       seed: int = 0) -> dict[str, Bundle]:
    """Every split with each speaker's features standardised (:func:`normalise_per_speaker`),
    or, with ``enrol_clips``, the splits other than train by :func:`enrolled` (see the module
    docstring).

    Raises:
        SourceError: The bundles lack speakers, a speaker has a single clip in a split, or fewer
            than ``enrol_clips`` + 1 in a scored split.
    """
    if any(bundle.speakers is None for bundle in bundles.values()):
        raise SourceError(f"{where}: speaker normalisation needs each clip's speaker, and the bundles lack them")
    lonely = sorted({(int(speaker), name) for name, bundle in bundles.items()
                     for speaker, count in zip(*np.unique(bundle.speakers, return_counts=True)) if count < 2})
    if lonely:
        raise SourceError(f"{where}: speaker normalisation needs at least two clips of every speaker; "
                          + ", ".join(f"speaker {speaker:02d} has one (in {name})" for speaker, name in lonely[:3]))
    return {name: enrolled(bundle, clips=enrol_clips, seed=seed, where=f"{where} ({name})")
            if enrol_clips is not None and name != "train" else
            dataclasses.replace(bundle, embeddings=normalise_per_speaker(bundle.embeddings, bundle.speakers,
                                                                         axes=bundle.axes))
            for name, bundle in bundles.items()}


def speaker_norm_record(*, enrol_clips: int | None, seed: int) -> dict:
    """What a record says of speaker normalisation with ``enrol_clips`` (None: all clips)."""
    if enrol_clips is None:
        return {"mode": "all", "transductive": True,
                "statistics": "every clip of each speaker, the scored clips included"}
    return {"mode": "enrol", "transductive": False, "enrol_clips": enrol_clips,
            "statistics": f"{enrol_clips} clips of each dev and test speaker drawn with seed {seed}, not scored; "
                          "every clip of each training speaker"}


def enrolled(bundle: Bundle, *, clips: int, seed: int, where: str) -> Bundle:
    """The clips of ``bundle`` that are not an enrolment, each standardised with the statistics
    of its speaker's enrolment: ``clips`` of the speaker's clips drawn without their labels
    (a generator seeded by ``seed`` and the speaker).

    Raises:
        SourceError: A speaker with ``clips`` clips or fewer (nothing would be left to score).
    """
    keep, rows = [], np.empty(bundle.embeddings.shape, np.float32)
    for speaker in np.unique(bundle.speakers):
        own = np.flatnonzero(bundle.speakers == speaker)
        if own.size <= clips:
            raise SourceError(f"{where}: speaker {int(speaker):02d} has {own.size} clips; an enrolment of {clips} "
                              "leaves none to score (give fewer enrolment clips)")
        drawn = np.random.default_rng([seed, int(speaker)]).permutation(own)
        enrolment, scored = drawn[:clips], np.sort(drawn[clips:])
        rows[scored] = standardised(bundle.embeddings[scored], bundle.embeddings[enrolment], axes=bundle.axes)
        keep.append(scored)
    kept = np.sort(np.concatenate(keep))
    return dataclasses.replace(subset(bundle, kept), embeddings=rows[kept])
