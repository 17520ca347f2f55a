"""Whether a dataset folder still is what its manifest says it is: the one check every reader
calls (:func:`require_sound`).

A build records in the manifest every split it wrote (clips, label counts), the shape of a row,
the target length (the longest kept clip of ``metadata.csv`` when it was measured), and the
SHA-256 of every bundle file. :func:`check_recorded` refuses a manifest that contradicts its
folder (an edited one would embed new files other than its bundles were);
:func:`manifest_problems` checks the folder against the rest: each split's three files present,
their digests, their shapes against each other and the manifest, every embedding finite, every
label one of the corpus's. ``ravdess-prep check`` prints what it finds; every command that reads
a dataset (export, train, crossval, evaluate, embed, predict, build --from-manifest) calls
:func:`require_sound`, the digests included, on the arrays it has loaded where it has.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np

from ..exceptions import DatasetError, ManifestError
from ..params import MANIFEST, METADATA
from ..storage.digest import file_digest
from .layout import bundle_paths
from .manifest import Manifest

#: Rows of embeddings checked for finiteness at once (bounds the memory of a large dataset).
CHUNK_ROWS = 4096


def split_problems(folder: str | os.PathLike, split: str, manifest: Manifest, *, names: np.ndarray,
                   embeddings: np.ndarray, labels: np.ndarray) -> list[str]:
    """What is wrong with one split's arrays (loaded or memory-mapped), each problem a line
    naming the file."""
    paths = bundle_paths(folder, split)
    record = manifest.splits.get(split, {})
    problems = []
    clips = record.get("clips") if isinstance(record, dict) else None
    if isinstance(clips, int) and embeddings.shape[0] != clips:
        problems.append(f"{paths['embeddings']}: {embeddings.shape[0]} rows, but the manifest records {clips} clips "
                        f"in split {split!r}")
    if not names.shape[:1] == labels.shape[:1] == embeddings.shape[:1] or names.ndim != 1 or labels.ndim != 1:
        problems.append(f"{paths['names']}: {names.shape} names, {labels.shape} labels and embeddings of shape "
                        f"{embeddings.shape} do not go together")
    if "row_shape" in manifest.output and tuple(embeddings.shape[1:]) != manifest.row_shape:
        problems.append(f"{paths['embeddings']}: rows of shape {tuple(embeddings.shape[1:])}, but the manifest "
                        f"records {manifest.row_shape}")
    elif embeddings.dtype != np.float32:
        problems.append(f"{paths['embeddings']}: {embeddings.dtype} values, not float32")
    else:
        bad = sum(int((~np.isfinite(embeddings[first : first + CHUNK_ROWS])).sum())
                  for first in range(0, embeddings.shape[0], CHUNK_ROWS))
        if bad:
            problems.append(f"{paths['embeddings']}: {bad} NaN or infinite values (damaged bytes?)")
    label_names = manifest.corpus.get("label_names")
    if isinstance(label_names, list) and labels.size and labels.ndim == 1 and (
            labels.min() < 0 or labels.max() >= len(label_names)):
        problems.append(f"{paths['labels']}: labels from {labels.min()} to {labels.max()}, but the corpus has "
                        f"{len(label_names)} (0 to {len(label_names) - 1})")
    return problems


def missing_files(folder: str | os.PathLike, manifest: Manifest) -> list[str]:
    """A line for each bundle file of a split the manifest lists that ``folder`` lacks."""
    return [f"{path}: missing (the manifest lists split {split!r})" for split in manifest.splits
            for path in bundle_paths(folder, split).values() if not path.is_file()]


def manifest_problems(manifest: Manifest, *, digests: bool = True,
                      arrays: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> list[str]:
    """Every problem of the dataset folder a manifest was read from, a line each naming the
    file (empty: none).

    Args:
        manifest: The dataset's manifest, read from its folder.
        digests: Also hash every bundle file against the SHA-256 the manifest recorded (the
            expensive part; a dataset written before they were recorded has none to compare).
        arrays: ``{split: {"names", "embeddings", "labels"}}`` a reader has loaded already
            (checked as they are, not read again); a split left out is read (memory-mapped).
    """
    folder = Path(manifest.path).parent
    problems = missing_files(folder, manifest)
    metadata, recorded = folder / METADATA, manifest.bundle_sha256.get(METADATA)
    if digests and recorded is not None:
        if not metadata.is_file():
            problems.append(f"{metadata}: missing (the manifest records its SHA-256)")
        elif (found := file_digest(metadata)) != recorded:
            problems.append(f"{metadata}: SHA-256 {found}, but the manifest recorded {recorded} (changed since the "
                            "build wrote it)")
    for split in manifest.splits:
        paths = bundle_paths(folder, split)
        if not all(path.is_file() for path in paths.values()):
            continue  # named above
        if digests:
            for path in paths.values():
                recorded = manifest.bundle_sha256.get(path.relative_to(folder).as_posix())
                if recorded is not None and (found := file_digest(path)) != recorded:
                    problems.append(f"{path}: SHA-256 {found}, but the manifest recorded {recorded} (changed since "
                                    "the build wrote it)")
        if arrays is not None and split in arrays:
            problems += split_problems(folder, split, manifest, **arrays[split])
            continue
        try:
            loaded = {part: np.load(path, mmap_mode="r", allow_pickle=False) for part, path in paths.items()}
        except (ValueError, OSError, EOFError) as error:
            problems.append(f"{folder / split}: a bundle file cannot be read ({' '.join(str(error).split())})")
            continue
        problems += split_problems(folder, split, manifest, **loaded)
    return problems


def raise_problems(problems: list[str], folder: str | os.PathLike) -> None:
    """Raise :class:`DatasetError` with the first of ``problems`` and how many there are (none:
    nothing happens)."""
    if problems:
        more = f" (and {len(problems) - 1} more problems: ravdess-prep check {folder})" if len(problems) > 1 else ""
        raise DatasetError(f"{problems[0]}{more}")


def require_sound(manifest: Manifest, *, digests: bool = True,
                  arrays: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> None:
    """The one check of a dataset folder that every reader calls before any work: the manifest
    agrees with its folder (:func:`check_recorded`), and the folder has no problem
    (:func:`manifest_problems`: every file the manifest records hashed, unless ``digests`` is
    False; ``arrays``: what the reader has loaded).

    Raises:
        ManifestError: The manifest contradicts its folder (edited since the build).
        DatasetError: The first problem of the folder, and how many there are.
    """
    folder = Path(manifest.path).parent
    check_recorded(manifest, folder)
    raise_problems(manifest_problems(manifest, digests=digests, arrays=arrays), folder)


def check_recorded(manifest: Manifest, folder: str | os.PathLike) -> None:
    """Raise :class:`ManifestError` where a manifest contradicts its folder's ``metadata.csv``:
    a measured target length that is not the longest kept clip. (A hand-edited manifest would
    otherwise embed new files other than its bundles were; the bundles' shapes are
    :func:`manifest_problems`'s.)
    """
    import pandas as pd

    folder = Path(folder)
    where = str(manifest.path or folder / MANIFEST)
    metadata = folder / METADATA
    if manifest.config.target_length_samples is None and metadata.is_file():
        table = pd.read_csv(metadata, keep_default_na=False)
        kept = table[table["split"] != "dropped"]
        if "trimmed_length_samples" in kept and len(kept):
            longest = int(kept["trimmed_length_samples"].max())
            if longest != manifest.target.length_samples:
                raise ManifestError(f"{where}: target_length_samples {manifest.target.length_samples} is not the "
                                    f"longest kept clip of {metadata} ({longest} samples): was the manifest edited?")
