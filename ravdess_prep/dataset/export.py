"""Bundles in the formats other tools read: Parquet (pandas, Hugging Face ``datasets``, Spark,
DuckDB) and a Hugging Face ``DatasetDict`` saved to disk.

What the embeddings are goes with them: the Parquet schema's metadata (``ravdess_prep.*`` keys)
and each split's ``DatasetInfo.description`` (JSON) hold :func:`output_facts`: the description
of the embeddings, the label names, a row's axes and, for a stack of layers, which layers.

One row per clip: every column of ``metadata.csv`` (the clip's name, split, the corpus's
metadata, trim offsets, audio SHA-256), ``speaker`` (the corpus's speaker column, by that name
too), ``label_name``, and ``embedding``: a fixed-size list of float32 per clip (pooled and
clip-level bundles) or of such lists per example. The values are the bundles' own, bit for bit.

``pyarrow`` and ``datasets`` are the optional extra ``export`` (``pip install -e ".[export]"``),
imported only here, when an export runs.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..exceptions import ParameterError, RavdessPrepError, SourceError
from ..params import METADATA, SPLITS
from ..storage.atomic import atomic_path, write_errors
from ..storage.guards import check_new_file
from .bundles import read_dataset
from .manifest import Manifest

FORMATS = ("parquet", "hf")
#: The split names of a Hugging Face DatasetDict (its convention calls dev "validation").
HF_SPLITS = {"train": "train", "dev": "validation", "test": "test"}


def _missing(module: str) -> RavdessPrepError:
    return RavdessPrepError(f"exporting needs {module}: pip install -e \".[export]\" (or pip install pyarrow datasets)")


def clip_rows(bundles_dir: str | os.PathLike) -> tuple["object", dict]:
    """The rows of every kept clip, in bundle order (train, dev, test), and the dataset's manifest.

    Returns:
        ``(table, manifest)``: a pandas DataFrame with the metadata columns, ``speaker``,
        ``label_name`` and ``embedding`` (one float32 array per row).

    Raises:
        SourceError: Not a bundle folder of this library, or bundles and metadata disagree.
    """
    import pandas as pd

    manifest = Manifest.read(bundles_dir)
    metadata_path = Path(bundles_dir) / METADATA
    if not metadata_path.is_file():
        raise SourceError(f"{metadata_path}: missing; is {bundles_dir} a folder written by ravdess-prep build?")
    metadata = pd.read_csv(metadata_path, keep_default_na=False).set_index("clip_name", drop=False)
    corpus = manifest["corpus"]
    parts = []
    for split, bundle in read_dataset(bundles_dir, manifest=manifest, allow_pickled_names=False)[1].items():
        part = metadata.loc[bundle.names.tolist()].reset_index(drop=True)  # read_bundles named any missing row
        if (part[corpus["label_column"]].to_numpy() != bundle.labels).any():
            raise SourceError(f"{bundles_dir}: the {split} labels differ from metadata.csv")
        part["speaker"] = part[corpus["speaker_column"]]
        part["label_name"] = [corpus["label_names"][label] for label in bundle.labels]
        part["embedding"] = list(bundle.embeddings)
        parts.append(part)
    return pd.concat(parts, ignore_index=True), manifest


def _arrow_table(table):
    import pyarrow as pa

    columns = {}
    for name in table.columns:
        if name == "embedding":
            stacked = np.stack(table["embedding"].to_list()).astype(np.float32, copy=False)
            array = pa.array(stacked.reshape(-1))
            for size in reversed(stacked.shape[1:]):
                array = pa.FixedSizeListArray.from_arrays(array, size)
            columns[name] = array
        else:
            columns[name] = pa.array(table[name].tolist())
    return pa.table(columns)


def output_facts(manifest: Manifest) -> dict[str, str]:
    """What an exported embedding is, as text: the manifest's format and description of the
    embeddings, the label names, the axes of a row and, for a stack of layers, which layers
    (numbered as the embedder numbers them) and what a number means."""
    output = manifest.output
    facts = {"manifest_format": manifest["format"], "embeddings": manifest["embeddings"],
             "label_names": ",".join(manifest["corpus"]["label_names"]),
             "axes": ",".join(output.get("axes", ())[1:])}  # a row's: the first axis is the clips
    if "layers" in output:
        facts["layers"] = ",".join(map(str, output["layers"]))
        facts["layer_meaning"] = str(output.get("layer_meaning", ""))
    return facts


def write_parquet(bundles_dir: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Every clip of a bundle folder as one Parquet file (a ``split`` column tells the splits).

    Raises:
        OutputError: ``path`` exists (nothing is replaced), or lies inside a dataset folder.
        SourceError: See :func:`clip_rows`.
    """
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise _missing("pyarrow") from None

    path = Path(path)
    check_new_file(path)
    table, manifest = clip_rows(bundles_dir)
    arrow = _arrow_table(table).replace_schema_metadata({f"ravdess_prep.{key}": value
                                                         for key, value in output_facts(manifest).items()})
    with atomic_path(path, suffix=".parquet") as temporary:
        pq.write_table(arrow, temporary)
    return path


