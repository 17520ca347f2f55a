"""Many files in one job: processed a chunk at a time with the model loaded once, failures
collected and reported together, and a rerun that picks up where an interrupted one stopped.

While a job runs, each finished chunk's results are written atomically into a folder beside
the output, ``<output>.parts`` (its ``job.json`` says which job, by a digest of its settings).
At the end the output is written whole and the folder removed; a job with failures keeps it,
so that ``--resume`` tries again only the files that failed. A file counts as done when its
path, size and modification time are those its part recorded; a file changed since is done
again. Nothing of a file is in the output unless all of it is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..audio.io import check_complete
from ..corpora.source import AUDIO_SUFFIXES, audio_paths
from ..exceptions import AudioError, OutputError, ParameterError, RavdessPrepError, option
from ..storage.atomic import atomic_path
from ..storage.digest import file_digest
from ..storage.guards import check_parent, check_outside_datasets

#: The folder of a job's finished chunks, beside its output.
PARTS_SUFFIX = ".parts"
JOB_FILE = "job.json"
_COLUMN = "column:"  # a column's name in a part's archive
#: Files of clips processed together (one model run of batches across them).
CHUNK_FILES = 64
#: A chunk's results: ``{column: array}``, one row per result (a file, or a file's window), with
#: a ``file`` column naming the file of each row.
Columns = Mapping[str, np.ndarray]


def job_files(items: Sequence[str | os.PathLike]) -> list[Path]:
    """The files a job reads: files as given, and every audio file under a folder (recursive,
    sorted; see :func:`ravdess_prep.corpora.source.audio_files`), each once. A file named
    itself is checked at once (missing, cut short: the job does not start); a bad file found
    in a folder is one of the job's failures.

    Raises:
        AudioError: A folder without audio files, or a named file that is missing or truncated.
    """
    found = audio_paths(items, empty=lambda folder: AudioError(
        f"{folder}: no audio file ({', '.join(AUDIO_SUFFIXES)}) under this folder"))
    for item in items:
        if not Path(item).is_dir():
            check_complete(item)
    return list(dict.fromkeys(found))


def settings_digest(settings: Mapping) -> str:
    """SHA-256 of a job's settings (JSON-ready), the key its parts are kept under."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def file_key(path: Path) -> str:
    """What makes a file the one a part recorded: its path, size and modification time."""
    status = path.stat()
    return f"{path}\t{status.st_size}\t{status.st_mtime_ns}"


@dataclasses.dataclass
class JobResult:
    """What a job did.

    Attributes:
        columns: Every file's results, in the order of the files (failed ones left out).
        failures: ``(file, one line saying why)`` of each file that failed.
        resumed: Files whose results came from an earlier run's parts.
        parts: The parts folder, when it was kept (failures to try again).
    """

    columns: dict[str, np.ndarray]
    failures: list[tuple[str, str]]
    resumed: int
    parts: Path | None = None


def check_output(out: Path, *, resume: bool, digest: str, flag: str = "out") -> Path:
    """Refuse an output that exists, unless ``resume`` and it is the one this job wrote (its
    parts kept, their digest matching); refuse parts of another job; refuse leftover parts of
    this job without ``resume``. Returns the parts folder.

    Raises:
        OutputError: Naming the path and what to do.
    """
    parts = out.with_name(out.name + PARTS_SUFFIX)
    check_parent(out, flag)
    check_outside_datasets(out, flag=flag)
    record = _job_record(parts)
    if record is not None and record.get("settings") == digest and not _part_files(parts):  # nothing done yet
        shutil.rmtree(parts)
        record = None
    if parts.exists() and record is None:
        raise OutputError(f"{parts}: exists and is not the parts of a job ({JOB_FILE} missing or unreadable); "
                          "nothing is written there: remove it or choose another " + option(flag))
    if record is not None and record.get("settings") != digest:
        raise OutputError(f"{parts}: holds the results of another job (other settings or model); remove it or choose "
                          "another " + option(flag))
    if record is not None and not resume:
        raise OutputError(f"{parts}: an unfinished run of this job left its results there; rerun with --resume to "
                          "go on from them, or remove the folder")
    if out.exists():
        written = record is not None and record.get("output_sha256") == file_digest(out)
        if not (resume and written):
            raise OutputError(f"{out}: already exists and holds another job's results (or a finished one's, which "
                              "is not resumed); an existing output is never replaced: remove it or choose another "
                              + option(flag))
    return parts


