"""Train/dev/test bundles on disk: the original project's layout, written atomically.

    <out>/<split>/<split>_filenames.npy   (N,)        clip names, unicode (no pickle)
    <out>/<split>/<split>_embeddings.npy  (N, E, D)   float32 (or (N, D) for pooled and clip-level embeddings)
    <out>/<split>/<split>_labels.npy      (N,)        int32
    <out>/manifest.json                   settings, counts, checksums, versions
    <out>/metadata.csv                    one row per clip

The whole folder is written beside ``<out>`` under a temporary name and put in place of the old
one in one step (:func:`ravdess_prep.dataset.layout.write_folder`), so a reader sees the old bundles
or the new ones, never a mix or a half-written file. This module reads them back.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import numpy as np

from ..corpora import corpus_of_names
from ..embedders.outputs import LAYER_SEQUENCES, clip_frame_spans
from ..exceptions import ParameterError, SourceError
from ..params import MANIFEST, METADATA, SPLITS
from .integrity import missing_files, raise_problems, require_sound
from .layout import bundle_paths
from .manifest import Manifest

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas


@dataclasses.dataclass(frozen=True)
class Bundle:
    """One split's arrays, and what the dataset says of each clip.

    Attributes:
        names: str array ``(N,)``, clip names (``speech/Actor_08/<stem>.wav``).
        embeddings: float32 array ``(N, *row shape)``: ``(N, num_examples, dim)``, ``(N, dim)``
            when pooled or clip-level, ``(N, layers, dim)`` for a stack of layers (see
            :mod:`ravdess_prep.embedders.outputs`).
        labels: int32 array ``(N,)``.
        speakers: int array ``(N,)``, each clip's speaker (None when unknown).
        facets: ``{column: array (N,)}``: the corpus's columns that accuracy is broken down by.
        label_names: The name of each label (None when unknown).
        axes: A row's axes (``("layers", "dim")``...), as the manifest records them; left
            out (bundles without a manifest, or made in memory), they are known by a row's
            rank: ``("dim",)`` for a vector, ``("examples", "dim")`` for a sequence.
        layer_numbers: For a stack of layers, each layer's number in the model (None: unknown).
        frames: For sequences of a padded input (``layer-sequences`` of a speech encoder):
            int64 ``(N, 2)``, ``[first, end)`` of each clip's own frames (None: unknown).
    """

    names: np.ndarray
    embeddings: np.ndarray
    labels: np.ndarray
    speakers: np.ndarray | None = None
    facets: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    label_names: tuple[str, ...] | None = None
    axes: tuple[str, ...] | None = None
    layer_numbers: tuple[int, ...] | None = None
    frames: np.ndarray | None = None

    def __post_init__(self):
        rank = np.ndim(self.embeddings) - 1
        if self.axes is None:
            if rank not in (1, 2):
                raise ParameterError(f"clips of shape {tuple(np.shape(self.embeddings))[1:]} need their axes (a "
                                     "dataset's manifest records them)")
            object.__setattr__(self, "axes", ("dim",) if rank == 1 else ("examples", "dim"))
        elif len(self.axes) != rank:
            raise ParameterError(f"clips of shape {tuple(np.shape(self.embeddings))[1:]} do not have the axes "
                                 f"({', '.join(self.axes)})")
        else:
            object.__setattr__(self, "axes", tuple(self.axes))

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _read_arrays(out: str | os.PathLike, split: str, *,
                 allow_pickled_names: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One split's names, embeddings and labels, checked against each other."""
    paths = bundle_paths(out, split)
    for path in paths.values():
        if not path.is_file():
            raise SourceError(f"{path}: missing bundle file (split {split!r})")
    try:
        names = _load(paths["names"])
    except _Pickled:
        if not allow_pickled_names:
            raise SourceError(
                f"{paths['names']}: names are a pickled object array (the original's format); "
                "pass allow_pickled_names=True to read a bundle you trust"
            ) from None
        names = np.load(paths["names"], allow_pickle=True)
    names = np.asarray([str(name) for name in names]) if names.dtype == object else names
    embeddings = _load(paths["embeddings"]).astype(np.float32, copy=False)
    labels = _load(paths["labels"]).astype(np.int32, copy=False)
    if not (names.shape[0] == embeddings.shape[0] == labels.shape[0]) or embeddings.ndim not in (2, 3, 4):
        raise SourceError(
            f"{Path(out) / split}: inconsistent bundle: {names.shape[0]} names, embeddings of shape "
            f"{embeddings.shape}, {labels.shape[0]} labels"
        )
    return names, embeddings, labels


class _Pickled(Exception):
    """A names file that is a pickled object array (the original project's)."""


def _load(path: Path) -> np.ndarray:
    """One ``.npy`` file, every value read.

    Raises:
        SourceError: The file is cut short or damaged; the message names it.
        _Pickled: It holds pickled objects.
    """
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise _Pickled() from None
        raise SourceError(f"{path}: a damaged bundle file ({error}); build the dataset again") from None
    except (OSError, EOFError) as error:
        raise SourceError(f"{path}: a damaged bundle file ({error}); build the dataset again") from None


def read_bundle(out: str | os.PathLike, split: str, *, allow_pickled_names: bool = True) -> Bundle:
    """Read one split, from this library's bundles or from the original project's, with each
    clip's speaker and facets (see :func:`read_bundles`).

    The original stored clip names as a pickled object array; those are read only when
    ``allow_pickled_names`` is true (load only bundles you trust: unpickling runs code).

    Raises:
        SourceError: A file is missing, the arrays disagree in length or shape, or a clip has
            no row in ``metadata.csv``.
    """
    arrays = _read_arrays(out, split, allow_pickled_names=allow_pickled_names)
    return _with_clip_facts(arrays, _read_clip_facts(out), where=Path(out) / split)


