"""Verified, resumable downloads.

:func:`fetch` is the one transfer routine of the library (corpus archives and model files):
it writes to ``<name>.part``, resumes an interrupted transfer with an HTTP Range request,
retries with exponential backoff, checks the size and checksum, and only then renames the file
into place. A file that is already in place and verified costs no request. :func:`fetch_folder`
fetches a corpus published file by file (CREMA-D's) into a folder that appears whole or not at
all.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Mapping

import requests
from tqdm.auto import tqdm

from ..exceptions import ChecksumError, DownloadError
from .digest import file_digest
from .folders import EXTRACTION_RECORD, finished_folder

USER_AGENT = "ravdess-prep (+https://zenodo.org/records/1188976)"
_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def _mismatch(path, *, size_bytes, md5, sha256) -> str | None:
    """How a file differs from its expected size and checksums (each checked when not None),
    or None if it does not."""
    actual_size = os.path.getsize(path)
    if size_bytes is not None and actual_size != size_bytes:
        return f"size is {actual_size} bytes, expected {size_bytes} bytes"
    for algorithm, expected in (("md5", md5), ("sha256", sha256)):
        if expected is not None:
            actual = file_digest(path, algorithm)
            if actual != expected.lower():
                return f"{algorithm.upper()} is {actual}, expected {expected.lower()}"
    return None


def fetch(
    url: str,
    path: str | os.PathLike,
    *,
    size_bytes: int | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    retries: int = 5,
    backoff_seconds: float = 1.0,
    timeout_seconds: float = 60.0,
    chunk_bytes: int = 1 << 16,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``path``, verified, resuming a partial transfer.

    Args:
        url: What to download.
        path: Where the verified file goes. ``<path>.part`` holds a transfer in progress.
        size_bytes: Expected size in bytes (checked), or None.
        md5: Expected MD5 hex digest (checked), or None.
        sha256: Expected SHA-256 hex digest (checked), or None.
        retries: How many times a failed or cut transfer is tried again.
        backoff_seconds: The wait before the first retry; it doubles at each retry.
        timeout_seconds: Connect and read timeout of one request.
        chunk_bytes: Bytes written per read (a cut transfer loses at most one read).
        progress: Show a progress bar (tqdm, on stderr).

    Returns:
        ``path``, now holding the verified file.

    Raises:
        DownloadError: The server refused the file, or every attempt failed.
        ChecksumError: The complete file has another size or checksum; the partial file is
            deleted so that the next run starts afresh, and nothing is put at ``path``.
    """
    path = Path(path)
    if path.exists():
        if _mismatch(path, size_bytes=size_bytes, md5=md5, sha256=sha256) is None:
            return path
        path.unlink()  # a stale or foreign file: fetch it anew
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    last_error: Exception | None = None
    with requests.Session() as session:
        session.headers["User-Agent"] = USER_AGENT
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(backoff_seconds * 2 ** (attempt - 1))
            offset = partial.stat().st_size if partial.exists() else 0
            if size_bytes is not None and offset >= size_bytes:
                if offset == size_bytes:
                    break
                partial.unlink()
                offset = 0
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            try:
                with session.get(url, headers=headers, stream=True, timeout=timeout_seconds) as reply:
                    if reply.status_code == 416 and offset:
                        break  # the partial file already holds everything the server has
                    if reply.status_code in _RETRYABLE_STATUS:
                        last_error = DownloadError(f"{url}: HTTP {reply.status_code}")
                        continue
                    if reply.status_code not in (200, 206):
                        raise DownloadError(
                            f"{url}: HTTP {reply.status_code} {reply.reason}; "
                            "check the URL or the mirror (base URL option)"
                        )
                    if reply.status_code == 200:
                        offset = 0  # the server ignored the Range header: start over
                    length = reply.headers.get("Content-Length")
                    total = offset + int(length) if length is not None else size_bytes
                    with open(partial, "ab" if offset else "wb") as stream, tqdm(
                        total=total,
                        initial=offset,
                        unit="B",
                        unit_scale=True,
                        unit_divisor=1024,
                        desc=path.name,
                        disable=not progress,
                        leave=False,
                    ) as bar:
                        for chunk in reply.iter_content(chunk_size=chunk_bytes):
                            stream.write(chunk)
                            bar.update(len(chunk))
                received = partial.stat().st_size
                if total is not None and received < total:
                    last_error = DownloadError(f"{url}: transfer cut at {received} of {total} bytes")
                    continue
                break
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
                if _unresolved(error):  # no network, or no such host: trying again changes nothing
                    host = urllib.parse.urlsplit(url).hostname
                    raise DownloadError(f"{url}: the host {host} cannot be resolved (no network here?); build from a "
                                        "local copy of the corpus (--source) and local model files instead") from None
                last_error = error
        else:
            raise DownloadError(f"{url}: failed after {retries + 1} attempts: {last_error}")
    mismatch = _mismatch(partial, size_bytes=size_bytes, md5=md5, sha256=sha256)
    if mismatch:
        partial.unlink()
        raise ChecksumError(
            f"{path} (from {url}): {mismatch}. The download was deleted and nothing was "
            "installed; run again to download it anew, and if it fails again the server or "
            "mirror serves another file."
        )
    os.replace(partial, path)
    return path