def run_job(files: Sequence[Path], *, out: Path, digest: str, process: Callable[[list[Path]], tuple[Columns, list]],
            chunk_files: int = CHUNK_FILES, resume: bool = False, progress: bool = True,
            write: Callable[[Path, Columns], object]) -> JobResult:
    """Run ``process`` over ``files`` a chunk at a time and write the output (see the module
    docstring).

    Args:
        files: The files, in the order of the output.
        out: The output; ``write(out, columns)`` writes it.
        digest: The job's settings digest (:func:`settings_digest`).
        process: A chunk of files to ``(columns, failures)``: every row of the files that
            succeeded, and ``(file, why)`` of the others.
        chunk_files: Files per chunk.
        resume: Go on from the parts of an interrupted run of the same job.
        progress: One progress bar for the whole job.
    """
    parts = check_output(out, resume=resume, digest=digest)
    done = _done_parts(parts)
    keys = {path: file_key(path) for path in files if path.exists()}
    resumed = {path for path in files if keys.get(path) in done}
    todo = [path for path in files if path not in resumed]
    failures: list[tuple[str, str]] = []
    if todo:
        parts.mkdir(parents=True, exist_ok=True)
        _write_record(parts, {"settings": digest, "output": str(out)})
    for chunk, columns, failed in _chunks(todo, process, chunk_files=chunk_files, progress=progress, name=out.name,
                                          total=len(files), initial=len(resumed)):
        failures.extend(failed)
        succeeded = [path for path in chunk if str(path) not in {name for name, _ in failed}]
        if succeeded:
            _write_part(parts, columns, {str(path): keys.get(path) or file_key(path) for path in succeeded})
    columns = _gathered(parts, files, keys)
    if not columns:
        if not _part_files(parts):
            shutil.rmtree(parts, ignore_errors=True)
        raise_all_failed(failures, files=len(files))
    write(out, columns)
    if failures:
        _write_record(parts, {"settings": digest, "output": str(out), "output_sha256": file_digest(out)})
        return JobResult(columns, failures, len(resumed), parts)
    _remove_parts(parts)
    return JobResult(columns, failures, len(resumed))


def run_in_memory(files: Sequence[Path], *, process: Callable[[list[Path]], tuple[Columns, list]],
                  chunk_files: int = CHUNK_FILES, progress: bool = True) -> JobResult:
    """:func:`run_job` without an output: the chunks' results joined in memory, nothing kept on
    disk (nothing to resume).

    Raises:
        AudioError: Every file failed (:func:`raise_all_failed`).
    """
    pieces, failures = [], []
    for _, columns, failed in _chunks(list(files), process, chunk_files=chunk_files, progress=progress, name="files",
                                      total=len(files)):
        pieces.extend([columns] if columns else [])
        failures.extend(failed)
    if not pieces:
        raise_all_failed(failures, files=len(files))
    return JobResult({name: np.concatenate([piece[name] for piece in pieces]) for name in pieces[0]}, failures, 0)


def _chunks(todo: list[Path], process, *, chunk_files: int, progress: bool, name: str, total: int, initial: int = 0):
    """``(chunk, columns, failures)`` of each chunk of ``todo`` in turn, under one progress bar
    of ``total`` files (``initial`` of them done before)."""
    with tqdm(total=total, initial=initial, unit="file", desc=name, disable=not progress) as bar:
        for first in range(0, len(todo), chunk_files):
            chunk = todo[first : first + chunk_files]
            columns, failed = process(chunk)
            yield chunk, columns, failed
            bar.update(len(chunk))


