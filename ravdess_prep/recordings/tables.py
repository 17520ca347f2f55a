"""The results of a job as a table: CSV, JSON or Parquet by the output's extension (and the
rows alone as ``.npy`` for ``embed``), written to a temporary name and renamed into place.

A table is a set of named columns of equal length (numpy arrays); an embedding is one column
of rows ``(n, *row shape)``: in CSV flattened into ``e0``, ``e1``, ... columns, in JSON a nested
list per row, in Parquet a flat list per row with the row's shape in the file's metadata
(``ravdess_prep.embedding_shape``).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from pathlib import Path
from typing import Mapping

import numpy as np

from ..exceptions import ParameterError, option
from ..storage.atomic import atomic_path

#: The table formats, by extension.
TABLE_SUFFIXES = (".csv", ".json", ".parquet")
#: The column of embeddings (rows of any shape).
EMBEDDING = "embedding"


def table_suffix(path: str | os.PathLike, *, flag: str = "out", rows: bool = False) -> str:
    """The format of an output, from its extension (``rows``: ``.npy`` allowed too).

    Raises:
        ParameterError: Another extension; the message lists those read.
    """
    suffix = Path(path).suffix.lower()
    allowed = TABLE_SUFFIXES + ((".npy",) if rows else ())
    if suffix not in allowed:
        raise ParameterError(f"{option(flag, str(path))}: the extension says the format; give one of "
                             f"{', '.join(allowed)}")
    if suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        raise ParameterError(f"{option(flag, str(path))}: writing Parquet needs pyarrow (pip install pyarrow); or "
                             "give a .csv or .json output")
    return suffix


def write_table(path: str | os.PathLike, columns: Mapping[str, np.ndarray]) -> Path:
    """Write ``columns`` to ``path`` in the format its extension names (see the module docstring)."""
    path = Path(path)
    suffix = table_suffix(path, rows=True)
    with atomic_path(path, suffix=suffix) as temporary:
        if suffix == ".npy":
            with open(temporary, "wb") as stream:
                np.save(stream, np.asarray(columns[EMBEDDING], np.float32), allow_pickle=False)
        elif suffix == ".csv":
            _frame(columns, flat=True).to_csv(temporary, index=False)
        elif suffix == ".json":
            with open(temporary, "w", encoding="utf-8") as stream:
                json.dump(_records(columns), stream, indent=1)
                stream.write("\n")
        else:
            _write_parquet(temporary, columns)
    return path


def _frame(columns: Mapping[str, np.ndarray], *, flat: bool):
    import pandas as pd

    data = {}
    for name, values in columns.items():
        values = np.asarray(values)
        if name == EMBEDDING and flat:
            rows = values.reshape(values.shape[0], -1)
            data.update({f"e{index}": rows[:, index] for index in range(rows.shape[1])})
        elif values.ndim > 1:
            data[name] = list(values.reshape(values.shape[0], -1))
        else:
            data[name] = values
    return pd.DataFrame(data)


def _plain(value):
    """A JSON value: NaN as null, numpy scalars as Python's."""
    if isinstance(value, np.ndarray):
        return [_plain(item) for item in value]
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else round(float(value), 7)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    return value.item() if isinstance(value, np.generic) else value


def _records(columns: Mapping[str, np.ndarray]) -> list[dict]:
    names = list(columns)
    count = len(next(iter(columns.values()))) if columns else 0
    return [{name: _plain(np.asarray(columns[name])[index]) for name in names} for index in range(count)]


def _write_parquet(path: Path, columns: Mapping[str, np.ndarray]) -> None:
    import pyarrow
    import pyarrow.parquet

    table = pyarrow.Table.from_pandas(_frame(columns, flat=False), preserve_index=False)
    if EMBEDDING in columns:
        shape = list(np.asarray(columns[EMBEDDING]).shape[1:])
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               b"ravdess_prep.embedding_shape": json.dumps(shape).encode()})
    pyarrow.parquet.write_table(table, path)
