"""Local sources of clips: a folder, or a zip extracted into the cache.

A source resolves to folders that hold ``.wav`` / ``.flac`` files at any depth (a corpus adds
its own download, see :mod:`ravdess_prep.corpora`). A zip is
extracted once into the cache (keyed by its MD5), into a temporary folder renamed into place,
so an interrupted extraction never leaves a half-filled folder behind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator

import soundfile
from tqdm.auto import tqdm

from ..audio.io import check_complete, empty_message, unreadable_message
from ..exceptions import AudioError, RavdessPrepError, SourceError
from ..storage.atomic import recover_leftovers, replace_folder, staging_folder
from ..storage.cache import cache_root
from ..storage.digest import file_digest
from ..storage.folders import EXTRACTION_RECORD, check_not_foreign, extraction_problem, read_extraction_record

#: Name of the record written into a folder once its archive is completely extracted.
AUDIO_SUFFIXES = (".wav", ".flac")
_log = logging.getLogger("ravdess_prep")


def resolve_path(
    source: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None, progress: bool = False
) -> Path:
    """The folder to scan for a local source: the folder itself, or where a zip is extracted.

    Args:
        source: A folder or a ``.zip`` file.
        cache_dir: The cache root (see :func:`ravdess_prep.storage.cache.cache_root`).
        progress: Show a progress bar while extracting.

    Raises:
        SourceError: The path does not exist, or is neither a folder nor a zip file.
    """
    path = Path(source).expanduser().absolute()
    if path.is_dir():
        return path
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.suffix.lower() == ".zip":
        return extracted_zip(path, cache_dir=cache_dir, progress=progress)
    raise SourceError(f"{path}: a source must be a folder or a .zip file")


def audio_files(root: str | os.PathLike) -> Iterator[Path]:
    """Every ``.wav`` / ``.flac`` file under ``root`` in sorted order, skipping hidden entries
    and macOS metadata. Folders that are symbolic links are followed, each real folder once (a
    link back up the tree is not a loop)."""
    seen = set()
    for folder, subfolders, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders[:] = []
            continue
        seen.add(real)
        subfolders[:] = sorted(name for name in subfolders if not name.startswith(".") and name != "__MACOSX")
        for name in sorted(files):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in AUDIO_SUFFIXES:
                yield Path(folder) / name


def audio_paths(items: Iterable[str | os.PathLike], *, empty: Callable[[Path], Exception]) -> list[Path]:
    """Files as given, and in place of a folder every audio file under it (see
    :func:`audio_files`), in order.

    Raises:
        The error ``empty(folder)`` makes for a folder without audio files.
    """
    found = []
    for item in items:
        if Path(item).is_dir():
            inside = list(audio_files(item))
            if not inside:
                raise empty(Path(item))
            found.extend(inside)
        else:
            found.append(Path(item))
    return found


def extracted_zip(
    path: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None, progress: bool = False
) -> Path:
    """The cache folder holding a local zip's audio files, extracting it on first use.

    The folder is ``<cache root>/sources/<zip stem>-<first 16 hex digits of its MD5>``. A folder
    whose files no longer match its record (a file removed, cut or grown) is extracted again.
    """
    path = Path(path)
    md5 = file_digest(path, "md5")
    folder = cache_root(cache_dir) / "sources" / f"{path.stem}-{md5[:16]}"
    if read_extraction_record(folder) is not None:
        problem = extraction_problem(folder)
        if problem is None:
            return folder
        _log.warning("%s; extracting %s again", problem, path)
        shutil.rmtree(folder)  # the library's own extraction (it has the record), damaged
    record = {"archive": str(path), "size_bytes": path.stat().st_size, "md5": md5}
    return extract_zip(path, folder, record=record, progress=progress)


def extract_zip(
    archive: str | os.PathLike, folder: str | os.PathLike, *, record: dict, progress: bool = False
) -> Path:
    """Extract the audio members of a zip into ``folder``, atomically.

    Members are ``Actor_XX/<name>.wav`` with or without one top-level folder (which is dropped);
    files that are not ``.wav`` / ``.flac`` and macOS metadata are skipped. Everything is written
    into a temporary sibling folder, ``record`` (with every file's size) is stored in it as
    :data:`EXTRACTION_RECORD`, and the folder is then renamed to ``folder``. Staging folders that
    dead processes left beside ``folder`` are removed first.

    Raises:
        SourceError: The zip is unreadable or corrupt (a damaged member is named), holds no
            audio member, a member path would escape the folder, or ``folder`` exists and was
            not extracted by this library (it is never deleted).
    """
    archive, folder = Path(archive), Path(folder)
    check_not_foreign(folder)
    recover_leftovers(folder)
    staging = staging_folder(folder)
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [info for info in bundle.infolist() if _is_audio_member(info)]
            if not members:
                raise SourceError(f"{archive}: the zip holds no .wav or .flac file")
            targets = _member_targets(archive, members)
            folder.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(staging, ignore_errors=True)
            sizes = {}
            for info, target in tqdm(
                list(zip(members, targets)), desc=f"extract {archive.name}", disable=not progress, leave=False
            ):
                destination = staging.joinpath(*target.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with bundle.open(info) as reader, open(destination, "wb") as writer:
                        shutil.copyfileobj(reader, writer, 1 << 20)
                except (zipfile.BadZipFile, zlib.error, EOFError) as error:
                    raise SourceError(f"{archive}: member {info.filename} is damaged ({error}); nothing was "
                                      "extracted") from None
                sizes[target.as_posix()] = destination.stat().st_size
            with open(staging / EXTRACTION_RECORD, "w", encoding="utf-8") as stream:
                json.dump({**record, "members": len(members), "files": sizes}, stream, indent=2, sort_keys=True)
            replace_folder(staging, folder)
    except (zipfile.BadZipFile, zlib.error) as error:
        raise SourceError(f"{archive}: not a valid zip file ({error})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _is_audio_member(info: zipfile.ZipInfo) -> bool:
    parts = PurePosixPath(info.filename).parts
    return (
        not info.is_dir()
        and bool(parts)
        and "__MACOSX" not in parts
        and not parts[-1].startswith(".")
        and os.path.splitext(parts[-1])[1].lower() in AUDIO_SUFFIXES
    )


def _member_targets(archive: Path, members: list[zipfile.ZipInfo]) -> list[PurePosixPath]:
    """Relative target paths of the members, with one shared top-level folder dropped."""
    paths = []
    for info in members:
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts:
            raise SourceError(f"{archive}: member {info.filename!r} would be written outside the folder")
        paths.append(path)
    tops = {path.parts[0] for path in paths}
    if len(tops) == 1 and all(len(path.parts) > 2 for path in paths):
        paths = [PurePosixPath(*path.parts[1:]) for path in paths]
    return paths


def audio_facts(path: Path) -> dict | RavdessPrepError:
    """The audio facts of a file's header (``sample_rate_hz``, ``channels``, ``num_samples``),
    or the problem that makes it unusable."""
    try:
        audio = soundfile.info(str(path))
    except Exception as error:  # soundfile raises its own error types for unreadable files
        return SourceError(unreadable_message(path, error))
    if audio.frames <= 0:
        return SourceError(empty_message(path))
    try:
        check_complete(path)
    except AudioError as error:
        return SourceError(str(error))
    return {"sample_rate_hz": int(audio.samplerate), "channels": int(audio.channels), "num_samples": int(audio.frames)}
