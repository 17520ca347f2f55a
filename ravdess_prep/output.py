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
import hashlib
import io
import json
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Protocol

import numpy as np

from .exceptions import OutputError, option, write_cause
from .digest import json_digest
from .params import MANIFEST, MANIFEST_DIGEST, MANIFEST_FORMAT_PREFIX, METADATA

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas

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


#: The record of the files a build wrote into its folder (one relative path per line).
WRITTEN = ".ravdess-prep-written"
# What earlier versions wrote into a dataset folder (they kept no record).
_EARLIER_LAYOUT = re.compile(r"^((train|dev|test)/(train|dev|test)_(filenames|embeddings|labels)\.npy|manifest\.json|"
                             r"metadata\.csv|README\.md|lengths\.png|counts\.png|feature_names\.txt)$")


def foreign_files(folder: str | os.PathLike) -> list[str]:
    """The files of a dataset folder that its build did not write (relative paths, sorted)."""
    folder = Path(folder)
    record = folder / WRITTEN
    written = set(record.read_text().splitlines()) | {WRITTEN} if record.is_file() else None
    found = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if not path.is_dir())
    return [name for name in found if (name not in written if written is not None else not _EARLIER_LAYOUT.match(name))]


def dataset_holding(path: str | os.PathLike) -> Path | None:
    """The dataset folder that ``path`` is inside of (or is), or None."""
    path = Path(path).expanduser().absolute()
    for folder in [path, *path.parents]:
        if is_dataset_folder(folder):
            return folder
    return None


def check_outside_datasets(path: str | os.PathLike, *, flag: str) -> Path:
    """Refuse an output inside a dataset folder (its next build replaces the folder whole).

    Raises:
        OutputError: ``path`` is, or is inside, a folder ravdess-prep built; the message names it.
    """
    dataset = dataset_holding(path)
    if dataset is not None:
        raise OutputError(f"{path}: inside the dataset folder {dataset}, which only its build writes (and replaces as "
                          f"a whole); choose a {option(flag)} outside it")
    return Path(path)


def json_record_with(path: Path, keys: Iterable[str]) -> bool:
    """Whether ``path`` holds a JSON object with every one of ``keys`` (how a command knows a
    report it wrote)."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(value, dict) and all(key in value for key in keys)


def check_report_path(path: str | os.PathLike, *, flag: str, command: str, ours: Callable[[Path], bool]) -> Path:
    """Refuse, before any work, a report's path (``--json``, ``--plot``) that is a folder, lies
    in a missing folder or in a dataset folder, or is a file ``command`` did not write
    (``ours(path)`` says whether it did).

    Raises:
        OutputError: The message names the path.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: a folder; {option(flag)} takes a file name")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: its folder {path.parent} does not exist")
    check_outside_datasets(path, flag=flag)
    if path.exists() and not ours(path):
        raise OutputError(f"{path}: a file that {command} did not write; choose another {option(flag)}")
    return path


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
    _check_parent(out, "out")
    if out.is_dir() and any(out.iterdir()) and not is_dataset_folder(out):
        raise OutputError(f"{out}: a non-empty folder that ravdess-prep did not write (no manifest of its own); "
                          "choose another --out, or empty or remove this folder yourself")
    foreign = foreign_files(out) if out.is_dir() and is_dataset_folder(out) else []
    if foreign:
        raise OutputError(f"{out}: the dataset folder holds files its build did not write ({', '.join(foreign[:3])}"
                          + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "") + "), which replacing it "
                          "would delete; move them out, or choose another --out")
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
        _check_parent(self.path.with_name(self.path.name[1:-5]), "out")
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


#: The rule every command follows for its outputs, for ``--help``.
OUTPUT_RULE = ("an existing output is never replaced, except a folder the same command wrote (a dataset for build, a "
               "model for train); nothing is written inside a dataset folder but by its build")