def read_bundles(out: str | os.PathLike, *, allow_pickled_names: bool = True) -> dict[str, Bundle]:
    """Every split present in ``out`` (see :func:`read_dataset`)."""
    return read_dataset(out, allow_pickled_names=allow_pickled_names)[1]


def read_dataset(out: str | os.PathLike, *, manifest: Manifest | None = None,
                 allow_pickled_names: bool = True) -> tuple[Manifest | None, dict[str, Bundle]]:
    """A dataset folder's manifest (read once; None for the original project's bundles) and
    every split present (train, dev, test, in that order), with each clip's speaker and facets
    (from ``metadata.csv``; for the original project's bundles, which have none, from the clip
    names, by the corpus whose naming scheme they follow).

    Args:
        out: The folder.
        manifest: Its manifest, when the caller has read it already.
        allow_pickled_names: Read the original project's pickled names (see
            :func:`read_bundle`).

    Raises:
        DatasetError: A file of a split the manifest lists is missing, or a split's arrays are
            not what the manifest records (see :func:`ravdess_prep.dataset.integrity.require_sound`).
        ManifestError: The manifest contradicts its folder.
        SourceError: No split, or a file missing or damaged.
    """
    present = [split for split in SPLITS if (Path(out) / split).is_dir()]
    facts = _read_clip_facts(out, manifest)  # read once, for every split
    if facts is not None:  # a dataset of this library: every file of every split its manifest lists
        raise_problems(missing_files(out, facts[0]), out)
    if not present:
        raise SourceError(f"{out}: no bundle folder ({', '.join(SPLITS)}) found")
    arrays = {split: _read_arrays(out, split, allow_pickled_names=allow_pickled_names) for split in present}
    if facts is not None:  # the one soundness check, on the arrays as loaded
        require_sound(facts[0], arrays={split: dict(zip(("names", "embeddings", "labels"), split_arrays))
                                        for split, split_arrays in arrays.items()})
    return None if facts is None else facts[0], {split: _with_clip_facts(split_arrays, facts, where=Path(out) / split)
                                                 for split, split_arrays in arrays.items()}


def _read_clip_facts(out: str | os.PathLike,
                     manifest: Manifest | None = None) -> "tuple[Manifest, pandas.DataFrame, Path] | None":
    """The manifest (``manifest``, or read now), the metadata table indexed by clip name, and
    its path; ``None`` for a folder without a manifest and metadata (the original project's
    bundles)."""
    import pandas as pd

    manifest_path, metadata_path = Path(out) / MANIFEST, Path(out) / METADATA
    if not (manifest_path.is_file() and metadata_path.is_file()):
        return None
    return manifest or Manifest.read(out), pd.read_csv(metadata_path).set_index("clip_name"), metadata_path


def _with_clip_facts(arrays: tuple[np.ndarray, np.ndarray, np.ndarray],
                     facts: "tuple[Manifest, pandas.DataFrame, Path] | None", *, where: Path) -> Bundle:
    """A split's arrays as a bundle, with speakers, facets, label names and axes from the
    dataset's records (the original project's bundles: from the clip names, and their axes by
    a row's rank).

    Raises:
        SourceError: A clip without a row in ``metadata.csv``, or rows of rank 3 or more and no
            manifest to say their axes.
    """
    names, embeddings, labels = arrays
    if facts is None:  # the original project's bundles: clip names of a corpus's scheme
        if embeddings.ndim > 3:
            raise SourceError(f"{where}: clips of shape {embeddings.shape[1:]} and no manifest that says their axes")
        bundle = Bundle(names=names, embeddings=embeddings, labels=labels)
        corpus = corpus_of_names(names.tolist())
        if corpus is None:
            return bundle
        parsed = [corpus.parse_name(name) for name in names.tolist()]
        return dataclasses.replace(bundle, speakers=np.asarray([row[corpus.speaker_column] for row in parsed]),
                                   facets={column: np.asarray([str(row[column]) for row in parsed])
                                           for column in corpus.facet_columns}, label_names=corpus.label_names)
    manifest, table, metadata_path = facts
    corpus = manifest.corpus
    missing = [name for name in names.tolist() if name not in table.index]
    if missing:
        raise SourceError(f"{metadata_path}: no row for clip {missing[0]} ({len(missing)} clips missing)")
    rows = table.loc[names.tolist()]
    return Bundle(names=names, embeddings=embeddings, labels=labels, speakers=rows[corpus["speaker_column"]].to_numpy(),
                  facets={column: rows[column].astype(str).to_numpy() for column in corpus["facet_columns"]},
                  label_names=tuple(corpus["label_names"]), axes=tuple(manifest.output.get("axes", ())[1:]) or None,
                  layer_numbers=tuple(manifest.output["layers"]) if "layers" in manifest.output else None,
                  frames=_frame_spans(manifest, rows) if manifest.kind is LAYER_SEQUENCES else None)


def _frame_spans(manifest: Manifest, rows: "pandas.DataFrame") -> np.ndarray | None:
    """Each clip's own frames among those of its padded input (see
    :func:`ravdess_prep.embedders.outputs.clip_frame_spans`); None when the embedder does not say its
    frame rate or the table lacks the trimmed lengths."""
    embedder = manifest.config.embedder
    if embedder.sample_rate_hz is None or "trimmed_length_samples" not in rows:
        return None
    return clip_frame_spans(rows["trimmed_length_samples"].to_numpy(),
                            target_length_samples=manifest.target.length_samples,
                            sample_rate_hz=manifest.target.sample_rate_hz, model_rate_hz=embedder.sample_rate_hz,
                            frames_of=lambda samples: embedder.num_examples(samples,
                                                                            sample_rate_hz=embedder.sample_rate_hz))
