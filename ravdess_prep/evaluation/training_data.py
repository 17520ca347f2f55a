"""The data a head is trained and scored on: the bundles of one dataset or of several side by side
(fusion), each dataset's manifest read once, a dataset built with a protocol's preset in the
protocol's classes.

Fusion puts datasets of the same clips (Whisper layers and eGeMAPS functionals, say) side by
side: each clip becomes one vector, every dataset's row (a stack's chosen layers concatenated)
one after the other.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Mapping, Sequence

import numpy as np

from ..corpora import CORPORA, Corpus, corpus_of_names
from ..corpora.protocols import Protocol, named
from ..dataset.bundles import Bundle, read_dataset
from ..dataset.manifest import Manifest
from ..exceptions import ParameterError, SourceError, option
from .clips import select_layers, subset, take_protocol


@dataclasses.dataclass(frozen=True)
class TrainingData:
    """What a head is trained and scored on, and where it came from.

    Attributes:
        bundles: ``{split: Bundle}``.
        where: The data as messages name it.
        folders: The dataset folders read (several: fused side by side; none: bundles given).
        manifests: Each folder's manifest, read once (None for the original project's bundles).
    """

    bundles: dict[str, Bundle]
    where: str
    folders: tuple[str, ...] = ()
    manifests: tuple[Manifest | None, ...] = ()

    @property
    def fused(self) -> bool:
        """Whether several datasets were put side by side."""
        return len(self.folders) > 1

    @property
    def manifest(self) -> Manifest | None:
        """The manifest of the one dataset read (None: fused, given as bundles, or without one)."""
        return self.manifests[0] if len(self.manifests) == 1 else None


def folders_of(data) -> tuple[str, ...]:
    """The dataset folders ``data`` names (none for ``{split: Bundle}``)."""
    if isinstance(data, Mapping):
        return ()
    if isinstance(data, (str, os.PathLike)):
        return (str(data),)
    return tuple(str(item) for item in data)


def read_data(data, *, layers=None, built_protocol: bool = True, manifest: Manifest | None = None) -> TrainingData:
    """The bundles of ``data`` by split, each dataset's manifest read once; several datasets
    fused (see :func:`fuse`); a dataset built with a protocol's split preset in that protocol's
    classes.

    Args:
        data: A dataset folder, a sequence of them, or ``{split: Bundle}``.
        layers: For fusion: the layers each stack contributes (None: all).
        built_protocol: Label a dataset built with a protocol's preset by that protocol's
            classes (False: by the corpus's own labels, for another protocol to map).
        manifest: The one folder's manifest, when the caller has read it already.
    """
    folders = folders_of(data)
    if not folders:
        return TrainingData(dict(data), "the bundles given")
    resolved = [os.path.realpath(folder) for folder in folders]
    twice = next((folder for folder, path in zip(folders, resolved) if resolved.count(path) > 1), None)
    if twice is not None:
        raise ParameterError(f"{twice}: the same dataset given twice; fusion puts different datasets of the same "
                             "clips side by side")
    read = [_read_one(folder, built_protocol, manifest=manifest if len(folders) == 1 else None)
            for folder in folders]
    manifests = tuple(found for found, _ in read)
    if len(folders) == 1:
        return TrainingData(read[0][1], folders[0], folders, manifests)
    bundles = fuse([bundles for _, bundles in read], names=list(folders), layers=layers)
    return TrainingData(bundles, " + ".join(folders), folders, manifests)


def _read_one(folder, built_protocol: bool, *, manifest: Manifest | None) -> tuple[Manifest | None, dict[str, Bundle]]:
    manifest, bundles = read_dataset(folder, manifest=manifest)
    protocol = protocol_of_dataset(manifest) if built_protocol and manifest is not None else None
    if protocol is None:
        return manifest, bundles
    return manifest, {split: take_protocol(protocol, bundle, where=str(folder), complete=False)
                      for split, bundle in bundles.items()}


def protocol_of_dataset(manifest: Manifest) -> Protocol | None:
    """The protocol a dataset's split preset is (None: another preset)."""
    corpus = manifest.corpus
    recorded = corpus.get("protocol")
    if recorded is None or corpus.get("name") not in CORPORA:
        return None
    return named(CORPORA[corpus["name"]].protocols, recorded["name"], corpus=corpus["name"])


def corpus_of(training: TrainingData) -> Corpus:
    """The corpus of the data: the first dataset's manifest's; for bundles without one, the
    corpus whose naming scheme their clip names follow; else RAVDESS."""
    first = training.manifests[0] if training.manifests else None
    if first is not None:
        name = first.corpus.get("name", "ravdess")
        return CORPORA[name] if name in CORPORA else CORPORA["ravdess"]
    names = [str(name) for bundle in training.bundles.values() for name in bundle.names[:50]]
    return corpus_of_names(names) or CORPORA["ravdess"]


def corpus_protocol(name: str, *, corpus: str = "ravdess") -> Protocol:
    """The protocol ``name`` of a corpus (see :func:`ravdess_prep.corpora.protocols.named`)."""
    return named(CORPORA[corpus].protocols, name, corpus=corpus)


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


#: The fewest training clips of a class a head is fitted on.
MIN_CLIPS_PER_CLASS = 2


def check_classes(bundles: Mapping[str, Bundle], *, label_names: Sequence[str], where: str) -> None:
    """Refuse data no head can be fairly trained on: a class the data holds with fewer than
    :data:`MIN_CLIPS_PER_CLASS` clips in train, or a class of train that a non-empty dev lacks
    (the head's choices are scored on dev); both named with their counts.

    Raises:
        SourceError: The first such class (the count of others in the message).
    """
    counts = {split: np.bincount(bundle.labels.astype(int), minlength=len(label_names))
              for split, bundle in bundles.items() if len(bundle)}
    held = np.flatnonzero(sum(counts.values()))
    train = counts.get("train", np.zeros(len(label_names), int))
    problems = [f"class {label_names[label]!r} has {int(train[label])} clip{'' if train[label] == 1 else 's'} in train"
                for label in held if train[label] < MIN_CLIPS_PER_CLASS]
    if problems:
        more = f" (and {len(problems) - 1} more classes)" if len(problems) > 1 else ""
        raise SourceError(f"{where}: {problems[0]}{more}; a head needs at least {MIN_CLIPS_PER_CLASS} training clips "
                          "of every class the data holds")
    dev = counts.get("dev")
    if dev is not None:
        missing = [label for label in np.flatnonzero(train) if dev[label] == 0]
        if missing:
            more = f" (and {len(missing) - 1} more classes)" if len(missing) > 1 else ""
            raise SourceError(f"{where}: class {label_names[missing[0]]!r} has {int(train[missing[0]])} clips in train but "
                              f"none in dev{more}, where the head's choices are scored; give dev speakers who have "
                              "every class")
