"""The cache: where downloads, extracted archives and per-clip embeddings go.

Per-clip embeddings live in a :class:`ClipCache`, one folder per settings key, one file per
audio file's SHA-256. An entry is written to a temporary name and renamed, so a killed build
leaves none half written; a build that finds its clips there computes only the others.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from pathlib import Path

import numpy as np

from .. import params
from ..exceptions import CacheEntryError
from .atomic import atomic_path

_log = logging.getLogger("ravdess_prep")


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``cache_dir`` if given, else ``$RAVDESS_PREP_CACHE``, else
    ``$XDG_CACHE_HOME/ravdess-prep`` (``~/.cache/ravdess-prep`` when that is unset).

    The environment is read when this function is called, never at import time. The path is
    made absolute here, so that it names the same folder in any process (a Beam worker's
    working folder is not this one's).
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser().absolute()
    configured = os.environ.get(params.CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser().absolute()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return (Path(xdg).expanduser() / params.CACHE_DIR_NAME).absolute()


def settings_key(**decisive) -> str:
    """SHA-256 of everything that decides a clip's embedding (JSON-ready values, any keys)."""
    return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()


class ClipCache:
    """Embeddings of single clips on disk, keyed by audio content, each entry checked before use.

    An entry is ``<root>/<key[:16]>/<sha[:2]>/<sha>-<key[:16]>-<digest[:16]>.npy``: the settings
    key names everything that decides the embedding (see :func:`settings_key`), ``sha`` the
    audio file, ``digest`` the SHA-256 of the entry's own bytes; the array's shape and dtype are
    in its header and must be the ones this cache stores. An entry is written to a temporary
    name and renamed, so a killed build leaves none half written. An entry that fails its check
    (damaged bytes, another shape or type, values that are not finite) is reported (logged, and
    counted in :attr:`rejected`), removed and computed again: it is never used and never stops a
    build.

    Args:
        root: The folder of all settings keys.
        key: The settings key.
        shape: The shape of every entry (None: any).
        dtype: The dtype of every entry (None: any).
    """

    def __init__(self, root: str | os.PathLike, key: str, *, shape: tuple[int, ...] | None = None,
                 dtype: str | None = None):
        self.key = key[:16]
        self.folder = Path(root) / self.key
        self.shape = None if shape is None else tuple(shape)
        self.dtype = None if dtype is None else np.dtype(dtype)
        self.rejected: list[tuple[Path, str]] = []

    def _candidates(self, audio_sha256: str) -> list[Path]:
        folder = self.folder / audio_sha256[:2]
        return sorted(folder.glob(f"{audio_sha256}-*.npy")) if folder.is_dir() else []

    def get(self, audio_sha256: str) -> np.ndarray | None:
        """The stored embedding of an audio file, or None (not stored, or its entry was damaged)."""
        for path in self._candidates(audio_sha256):
            try:
                return self._checked(path, audio_sha256)
            except CacheEntryError as error:
                self.rejected.append((path, str(error)))
                _log.warning("%s (it is computed again)", error)
                path.unlink(missing_ok=True)
        return None

    def _checked(self, path: Path, audio_sha256: str) -> np.ndarray:
        data = path.read_bytes()
        name_key, name_digest = path.stem[len(audio_sha256) + 1 :].partition("-")[::2]
        if name_key != self.key or hashlib.sha256(data).hexdigest()[:16] != name_digest:
            raise CacheEntryError(f"{path}: damaged cache entry (its bytes are not the ones stored)")
        try:
            value = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise CacheEntryError(f"{path}: unreadable cache entry ({error})") from None
        if self.shape is not None and value.shape != self.shape:
            raise CacheEntryError(f"{path}: cache entry of shape {value.shape}, expected {self.shape}")
        if self.dtype is not None and value.dtype != self.dtype:
            raise CacheEntryError(f"{path}: cache entry of type {value.dtype}, expected {self.dtype}")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise CacheEntryError(f"{path}: cache entry holds NaN or infinite values")
        return value

    def put(self, audio_sha256: str, embedding: np.ndarray) -> Path:
        """Store an embedding (checked against the cache's shape and dtype first)."""
        embedding = np.asarray(embedding)
        if (self.shape is not None and embedding.shape != self.shape) or (
                self.dtype is not None and embedding.dtype != self.dtype):
            raise CacheEntryError(f"an embedding of shape {embedding.shape} and type {embedding.dtype} does not "
                                  f"belong in {self.folder} ({self.shape}, {self.dtype})")
        buffer = io.BytesIO()
        np.save(buffer, embedding, allow_pickle=False)
        data = buffer.getvalue()
        path = self.folder / audio_sha256[:2] / f"{audio_sha256}-{self.key}-{hashlib.sha256(data).hexdigest()[:16]}.npy"
        with atomic_path(path) as temporary:
            temporary.write_bytes(data)
        return path
