"""Writing a file so that readers see the old content or the new, never a partial one; a
write that fails for want of room or rights is an :class:`~ravdess_prep.exceptions.OutputError`
naming the file and the cause."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .exceptions import WRITE_CAUSES, OutputError, write_cause

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