def _check_parent(path: Path, flag: str, *, into: bool = False) -> None:
    """Refuse, before any work, an output whose nearest existing parent (or, ``into``: the
    folder itself, where its files are written) is a file or cannot be written in."""
    for folder in ((path,) if into else ()) + tuple(path.parents):
        if folder.exists():
            if not folder.is_dir():
                raise OutputError(f"{path}: {folder} is a file, not a folder; choose another {option(flag)}")
            if not os.access(folder, os.W_OK | os.X_OK, effective_ids=os.access in os.supports_effective_ids):
                raise OutputError(f"{path}: {folder} cannot be written in (read-only, or no permission); choose "
                                  f"another {option(flag)}")
            return


def check_writable_folder(path: str | os.PathLike, *, flag: str) -> Path:
    """Refuse, before any work, a folder to write into (the cache) that is a file, or whose
    nearest existing part cannot be written in; the message names ``flag``'s option."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: a file, not a folder; choose another {option(flag)}")
    _check_parent(path, flag, into=True)
    return path


def check_new_file(path: str | os.PathLike, *, flag: str = "out") -> Path:
    """Refuse, before any work, a file output that exists (file or folder), whose parent is a
    file, or that lies inside a dataset folder (see :data:`OUTPUT_RULE`).

    Raises:
        OutputError: The message names the path and the option (``flag``: the setting's name).
    """
    path = Path(path)
    if path.exists():
        kind = "a folder" if path.is_dir() else "a file"
        raise OutputError(f"{path}: already exists ({kind}); an existing output is never replaced: remove it or choose "
                          f"another {option(flag)}")
    _check_parent(path, flag)
    check_outside_datasets(path, flag=flag)
    return path


#: The files ``train`` writes into a model folder (what makes a folder one it wrote).
MODEL_FILES = ("model.keras", "metrics.json")


def check_model_folder(path: str | os.PathLike, *, flag: str = "model_dir") -> Path:
    """Refuse a model folder that is a file, lies inside a dataset folder, or is a non-empty
    folder ``train`` did not write (see :data:`OUTPUT_RULE`).

    Raises:
        OutputError: The message names the path and the option.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: a file, not a folder; choose another {option(flag)}")
    _check_parent(path, flag, into=True)
    check_outside_datasets(path, flag=flag)
    if path.is_dir() and any(path.iterdir()) and not any((path / name).is_file() for name in MODEL_FILES):
        raise OutputError(f"{path}: a non-empty folder that train did not write; choose another {option(flag)}")
    return path


def bundle_paths(out: str | os.PathLike, split: str) -> dict[str, Path]:
    """The three files of a split: ``{"names": ..., "embeddings": ..., "labels": ...}``."""
    folder = Path(out) / split
    return {
        "names": folder / f"{split}_filenames.npy",
        "embeddings": folder / f"{split}_embeddings.npy",
        "labels": folder / f"{split}_labels.npy",
    }


class SplitArrays(Protocol):
    """What :func:`write_folder` writes of a split (a :class:`ravdess_prep.bundle.Bundle` is one)."""

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
            (see :class:`ravdess_prep.bundle.Bundle`).
        manifest: JSON-ready dictionary, written with sorted keys, with ``bundle_sha256``
            (the SHA-256 of every bundle file written) and then ``manifest_sha256`` (of the
            manifest's own values, :func:`ravdess_prep.digest.json_digest`) added.
        metadata: One row per clip, written as CSV without the index.
        extra: ``{file name: text or bytes}`` of other files to write beside them.

    Returns:
        ``bundle_sha256``, as the manifest written records it: ``{relative path: SHA-256}`` of
        every bundle file.
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
    digests = {name: hashlib.sha256(content).hexdigest() for name, content in sorted(files.items())}
    manifest = {**manifest, "bundle_sha256": digests}
    manifest[MANIFEST_DIGEST] = json_digest(manifest)
    files[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    files[METADATA] = metadata.to_csv(index=False, lineterminator="\n").encode("utf-8")
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
