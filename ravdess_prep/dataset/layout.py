"""The bundle files of a dataset folder (:func:`bundle_paths`) and writing the whole folder at
once (:func:`write_folder`): into a staging folder, then put in place of the old one."""

from __future__ import annotations

import hashlib
import io
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
    files: dict[str, bytes] = {}
    for split, bundle in bundles.items():
        for part, array in (("names", np.asarray(bundle.names, dtype=str)),
                            ("embeddings", np.asarray(bundle.embeddings, dtype=np.float32)),
                            ("labels", np.asarray(bundle.labels, dtype=np.int32))):
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            files[relative[split][part].as_posix()] = buffer.getvalue()
    files[METADATA] = metadata.to_csv(index=False, lineterminator="\n").encode("utf-8")
    digests = {name: hashlib.sha256(content).hexdigest() for name, content in sorted(files.items())}
    manifest = {**manifest, "bundle_sha256": digests}
    manifest[MANIFEST_DIGEST] = json_digest(manifest)
    files[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    files.update({name: content.encode("utf-8") if isinstance(content, str) else content
                  for name, content in extra.items()})
    files[WRITTEN] = "".join(f"{name}\n" for name in sorted([*files, WRITTEN])).encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(out)
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for name, content in files.items():
            path = staging / name
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
            except OSError as error:
                raise OutputError(f"{out / name}: cannot be written ({write_cause(error)}); nothing was replaced, "
                                  f"{out} is as it was") from None
        replace_folder(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return digests