def _unresolved(error: BaseException) -> bool:
    """Whether a connection failed because its host name does not resolve."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, socket.gaierror) or type(error).__name__ == "NameResolutionError":
            return True
        error = error.__cause__ or error.__context__ or (error.args[0] if error.args and isinstance(
            error.args[0], BaseException) else None) or getattr(error, "reason", None)
    return False


def fetch_folder(
    files: Mapping[str, tuple[str, int, str]],
    folder: str | os.PathLike,
    *,
    record: Mapping[str, object],
    workers: int = 8,
    retries: int = 5,
    backoff_seconds: float = 1.0,
    progress: bool = True,
) -> Path:
    """Download many files into ``folder``, each verified by size and SHA-256.

    The files are fetched into ``.<name>.download`` beside ``folder``, which is kept between
    runs: an interrupted or failed download resumes, and a file already there and verified costs
    no request. Once every file is verified, ``record`` (with every file's size) is written into
    that folder as the record of a complete folder and it is renamed to ``folder``. A complete
    folder costs no request; a folder that has no record was not written here and is never
    touched.

    Args:
        files: ``{relative path: (url, size in bytes, sha256)}``.
        folder: The folder that receives them.
        record: What the folder's record says of its origin (repository, commit...).
        workers: Transfers at a time.
        retries: See :func:`fetch`.
        backoff_seconds: See :func:`fetch`.
        progress: Show a progress bar of the files.

    Returns:
        ``folder``.

    Raises:
        DownloadError: A file could not be fetched, or is not the published one
            (:class:`ChecksumError` when every failure is such); the message counts the
            failures and names the first ones. What was verified is kept for the next run.
        SourceError: ``folder`` exists without a record, or no longer matches its record.
    """
    folder = Path(folder)
    if finished_folder(folder, how="downloaded"):
        return folder
    staging = folder.with_name(f".{folder.name}.download")

    def one(item):
        name, (url, size_bytes, sha256) = item
        try:
            fetch(url, staging / name, size_bytes=size_bytes, sha256=sha256, retries=retries,
                  backoff_seconds=backoff_seconds, progress=False)
        except DownloadError as error:
            return error
        return None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        failures = [error for error in tqdm(pool.map(one, sorted(files.items())), total=len(files),
                                            desc=folder.name, unit="file", disable=not progress, leave=False)
                    if error is not None]
    if failures:
        kind = ChecksumError if all(isinstance(error, ChecksumError) for error in failures) else DownloadError
        named = "; ".join(str(error) for error in failures[:3])
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        raise kind(f"{len(failures)} of {len(files)} files failed: {named}{more}. The "
                   f"{len(files) - len(failures)} verified files are kept in {staging}; run again to fetch the rest")
    sizes = {name: size_bytes for name, (_, size_bytes, _) in sorted(files.items())}
    staging.mkdir(parents=True, exist_ok=True)
    with open(staging / EXTRACTION_RECORD, "w", encoding="utf-8") as stream:
        json.dump({**record, "members": len(sizes), "files": sizes}, stream, indent=2, sort_keys=True)
    os.replace(staging, folder)
    return folder
