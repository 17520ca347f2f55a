"""Whether a dataset folder still is what its manifest says it is.

A build records in the manifest every split it wrote (clips, label counts), the shape of a row,
and the SHA-256 of every bundle file. :func:`manifest_problems` checks a folder against all of
it: each split's three files present, their digests, their shapes against each other and the
manifest, every embedding finite, every label one of the corpus's. ``ravdess-prep check``
prints what it finds; the commands that read a dataset (export, train, crossval, embed,
predict) make the cheap part of the check (everything but the digests) and refuse a damaged
dataset naming the file (:func:`require_intact`, and :func:`split_problems` on the arrays a
reader has loaded anyway).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..exceptions import DatasetError
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


def manifest_problems(manifest: Manifest, *, digests: bool = True) -> list[str]:
    """Every problem of the dataset folder a manifest was read from, a line each naming the
    file (empty: none).

    Args:
        manifest: The dataset's manifest, read from its folder.
        digests: Also hash every bundle file against the SHA-256 the manifest recorded (the
            expensive part; a dataset written before they were recorded has none to compare).
    """
    folder = Path(manifest.path).parent
    problems = missing_files(folder, manifest)
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
        try:
            arrays = {part: np.load(path, mmap_mode="r", allow_pickle=False) for part, path in paths.items()}
        except (ValueError, OSError, EOFError) as error:
            problems.append(f"{folder / split}: a bundle file cannot be read ({' '.join(str(error).split())})")
            continue
        problems += split_problems(folder, split, manifest, **arrays)
    return problems


def raise_problems(problems: list[str], folder: str | os.PathLike) -> None:
    """Raise :class:`DatasetError` with the first of ``problems`` and how many there are (none:
    nothing happens)."""
    if problems:
        more = f" (and {len(problems) - 1} more problems: ravdess-prep check {folder})" if len(problems) > 1 else ""
        raise DatasetError(f"{problems[0]}{more}")


def require_intact(manifest: Manifest) -> None:
    """Raise unless the dataset folder of ``manifest`` passes the cheap checks (every file
    present, shapes, finiteness, labels; not the digests).

    Raises:
        DatasetError: The first problem, and how many there are.
    """
    raise_problems(manifest_problems(manifest, digests=False), Path(manifest.path).parent)
