"""The data a head is trained and scored on: the bundles of one dataset or of several side by side
(fusion), a protocol's clips and classes taken from them, and speaker normalisation.

Fusion puts datasets of the same clips (Whisper layers and eGeMAPS functionals, say) side by
side: each clip becomes one vector, every dataset's row (a stack's chosen layers concatenated)
one after the other.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..corpora import CORPORA
from ..corpora.protocols import Protocol, named, select
from ..dataset.bundles import Bundle, read_bundles
from ..dataset.manifest import Manifest
from ..exceptions import ParameterError, SourceError, option
from ..params import MANIFEST
from .clips import select_layers, subset



def is_fusion(data) -> bool:
    """Whether ``data`` names several datasets."""
    return not isinstance(data, (str, os.PathLike, Mapping)) and len(data) > 1


def where_of(data) -> str:
    """``data`` as messages name it."""
    if isinstance(data, Mapping):
        return "the bundles given"
    if isinstance(data, (str, os.PathLike)):
        return str(data)
    return " + ".join(str(item) for item in data)


def read_data(data, *, layers=None, built_protocol: bool = True) -> dict[str, Bundle]:
    """The bundles of ``data`` by split; several datasets fused (see :func:`fuse`); a dataset
    built with a protocol's split preset in that protocol's classes.

    Args:
        data: A dataset folder, a sequence of them, or ``{split: Bundle}``.
        layers: For fusion: the layers each stack contributes (None: all).
        built_protocol: Label a dataset built with a protocol's preset by that protocol's
            classes (False: by the corpus's own labels, for another protocol to map).
    """
    if isinstance(data, Mapping):
        return dict(data)
    if isinstance(data, (str, os.PathLike)):
        return _read_one(data, built_protocol)
    folders = list(data)
    if len(folders) == 1:
        return _read_one(folders[0], built_protocol)
    return fuse([_read_one(folder, built_protocol) for folder in folders], names=[str(folder) for folder in folders],
                layers=layers)


def _read_one(folder, built_protocol: bool) -> dict[str, Bundle]:
    bundles = read_bundles(folder)
    protocol = protocol_of_dataset(folder) if built_protocol else None
    if protocol is None:
        return bundles
    return {split: take_protocol(protocol, bundle, where=str(folder), complete=False)
            for split, bundle in bundles.items()}


def protocol_of_dataset(folder) -> Protocol | None:
    """The protocol a dataset's split preset is (None: another preset, or no manifest)."""
    if not (Path(folder) / MANIFEST).is_file():
        return None
    corpus = Manifest.read(folder).corpus
    recorded = corpus.get("protocol")
    if recorded is None or corpus.get("name") not in CORPORA:
        return None
    return named(CORPORA[corpus["name"]].protocols, recorded["name"], corpus=corpus["name"])


def corpus_protocol(name: str, *, corpus: str = "ravdess") -> Protocol:
    """The protocol ``name`` of a corpus (see :func:`ravdess_prep.corpora.protocols.named`)."""
    return named(CORPORA[corpus].protocols, name, corpus=corpus)


def take_protocol(protocol: Protocol, bundle: Bundle, *, where: str, complete: bool = True) -> Bundle:
    """A bundle's clips that ``protocol`` takes, labelled with its classes.

    Args:
        complete: Also require every clip and speaker the protocol takes (crossval does; a
            dataset built with its preset holds only its own fold's clips in each split).

    Raises:
        SourceError: Missing speakers or clips (named, with the count), no speakers or facets.
    """
    if bundle.speakers is None:
        raise SourceError(f"{where}: the bundles do not say each clip's speaker; the {protocol.name} protocol needs "
                          "them")
    if complete:
        index, labels = select(protocol, names=bundle.names, labels=bundle.labels, speakers=bundle.speakers,
                               facets=bundle.facets, label_names=bundle.label_names, where=where)
    else:
        index = np.arange(len(bundle))
        labels = protocol.class_of(bundle.label_names or ())[bundle.labels] if len(bundle) else bundle.labels
    return dataclasses.replace(subset(bundle, index), labels=np.asarray(labels, np.int32),
                               label_names=tuple(protocol.classes))


def fuse(datasets: Sequence[Mapping[str, Bundle]], *, names: Sequence[str], layers=None) -> dict[str, Bundle]:
    """Datasets of the same clips side by side: one vector per clip, each dataset's row (a
    stack's ``layers`` concatenated, or all) after the previous one's.

    Raises:
        SourceError: The datasets' splits or clips differ (the first clip that differs named),
            or their labels do; a dataset of sequences (fusion takes vectors and stacks).
        ParameterError: ``layers="auto"`` (a fused row has no layers to choose among).
    """
    if layers == "auto":
        raise ParameterError(f"{option('layers', 'auto')} does not go with several datasets: give the layers")
    first, first_name = datasets[0], names[0]
    fused_parts: dict[str, list[np.ndarray]] = {split: [] for split in first}
    for dataset, name in zip(datasets, names):
        if list(dataset) != list(first):
            raise SourceError(f"{name}: splits {', '.join(dataset)}, not those of {first_name} ({', '.join(first)}); "
                              "fusion takes datasets of the same clips in the same splits")
        for split, bundle in dataset.items():
            reference = first[split]
            order = _aligned(reference.names, bundle.names, split=split, name=name, first_name=first_name)
            bundle = subset(bundle, order)
            if not np.array_equal(bundle.labels, reference.labels):
                clip = reference.names[np.flatnonzero(bundle.labels != reference.labels)[0]]
                raise SourceError(f"{name}: clip {clip} has another label than in {first_name}")
            if "examples" in bundle.axes:
                raise SourceError(f"{name}: its clips are sequences ({', '.join(bundle.axes)}); fusion takes one "
                                  "vector or a stack of layers per clip")
            if "layers" in bundle.axes:
                bundle = select_layers(bundle, layer=None, layers=layers)
            fused_parts[split].append(bundle.embeddings.reshape(len(bundle), -1))
    return {split: dataclasses.replace(first[split], embeddings=np.concatenate(parts, axis=1).astype(np.float32),
                                       axes=("dim",), layer_numbers=None, frames=None)
            for split, parts in fused_parts.items()}


def _aligned(reference: np.ndarray, names: np.ndarray, *, split: str, name: str, first_name: str) -> np.ndarray:
    """Where each of ``reference``'s clips is in ``names``.

    Raises:
        SourceError: The two hold other clips; the first (in name order) is named.
    """
    position = {clip: index for index, clip in enumerate(names.tolist())}
    if len(position) == len(reference) and all(clip in position for clip in reference.tolist()):
        return np.asarray([position[clip] for clip in reference.tolist()], dtype=int)
    only_first = sorted(set(reference.tolist()) - set(position))
    only_other = sorted(set(position) - set(reference.tolist()))
    if only_first:
        detail = f"{first_name} has clip {only_first[0]} in {split}, {name} has not"
    else:
        detail = f"{name} has clip {only_other[0]} in {split}, {first_name} has not"
    raise SourceError(f"the fused datasets hold other clips: {detail} "
                      f"({len(only_first) + len(only_other)} clips differ)")


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
