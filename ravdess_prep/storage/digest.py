"""Content digests of files, folders and checkpoint prefixes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Mapping


def file_digest(path: str | os.PathLike, algorithm: str = "sha256", *, chunk_bytes: int = 1 << 20) -> str:
    """The hex digest of a file (``algorithm`` is any name :func:`hashlib.new` accepts)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def path_sha256(path: str | os.PathLike) -> str:
    """SHA-256 that identifies a model file, a model folder or a checkpoint prefix.

    A file: the SHA-256 of its bytes. A folder (a SavedModel): the SHA-256 of the lines
    ``<relative path> <SHA-256>`` of every file in it, in sorted order. A path that is neither
    but prefixes files (a V2 checkpoint ``model.ckpt`` of ``model.ckpt.index`` and
    ``model.ckpt.data-*``): the same over those files, named by their file names.

    Raises:
        FileNotFoundError: Nothing is there.
    """
    path = Path(path)
    if path.is_file():
        return file_digest(path)
    if path.is_dir():
        parts = sorted(part for part in path.rglob("*") if part.is_file())
        names = [part.relative_to(path).as_posix() for part in parts]
    else:
        parts = sorted(path.parent.glob(f"{path.name}.*")) if path.parent.is_dir() else []
        names = [part.name for part in parts]
        if not parts:
            raise FileNotFoundError(f"{path}: no such file or folder")
    lines = "".join(f"{name} {file_digest(part)}\n" for name, part in zip(names, parts))
    return hashlib.sha256(lines.encode()).hexdigest()


def json_digest(values: Mapping, *, allow_nan: bool = False) -> str:
    """The SHA-256 of JSON values in one canonical spelling (sorted keys, no spaces, ASCII):
    the same for the values written and for the values read back (``allow_nan``: NaN spelled
    as JSON readers of Python spell it, for records of scores that may hold one)."""
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=allow_nan)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def identical_files(paths) -> list[list[str]]:
    """Groups of two or more of ``paths`` whose bytes are identical, each in the order given.

    Only files that share a size with another are read (their SHA-256), so a folder of files of
    distinct sizes costs one ``stat`` per file.
    """
    by_size: dict[int, list[str]] = {}
    for path in paths:
        by_size.setdefault(os.stat(path).st_size, []).append(str(path))
    by_digest: dict[str, list[str]] = {}
    for same_size in by_size.values():
        if len(same_size) > 1:
            for path in same_size:
                by_digest.setdefault(file_digest(path), []).append(path)
    return [group for group in by_digest.values() if len(group) > 1]
