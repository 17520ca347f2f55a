"""The bundle files of a dataset folder (:func:`bundle_paths`) and writing the whole folder at
once (:func:`write_folder`): into a staging folder, then put in place of the old one."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Protocol

import numpy as np

from ..exceptions import OutputError, write_cause
from ..params import MANIFEST, MANIFEST_DIGEST, METADATA
from ..storage.atomic import replace_folder, staging_folder
from ..storage.digest import json_digest
from ..storage.guards import WRITTEN

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas


def bundle_paths(out: str | os.PathLike, split: str) -> dict[str, Path]:
    """The three files of a split: ``{"names": ..., "embeddings": ..., "labels": ...}``."""
    folder = Path(out) / split
    return {
        "names": folder / f"{split}_filenames.npy",
        "embeddings": folder / f"{split}_embeddings.npy",
        "labels": folder / f"{split}_labels.npy",
    }


class SplitArrays(Protocol):
    """What :func:`write_folder` writes of a split (a :class:`ravdess_prep.dataset.bundles.Bundle` is one)."""

    names: np.ndarray
    embeddings: np.ndarray
    labels: np.ndarray


def write_folder(
    out: str | os.PathLike,
    bundles: Mapping[str, SplitArrays],
    *,
    manifest: dict,
    metadata: "pandas.DataFrame",
    extra: Mapping[str, str | bytes] = {},
) -> dict[str, str]:
    """Write every split, the manifest and the metadata into ``out``, atomically.

    Args:
        out: The output folder; an existing one is replaced as a whole.
        bundles: ``{split: bundle}``, each with ``names``, ``embeddings`` and ``labels``
            (see :class:`ravdess_prep.dataset.bundles.Bundle`).
        manifest: JSON-ready dictionary, written with sorted keys, with ``bundle_sha256``
            (the SHA-256 of every file a reader reads: the bundle files and ``metadata.csv``)
            and then ``manifest_sha256`` (of the manifest's own values,
            :func:`ravdess_prep.storage.digest.json_digest`) added.
        metadata: One row per clip, written as CSV without the index.
        extra: ``{file name: text or bytes}`` of other files to write beside them.

    Returns:
        ``bundle_sha256``, as the manifest written records it: ``{relative path: SHA-256}`` of
        every bundle file and of ``metadata.csv``.
    """
    out = Path(out).absolute()
    relative = {split: bundle_paths("", split) for split in bundles}
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(out)
    shutil.rmtree(staging, ignore_errors=True)
    digests: dict[str, str] = {}

    def put(name: str, write) -> None:
        """Write one file into the staging folder through ``write(stream)``, hashing it as it
        goes (an array is written in numpy's chunks, never held whole as bytes)."""
        path = staging / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as raw:
                stream = _Hashing(raw)
                write(stream)
        except OSError as error:
            raise OutputError(f"{out / name}: cannot be written ({write_cause(error)}); nothing was replaced, "
                              f"{out} is as it was") from None
        digests[name] = stream.digest.hexdigest()

    try:
        for split, bundle in bundles.items():
            for part, array in (("names", np.asarray(bundle.names, dtype=str)),
                                ("embeddings", np.asarray(bundle.embeddings, dtype=np.float32)),
                                ("labels", np.asarray(bundle.labels, dtype=np.int32))):
                put(relative[split][part].as_posix(), lambda stream, array=array: np.save(stream, array,
                                                                                            allow_pickle=False))
        table = metadata.to_csv(index=False, lineterminator="\n").encode("utf-8")
        put(METADATA, lambda stream: stream.write(table))
        written = dict(sorted(digests.items()))
        manifest = {**manifest, "bundle_sha256": written}
        manifest[MANIFEST_DIGEST] = json_digest(manifest)
        files = {MANIFEST: (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")}
        files.update({name: content.encode("utf-8") if isinstance(content, str) else content
                      for name, content in extra.items()})
        files[WRITTEN] = "".join(f"{name}\n" for name in sorted([*written, *files, WRITTEN])).encode()
        for name, content in files.items():
            put(name, lambda stream, content=content: stream.write(content))
        replace_folder(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


class _Hashing:
    """A binary file that hashes what is written through it (SHA-256); numpy sees no real
    file, so it writes an array in chunks of its buffer size."""

    def __init__(self, raw):
        self.raw, self.digest = raw, hashlib.sha256()

    def write(self, data) -> int:
        self.digest.update(data)
        return self.raw.write(data)
