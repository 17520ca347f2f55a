"""The parts of a dataset folder a build assembles: the metadata table, the bundle of each
split and its summary, the source record, the versions.

Pure functions of the build's results; :meth:`ravdess_prep.build.plan.BuildPlan.write` puts
them together with the data card (:mod:`ravdess_prep.dataset.card`) and
:func:`ravdess_prep.dataset.layout.write_folder` writes them atomically.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..audio.measure import Measurement
from ..corpora import Corpus
from ..corpora.base import ROOT_COLUMN
from ..params import SPLITS
from ..storage.folders import read_extraction_record
from ..version import __version__
from .bundles import Bundle

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas

#: Packages whose versions a manifest records.
RECORDED_PACKAGES = ("numpy", "tensorflow", "tensorflow-cpu", "tf-slim", "keras", "librosa", "resampy", "soundfile",
                     "opensmile", "torch", "transformers")


def metadata_table(clips: "pandas.DataFrame", measurement: Measurement,
                   audio_sha256: Sequence[str]) -> "pandas.DataFrame":
    """One row per clip of the split inventory: its metadata, split (``dropped`` for a clip a
    policy dropped), trim offsets, what a policy did, and its audio file's SHA-256 (kept
    clips). The inventory's ``path`` and source folder stay in the table (for the bundles'
    order); :func:`written_metadata` leaves them out."""
    import pandas as pd

    offsets = pd.DataFrame({
        "clip_name": [clip.name for clip in measurement.clips],
        "num_samples_at_rate": [clip.num_samples for clip in measurement.clips],
        "trim_start": [clip.start for clip in measurement.clips],
        "trim_end": [clip.end for clip in measurement.clips],
        "handled": pd.Series([clip.handled for clip in measurement.clips], dtype=object),
    })
    offsets["trimmed_length_samples"] = offsets["trim_end"] - offsets["trim_start"]
    kept = [clip.name for clip in measurement.clips if not clip.dropped]
    hashes = pd.DataFrame({"clip_name": kept, "audio_sha256": list(audio_sha256)})
    table = pd.merge(pd.merge(clips, offsets, on="clip_name", how="left"), hashes, on="clip_name", how="left")
    return table.assign(split=table["split"].where(table["clip_name"].isin(set(kept)), "dropped"))


def written_metadata(table: "pandas.DataFrame") -> "pandas.DataFrame":
    """The table as ``metadata.csv`` holds it (no file paths)."""
    return table.drop(columns=["path", ROOT_COLUMN], errors="ignore")


def split_bundles(table: "pandas.DataFrame", rows: np.ndarray, *, corpus: Corpus,
                  axes: tuple[str, ...]) -> tuple[dict[str, Bundle], dict]:
    """Each split's :class:`Bundle` and its summary for the manifest.

    Args:
        table: The metadata table (:func:`metadata_table`).
        rows: Every kept clip's bundle row, in the order of the kept clips in ``table``.
        corpus: The corpus (its speaker, label and facet columns).
        axes: A row's axes (the manifest's).

    Returns:
        ``({split: Bundle}, {split: {"clips", "speakers", "label_counts", "counts"}})``.
    """
    kept = table[table["split"] != "dropped"]
    position = {name: index for index, name in enumerate(kept["clip_name"])}
    bundles, summary = {}, {}
    for name in SPLITS:
        part = kept[kept["split"] == name]
        labels = part[corpus.label_column].to_numpy(np.int32)
        bundles[name] = Bundle(part["clip_name"].to_numpy(str), rows[[position[clip] for clip in part["clip_name"]]],
                               labels, axes=axes)
        summary[name] = {
            "clips": int(len(part)),
            "speakers": sorted(int(speaker) for speaker in part[corpus.speaker_column].unique()),
            "label_counts": np.bincount(labels, minlength=len(corpus.label_names)).tolist(),
            "counts": {column: {str(value): int(count) for value, count in part[column].value_counts().sort_index().items()}
                       for column in corpus.facet_columns},
        }
    return bundles, summary


def source_record(table: "pandas.DataFrame", *, excluded: dict[str, int] | None = None) -> dict:
    """The manifest's ``source``: the folders scanned, their archives, the files the corpus left
    out, and a digest of every kept clip's name and SHA-256."""
    kept = table[table["split"] != "dropped"]
    roots = list(dict.fromkeys(table[ROOT_COLUMN].astype(str))) if ROOT_COLUMN in table else []
    lines = "".join(f"{name}\t{digest}\n" for name, digest in sorted(zip(kept["clip_name"], kept["audio_sha256"])))
    return {
        "roots": roots,
        "archives": [record for root in roots if (record := read_extraction_record(root)) is not None],
        "clips": int(len(kept)),
        "clips_sha256": hashlib.sha256(lines.encode()).hexdigest(),
        "excluded": dict(sorted((excluded or {}).items())),
    }


def versions() -> dict:
    """The versions of this library and of :data:`RECORDED_PACKAGES` that are installed."""
    found = {"ravdess_prep": __version__}
    for package in RECORDED_PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found
