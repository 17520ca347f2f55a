"""Folders this library fills from elsewhere (an extracted archive, a download): each holds a
record of its files, written last, so a folder is complete as written, damaged since, or not
the library's at all (then nothing in it is touched)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..exceptions import SourceError

#: The record of a filled folder: what it came from and every file's size.
EXTRACTION_RECORD = ".ravdess-prep-extracted.json"


def read_extraction_record(folder: str | os.PathLike) -> dict | None:
    """The record of a completely extracted archive, or None if ``folder`` is not one."""
    try:
        with open(Path(folder) / EXTRACTION_RECORD, encoding="utf-8") as stream:
            return json.load(stream)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None


def extraction_problem(folder: str | os.PathLike) -> str | None:
    """How an extracted folder differs from its record (a member missing or of another size),
    or None when every recorded file is there with its size."""
    folder = Path(folder)
    for name, size in (read_extraction_record(folder) or {}).get("files", {}).items():
        path = folder / name
        if not path.is_file():
            return f"{path}: missing from the extracted archive"
        if path.stat().st_size != size:
            return f"{path}: {path.stat().st_size} bytes, extracted as {size}"
    return None


def check_not_foreign(folder: str | os.PathLike, *, how: str = "extracted") -> None:
    """Refuse a folder that exists without this library's record: it was not ``how`` here, and
    nothing in it is touched.

    Raises:
        SourceError: The message names the folder.
    """
    if Path(folder).exists() and read_extraction_record(folder) is None:
        raise SourceError(f"{folder}: exists and was not {how} by ravdess-prep (no record); move it away, "
                          "or give it as a source")


def finished_folder(folder: str | os.PathLike, *, how: str = "extracted") -> bool:
    """Whether ``folder`` is complete as this library wrote it (its record, every recorded file
    of its size); False when it does not exist.

    Raises:
        SourceError: It exists without a record (see :func:`check_not_foreign`), or no longer
            matches its record.
    """
    check_not_foreign(folder, how=how)
    if read_extraction_record(folder) is None:
        return False
    problem = extraction_problem(folder)
    if problem is not None:
        raise SourceError(f"{problem}; delete {folder} to fetch it again")
    return True
