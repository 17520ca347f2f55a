"""Speaker normalisation: each speaker's features standardised with that speaker's own clips
(the common practice with eGeMAPS; Pepino et al.'s convention). The statistics of a speaker
come from the clips given with them, the scored clips included (a transductive step: see the
accuracy page)."""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from ..dataset.bundles import Bundle
from ..exceptions import SourceError


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
    names = ("clips",) + tuple(axes)
    reduce = tuple(index for index, name in enumerate(names) if name in ("clips", "examples"))
    normalised = np.empty(embeddings.shape, np.float32)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        values = embeddings[rows].astype(np.float64)
        mean, std = values.mean(axis=reduce, keepdims=True), values.std(axis=reduce, keepdims=True)
        normalised[rows] = (values - mean) / np.where(std > 0, std, 1.0)
    return normalised


def speaker_normalised(bundles: Mapping[str, Bundle], *, where: str) -> dict[str, Bundle]:
    """Every split with each speaker's features standardised (:func:`normalise_per_speaker`).

    Raises:
        SourceError: The bundles lack speakers, or a speaker has a single clip in a split.
    """
    if any(bundle.speakers is None for bundle in bundles.values()):
        raise SourceError(f"{where}: speaker normalisation needs each clip's speaker, and the bundles lack them")
    lonely = sorted({(int(speaker), name) for name, bundle in bundles.items()
                     for speaker, count in zip(*np.unique(bundle.speakers, return_counts=True)) if count < 2})
    if lonely:
        raise SourceError(f"{where}: speaker normalisation needs at least two clips of every speaker; "
                          + ", ".join(f"speaker {speaker:02d} has one (in {name})" for speaker, name in lonely[:3]))
    return {name: dataclasses.replace(bundle, embeddings=normalise_per_speaker(bundle.embeddings, bundle.speakers,
                                                                               axes=bundle.axes))
            for name, bundle in bundles.items()}