def to_hf_dataset(bundles_dir: str | os.PathLike):
    """A bundle folder as a ``datasets.DatasetDict`` (train, validation, test; an empty split is
    left out) with typed features: the label a ``ClassLabel`` with the corpus's names, the
    embedding an ``Array2D`` per clip of examples or a fixed-length ``Sequence`` per pooled clip."""
    try:
        import datasets
    except ImportError:
        raise _missing("datasets") from None
    table, manifest = clip_rows(bundles_dir)
    corpus = manifest["corpus"]
    shape = np.asarray(table["embedding"].iloc[0]).shape
    features = {}
    for name in table.columns:
        if name == "embedding":
            arrays = {2: datasets.Array2D, 3: datasets.Array3D, 4: datasets.Array4D}
            features[name] = (arrays[len(shape)](shape=shape, dtype="float32") if len(shape) > 1
                              else datasets.Sequence(datasets.Value("float32"), length=shape[0]))
        elif name == corpus["label_column"]:
            features[name] = datasets.ClassLabel(names=list(corpus["label_names"]))
        else:
            features[name] = datasets.Value(_value_type(table[name]))
    features = datasets.Features(features)
    splits = {}
    for split in SPLITS:
        part = table[table["split"] == split]
        if part.empty:  # an empty split cannot be saved and loaded again by datasets
            continue
        columns = {name: (list(part[name]) if name == "embedding" else part[name].tolist()) for name in part.columns}
        info = datasets.DatasetInfo(description=json.dumps(output_facts(manifest), sort_keys=True), features=features)
        splits[HF_SPLITS[split]] = datasets.Dataset.from_dict(columns, features=features, info=info)
    return datasets.DatasetDict(splits)


def write_hf(bundles_dir: str | os.PathLike, path: str | os.PathLike, *, progress: bool = True) -> Path:
    """:func:`to_hf_dataset` saved with ``DatasetDict.save_to_disk``, into a temporary folder
    renamed into place (``progress``: ``datasets``' progress bars).

    Raises:
        OutputError: ``path`` exists (nothing is replaced), or lies inside a dataset folder.
    """
    path = Path(path)
    check_new_file(path)
    dataset = to_hf_dataset(bundles_dir)
    staging = path.with_name(f".{path.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    import datasets

    shown = datasets.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()
    try:
        with write_errors(path):
            dataset.save_to_disk(str(staging))
            os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if shown and not progress:
            datasets.enable_progress_bars()
    return path


def export(bundles_dir: str | os.PathLike, *, format: str, out: str | os.PathLike, progress: bool = True) -> Path:
    """Write a bundle folder in ``format`` (``"parquet"`` or ``"hf"``) to ``out``
    (``progress``: progress bars, where the format's writer has them)."""
    if format not in FORMATS:
        raise ParameterError(f"format has to be one of {', '.join(map(repr, FORMATS))}, not {format!r}")
    if format == "parquet":
        return write_parquet(bundles_dir, out)
    return write_hf(bundles_dir, out, progress=progress)


def _value_type(column) -> str:
    kind = column.dtype.kind
    if kind in "iu":
        return "int64"
    if kind == "f":
        return "float64"
    if kind == "b":
        return "bool"
    return "string"
