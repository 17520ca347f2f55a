"""The output folder: checked before a build, locked while one writes it, its layout, and
written whole into a staging folder that replaces the old one atomically.

- :func:`check_output` refuses, before any work, an ``--out`` that is a file, that is or holds a
  source folder, the cache or a model file, or that is a non-empty folder this library did not
  write (recognised by its manifest).
- :class:`OutputLock` lets one build write a folder at a time: a second gets a clear error.
- :func:`replace_folder` puts a finished staging folder in place of the old one. On Linux it
  exchanges the two in one ``renameat2(RENAME_EXCHANGE)``, so ``--out`` is whole at every
  instant; elsewhere (or where the file system refuses) it renames the old one aside first,
  and :func:`recover_leftovers` (run by the next build) puts it back if the process died
  between the two renames, and removes staging folders of dead processes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import json
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

import numpy as np

from .exceptions import OutputError, ParameterError
from .params import MANIFEST, MANIFEST_FORMAT_PREFIX, METADATA

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas

    from .bundle import Bundle

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)$")


def is_dataset_folder(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a manifest this library wrote."""
    try:
        with open(Path(folder) / MANIFEST, encoding="utf-8") as stream:
            return str(json.load(stream).get("format", "")).startswith(MANIFEST_FORMAT_PREFIX)
    except (OSError, ValueError, AttributeError):
        return False


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output(out: str | os.PathLike, *, protected: Iterable[tuple[str, str | os.PathLike]] = ()) -> Path:
    """Refuse an output folder that would lose data; returns it, absolute and resolved.

    Args:
        out: The output folder.
        protected: ``(what, path)`` pairs that ``out`` must neither be nor contain (the source
            folders, the cache, the model files).

    Raises:
        OutputError: ``out`` is a file, is or contains a protected path, or is a non-empty
            folder that is not a dataset of this library; the message says what to do.
    """
    out = Path(out).expanduser().absolute().resolve()
    for what, path in protected:
        path = Path(path).expanduser().absolute().resolve()
        if _within(path, out):
            relation = "is" if path == out else "contains"
            raise OutputError(f"{out}: the output folder {relation} the {what} {path}; choose another --out "
                              "(a build replaces its output folder as a whole)")
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: the output exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not is_dataset_folder(out):
        raise OutputError(f"{out}: a non-empty folder that ravdess-prep did not write (no manifest of its own); "
                          "choose another --out, or empty or remove this folder yourself")
    return out


class OutputLock:
    """An exclusive lock on an output folder while a build writes it (``.<name>.lock`` beside
    it, held with ``flock``; the lock goes with the process, so a killed build leaves none held).

    Raises:
        OutputError: Another process holds it.
    """

    def __init__(self, out: str | os.PathLike):
        out = Path(out)
        self.path = out.with_name(f".{out.name}.lock")
        self._fd: int | None = None
        self._created: list[Path] = []

    def __enter__(self) -> "OutputLock":
        missing = [folder for folder in [self.path.parent, *self.path.parent.parents] if not folder.exists()]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._created = missing  # removed again, if still empty, when the lock is released
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = self.path.read_text().strip() if self.path.exists() else "?"
                raise OutputError(f"{self.path.parent / self.path.name[1:-5]}: another build is writing this folder "
                                  f"(process {holder}); wait for it to finish or choose another --out") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:  # its holder removed it as we opened it: take a new one
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None
        for folder in self._created:  # deepest first: a failed build leaves no empty folders
            try:
                folder.rmdir()
            except OSError:
                break


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where that is not available."""
    name = ctypes.util.find_library("c")
    try:
        renameat2 = ctypes.CDLL(name, use_errno=True).renameat2
    except (OSError, AttributeError, TypeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if result == 0:
        return True
    if ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(second))


def staging_folder(target: str | os.PathLike) -> Path:
    """The staging folder of this process for ``target`` (``.<name>.partial-<pid>`` beside it)."""
    target = Path(target)
    return target.with_name(f".{target.name}.partial-{os.getpid()}")


def replace_folder(staging: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Put the complete folder ``staging`` at ``target``, replacing what is there.

    ``target`` is whole at every instant where the platform can exchange two folders in one
    step; elsewhere the old folder is renamed to ``.<name>.old-<pid>`` first, and removed after
    (:func:`recover_leftovers` restores it if the process dies in between).
    """
    staging, target = Path(staging), Path(target)
    if target.exists() and _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # the old folder, now at the staging name
        return target
    retired = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.replace(target, retired)
    os.replace(staging, target)
    shutil.rmtree(retired, ignore_errors=True)
    return target


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_leftovers(target: str | os.PathLike) -> list[Path]:
    """Clean what dead processes left beside ``target``: put back an old folder renamed aside
    when ``target`` is missing, and remove their staging folders. Returns what was removed."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    removed = []
    for path in sorted(target.parent.iterdir()):
        match = _LEFTOVER.match(path.name)
        if not match or match["name"] != target.name:
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or _alive(pid):
            continue
        if match["kind"] == "old" and not target.exists():
            os.replace(path, target)  # the process died between the two renames of a replacement
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def check_new_file(path: str | os.PathLike, *, flag: str = "--out") -> Path:
    """Refuse a file output that names an existing folder (before any work)."""
    path = Path(path)
    if path.is_dir():
        raise ParameterError(f"{path}: is a folder; {flag} names the file to write")
    return path


def bundle_paths(out: str | os.PathLike, split: str) -> dict[str, Path]:
    """The three files of a split: ``{"names": ..., "embeddings": ..., "labels": ...}``."""
    folder = Path(out) / split
    return {
        "names": folder / f"{split}_filenames.npy",
        "embeddings": folder / f"{split}_embeddings.npy",
        "labels": folder / f"{split}_labels.npy",
    }


def write_folder(
    out: str | os.PathLike,
    bundles: Mapping[str, "Bundle"],
    *,
    manifest: dict,
    metadata: "pandas.DataFrame",
    extra: Mapping[str, str | bytes] = {},
) -> Path:
    """Write every split, the manifest and the metadata into ``out``, atomically.

    Args:
        out: The output folder; an existing one is replaced as a whole.
        bundles: ``{split: bundle}``, each with ``names``, ``embeddings`` and ``labels``
            (see :class:`ravdess_prep.bundle.Bundle`).
        manifest: JSON-ready dictionary, written with sorted keys.
        metadata: One row per clip, written as CSV without the index.
        extra: ``{file name: text or bytes}`` of other files to write beside them.

    Returns:
        ``out``.
    """
    out = Path(out).absolute()
    relative = {split: bundle_paths("", split) for split in bundles}
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(out)
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for split, bundle in bundles.items():
            paths = {part: staging / path for part, path in relative[split].items()}
            paths["names"].parent.mkdir(parents=True)
            np.save(paths["names"], np.asarray(bundle.names, dtype=str), allow_pickle=False)
            np.save(paths["embeddings"], np.asarray(bundle.embeddings, dtype=np.float32), allow_pickle=False)
            np.save(paths["labels"], np.asarray(bundle.labels, dtype=np.int32), allow_pickle=False)
        with open(staging / MANIFEST, "w", encoding="utf-8") as stream:
            json.dump(manifest, stream, indent=2, sort_keys=True)
            stream.write("\n")
        metadata.to_csv(staging / METADATA, index=False, lineterminator="\n")
        for name, content in extra.items():
            (staging / name).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        replace_folder(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
