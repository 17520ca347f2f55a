"""Guards that keep an output from losing data, each run before any work: a dataset folder is
known by its manifest and the record of the files its build wrote; an output folder
(:func:`check_output`), a file (:func:`check_new_file`), a report (:func:`check_report_path`) or
a folder a command owns (:func:`check_owned_folder`) is refused, naming the path and the option,
where writing it would replace or delete what the library did not write."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Callable, Iterable

from ..exceptions import OutputError, option
from ..params import MANIFEST, MANIFEST_FORMAT_PREFIX


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


#: The most of an existing output that is read to know whether a command wrote it (its reports
#: are far smaller): a larger file is not one of them.
OWN_REPORT_BYTES = 64 << 20


def report_bytes(path: Path) -> bytes | None:
    """The content of an existing report, read only where it is a regular file of at most
    :data:`OWN_REPORT_BYTES` (None otherwise, or where it cannot be read): never a FIFO, a
    device or a file without end."""
    try:
        if not path.is_file() or path.stat().st_size > OWN_REPORT_BYTES:
            return None
        with open(path, "rb") as stream:
            content = stream.read(OWN_REPORT_BYTES + 1)
    except OSError:
        return None
    return content if len(content) <= OWN_REPORT_BYTES else None


def json_record_with(path: Path, keys: Iterable[str]) -> bool:
    """Whether ``path`` holds a JSON object with every one of ``keys`` (how a command knows a
    report it wrote; see :func:`report_bytes`)."""
    content = report_bytes(path)
    if content is None:
        return False
    try:
        value = json.loads(content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(value, dict) and all(key in value for key in keys)


def check_report_path(path: str | os.PathLike, *, flag: str, command: str, ours: Callable[[Path], bool]) -> Path:
    """Refuse, before any work, a report's path (``--json``, ``--plot``) that is a folder or not
    a regular file, lies in a missing folder or in a dataset folder, or is a file ``command``
    did not write (``ours(path)`` says whether it did; it reads a bounded prefix at most, see
    :func:`report_bytes`).

    Raises:
        OutputError: The message names the path.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: a folder; {option(flag)} takes a file name")
    if path.exists() and not path.is_file():
        raise OutputError(f"{path}: not a regular file (a FIFO, a device or a socket); {option(flag)} takes a file "
                          "name")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: its folder {path.parent} does not exist")
    check_parent(path, flag)
    check_outside_datasets(path, flag=flag)
    if path.exists() and not ours(path):
        raise OutputError(f"{path}: a file that {command} did not write; choose another {option(flag)}")
    return path


def is_within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (both as given: resolve them first to
    follow links)."""
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
        if is_within(path, out):
            relation = "is" if path == out else "contains"
            raise OutputError(f"{out}: the output folder {relation} the {what} {path}; choose another --out "
                              "(a build replaces its output folder as a whole)")
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: the output exists and is not a folder; choose another --out")
    check_parent(out, "out")
    if out.is_dir() and any(out.iterdir()) and not is_dataset_folder(out):
        raise OutputError(f"{out}: a non-empty folder that ravdess-prep did not write (no manifest of its own); "
                          "choose another --out, or empty or remove this folder yourself")
    foreign = foreign_files(out) if out.is_dir() and is_dataset_folder(out) else []
    if foreign:
        raise OutputError(f"{out}: the dataset folder holds files its build did not write ({', '.join(foreign[:3])}"
                          + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "") + "), which replacing it "
                          "would delete; move them out, or choose another --out")
    return out


#: The rule every command follows for its outputs, for ``--help``.
OUTPUT_RULE = ("an existing output is never replaced, except a folder the same command wrote (a dataset for build, a "
               "model for train); nothing is written inside a dataset folder but by its build")


def check_parent(path: Path, flag: str, *, into: bool = False) -> None:
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
    check_parent(path, flag, into=True)
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
    check_parent(path, flag)
    check_outside_datasets(path, flag=flag)
    return path

def check_owned_folder(path: str | os.PathLike, *, flag: str, command: str, marks: Iterable[str]) -> Path:
    """Refuse a folder a command writes into that is a file, lies inside a dataset folder, or
    is a non-empty folder ``command`` did not write (none of the files ``marks`` in it; see
    :data:`OUTPUT_RULE`).

    Raises:
        OutputError: The message names the path and the option.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: a file, not a folder; choose another {option(flag)}")
    check_parent(path, flag, into=True)
    check_outside_datasets(path, flag=flag)
    if path.is_dir() and any(path.iterdir()) and not any((path / name).is_file() for name in marks):
        raise OutputError(f"{path}: a non-empty folder that {command} did not write; choose another {option(flag)}")
    return path