def raise_all_failed(failures: Sequence[tuple[str, str]], *, files: int) -> None:
    """Raise the one error of a job whose every file failed.

    Raises:
        AudioError: The failures, the first three in words (one file: its own line).
    """
    if len(failures) == 1:
        raise AudioError(failures[0][1])
    shown = "; ".join(why for _, why in failures[:3])
    raise AudioError(f"every one of the {files} files failed, nothing was written: {shown}"
                     + (f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""))


def failure_of(path: Path, error: BaseException) -> tuple[str, str]:
    """``(file, one line)`` for a file that failed; the line names the file."""
    message = error.args[0] if isinstance(error, RavdessPrepError) and error.args else str(error)
    return str(path), message if str(path) in message else f"{path}: {message}"


def _remove_parts(parts: Path) -> None:
    """Remove a job's parts folder: the parts, then its record, then the folder (stopped
    half-way, what is left is still a job's folder, or an empty one)."""
    for part in _part_files(parts):
        part.unlink()
    (parts / JOB_FILE).unlink(missing_ok=True)
    shutil.rmtree(parts, ignore_errors=True)


def _job_record(parts: Path) -> dict | None:
    try:
        return json.loads((parts / JOB_FILE).read_text())
    except (OSError, ValueError):
        return None


def _write_record(parts: Path, record: dict) -> None:
    with atomic_path(parts / JOB_FILE) as temporary:
        temporary.write_text(json.dumps(record, indent=1) + "\n")


def _part_files(parts: Path) -> list[Path]:
    return sorted(parts.glob("part-*.npz")) if parts.is_dir() else []


def _done_parts(parts: Path) -> set[str]:
    done = set()
    for part in _part_files(parts):
        with np.load(part, allow_pickle=False) as stored:
            done.update(str(key) for key in stored["__keys__"])
    return done


def _write_part(parts: Path, columns: Columns, keys: Mapping[str, str]) -> None:
    existing = _part_files(parts)
    number = int(existing[-1].stem.split("-")[1]) + 1 if existing else 0
    rows = np.isin(np.asarray(columns["file"], str), list(keys))
    arrays = {name: np.asarray(values)[rows] for name, values in columns.items()}
    with atomic_path(parts / f"part-{number:06d}.npz", suffix=".npz") as temporary:
        np.savez(temporary, __keys__=np.asarray(list(keys.values()), str),
                 **{_COLUMN + name: values for name, values in arrays.items()})


def _gathered(parts: Path, files: Sequence[Path], keys: Mapping[Path, str]) -> dict[str, np.ndarray]:
    """Every part's rows of the files still as recorded, in the order of ``files``."""
    wanted = {keys[path]: position for position, path in enumerate(files) if path in keys}
    pieces = []
    for part in _part_files(parts):
        with np.load(part, allow_pickle=False) as stored:
            arrays = {name[len(_COLUMN):]: stored[name] for name in stored.files if name.startswith(_COLUMN)}
            current = {str(key).split("\t")[0]: wanted.get(str(key)) for key in stored["__keys__"]}
        order = np.asarray([current.get(str(name)) if current.get(str(name)) is not None else -1
                            for name in arrays["file"]])
        pieces.append((order, arrays))
    if not pieces:
        return {}
    order = np.concatenate([piece[0] for piece in pieces])
    keep = np.flatnonzero(order >= 0)
    keep = keep[np.argsort(order[keep], kind="stable")]
    return {name: np.concatenate([arrays[name] for _, arrays in pieces])[keep] for name in pieces[0][1]}


def check_job_options(*, resume: bool, out: str | None) -> None:
    """``--resume`` needs an output to go on with.

    Raises:
        ParameterError: ``--resume`` without ``--out``.
    """
    if resume and out is None:
        raise ParameterError(f"{option('resume')} goes on with a job's output: give {option('out')}")
