"""A model folder of the Hugging Face Hub, fetched once into the cache, every file verified.

A Hub id (``openai/whisper-base``, ``microsoft/wavlm-base-plus``) names a repository. Its file
list, with each file's size and digest, comes from the Hub's API
(``<endpoint>/api/models/<id>/tree/<revision>``); the files a model needs (``config.json``,
``preprocessor_config.json``, and ``model.safetensors``, or the shards its index lists, or
``pytorch_model.bin``) are fetched from ``<endpoint>/<id>/resolve/<revision>/<file>`` with the
library's resumable fetch, each checked against the listed digest (SHA-256 for large files,
the git blob SHA-1 for the others) and renamed into place. A record of every file's SHA-256
is written last; a later use reads the folder without a request, after checking each file
against the record. Chosen over ``huggingface_hub``'s resolver: no new dependency, the same
resumable, verified fetch as every other download here, and a record the manifest can cite.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import requests

from ..exceptions import DownloadError, ModelFileError, ParameterError, option
from ..storage.atomic import atomic_path
from ..storage.digest import file_digest
from ..storage.download import USER_AGENT, fetch

#: The Hub's address; ``$HF_ENDPOINT`` names a mirror.
ENDPOINT = "https://huggingface.co"
ENDPOINT_ENV = "HF_ENDPOINT"
RECORD = "fetched.json"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def is_hub_id(text: str | os.PathLike) -> bool:
    """Whether ``text`` reads as a Hub id (``owner/name``) and is not a folder on disk."""
    return isinstance(text, str) and bool(_HUB_ID.match(text)) and not Path(text).exists()


def local_or_hub(model: str | os.PathLike, *, cache_dir: str | os.PathLike | None, endpoint: str | None = None,
                 revision: str = "main", progress: bool = True, what: str = "model") -> Path:
    """The folder ``model`` names: a folder on disk, or a Hub id fetched once into ``cache_dir``.

    Raises:
        ParameterError: ``model`` is empty, or a Hub id and no cache folder.
        ModelFileError: A file, or neither a folder nor a Hub id (``what`` names the kind of
            model).
    """
    if not str(model).strip():
        raise ParameterError(f"{option('model')} is empty: name a {what} folder or a Hub id (owner/name)")
    if is_hub_id(str(model)):
        if cache_dir is None:
            raise ParameterError("a Hub id needs a cache folder to fetch it into")
        return hub_folder(str(model), cache_dir=cache_dir, endpoint=endpoint, revision=revision, progress=progress)
    if Path(model).exists() and not Path(model).is_dir():
        raise ModelFileError(f"{model}: a file, not a {what} folder (name the folder that holds config.json)")
    if not Path(model).is_dir():
        raise ModelFileError(f"{model}: no such {what} folder (nor a Hub id owner/name)")
    return Path(model)


def hub_folder(model_id: str, *, cache_dir: str | os.PathLike, endpoint: str | None = None, revision: str = "main",
               progress: bool = True) -> Path:
    """The folder of a Hub model in the cache, fetched on first use (see the module docstring).

    Args:
        model_id: ``owner/name``.
        cache_dir: Where models are kept (the folder is ``<cache_dir>/<owner>--<name>/<revision>``).
        endpoint: The Hub's address (default: ``$HF_ENDPOINT``, else :data:`ENDPOINT`).
        revision: A branch, tag or commit.
        progress: Show progress bars.

    Raises:
        DownloadError: The Hub cannot be reached, or lists no such model or no weights.
        ChecksumError: A file differs from what the Hub lists (it is deleted).
        ModelFileError: A file fetched earlier changed since (the message says what to delete).
    """
    folder = Path(cache_dir) / model_id.replace("/", "--") / revision
    record_path = folder / RECORD
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        for name, sha256 in record["files"].items():
            found = file_digest(folder / name) if (folder / name).is_file() else None
            if found != sha256:
                raise ModelFileError(f"{folder / name}: the file fetched from the Hub for {model_id} changed since "
                                     f"(SHA-256 {found}, recorded {sha256}); delete {folder} to fetch it again")
        return folder
    endpoint = (endpoint or os.environ.get(ENDPOINT_ENV) or ENDPOINT).rstrip("/")
    listing = _listing(endpoint, model_id, revision)
    names = ["config.json"] + [name for name in ("preprocessor_config.json",) if name in listing]
    weights = next((name for name in WEIGHTS if name in listing), None)
    if weights is None:
        raise DownloadError(f"{endpoint}/{model_id}: the model lists none of {', '.join(WEIGHTS)}")
    fetched = {}
    for name in names + [weights]:
        fetched[name] = _fetch(endpoint, model_id, revision, listing, name, folder, progress=progress)
    if weights.endswith(".index.json"):
        shards = sorted(set(json.loads((folder / weights).read_text())["weight_map"].values()))
        for name in shards:
            fetched[name] = _fetch(endpoint, model_id, revision, listing, name, folder, progress=progress)
    with atomic_path(record_path) as temporary:
        temporary.write_text(json.dumps({"model_id": model_id, "revision": revision, "endpoint": endpoint,
                                         "files": fetched}, indent=2, sort_keys=True) + "\n")
    return folder


def _listing(endpoint: str, model_id: str, revision: str) -> dict[str, dict]:
    """``{path: entry}`` of the files of a Hub repository."""
    url = f"{endpoint}/api/models/{model_id}/tree/{revision}"
    try:
        reply = requests.get(url, timeout=60, headers={"User-Agent": USER_AGENT})
        if reply.status_code == 404:
            raise DownloadError(f"{url}: no such model or revision on the Hub ({model_id}, {revision})")
        reply.raise_for_status()
        return {entry["path"]: entry for entry in reply.json() if entry.get("type") == "file"}
    except DownloadError:
        raise
    except (requests.RequestException, ValueError, KeyError, TypeError) as error:
        raise DownloadError(f"{url}: cannot read the model's files ({error!r})") from None


def _fetch(endpoint: str, model_id: str, revision: str, listing: dict, name: str, folder: Path, *,
           progress: bool) -> str:
    """Fetch one listed file into ``folder``, verified; its SHA-256."""
    entry = listing.get(name)
    if entry is None:
        raise DownloadError(f"{endpoint}/{model_id}: the model lists no {name}")
    url = f"{endpoint}/{model_id}/resolve/{revision}/{name}"
    lfs = entry.get("lfs") or {}
    path = fetch(url, folder / name, size_bytes=entry.get("size"), sha256=lfs.get("oid"), progress=progress)
    if not lfs and entry.get("oid") and git_blob_sha1(path) != entry["oid"]:
        path.unlink()
        raise DownloadError(f"{path} (from {url}): its git blob SHA-1 is not {entry['oid']}, which the Hub lists; the "
                            "file was deleted")
    return file_digest(path)


def git_blob_sha1(path: str | os.PathLike) -> str:
    """The git blob SHA-1 of a file (what the Hub lists for files not kept in LFS)."""
    data = Path(path).read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
