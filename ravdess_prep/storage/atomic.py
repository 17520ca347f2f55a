"""Writing a file or a folder so that readers see the old content or the new, never a partial
one; a write that fails for want of room or rights is an
:class:`~ravdess_prep.exceptions.OutputError` naming the file and the cause.

A folder is written whole into a staging folder beside it (:func:`staging_folder`) and put in
place by :func:`replace_folder`. On Linux that exchanges the two in one
``renameat2(RENAME_EXCHANGE)``, so the folder is whole at every instant; elsewhere (or where
the file system refuses) the old one is renamed aside first, and :func:`recover_leftovers`
(run by the next writer) puts it back if the process died between the two renames, and removes
staging folders of dead processes.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from ..exceptions import WRITE_CAUSES, OutputError, write_cause

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)$")


@contextlib.contextmanager
def write_errors(path: str | os.PathLike) -> Iterator[None]:
    """While active, an :class:`OSError` of a full disk, a quota, a size limit, a read-only file
    system or missing rights is an :class:`OutputError` naming ``path`` and the cause."""
    try:
        yield
    except OSError as error:
        if isinstance(error, OutputError) or error.errno not in WRITE_CAUSES:
            raise
        raise OutputError(f"{path}: cannot be written ({write_cause(error)}); nothing of it was left there") from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was. ``suffix``
    ends the temporary name, for writers that insist on an extension.

    Raises:
        OutputError: The write failed for want of room or rights (see :func:`write_errors`).
    """
    path = Path(path)
    with write_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
        os.close(handle)
        try:
            yield Path(temporary)
            os.replace(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)


def write_json(path: str | os.PathLike, value) -> Path:
    """``value`` as indented JSON with sorted keys (a report's or a record's form), written
    atomically (see :func:`atomic_path`)."""
    path = Path(path)
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
    return path


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
