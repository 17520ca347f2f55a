"""The cache: where downloads, extracted archives and per-clip embeddings go.

Per-clip embeddings live in a :class:`ClipCache`, one folder per settings key, one file per
audio file's SHA-256. An entry is written to a temporary name and renamed, so a killed build
leaves none half written; a build that finds its clips there computes only the others.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from . import params
from .atomic import atomic_path


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``cache_dir`` if given, else ``$RAVDESS_PREP_CACHE``, else
    ``$XDG_CACHE_HOME/ravdess-prep`` (``~/.cache/ravdess-prep`` when that is unset).

    The environment is read when this function is called, never at import time.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    configured = os.environ.get(params.CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(xdg).expanduser() / params.CACHE_DIR_NAME


def settings_key(**decisive) -> str:
    """SHA-256 of everything that decides a clip's embedding (JSON-ready values, any keys)."""
    return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()


class ClipCache:
    """Embeddings of single clips on disk, keyed by audio content.

    Entries live in ``<root>/<settings key[:16]>/<sha[:2]>/<sha>.npy``: the settings key
    identifies everything that decides an embedding (see :func:`settings_key`), the SHA-256 the
    audio file.
    """

    def __init__(self, root: str | os.PathLike, key: str):
        self.folder = Path(root) / key[:16]

    def path(self, audio_sha256: str) -> Path:
        return self.folder / audio_sha256[:2] / f"{audio_sha256}.npy"

    def has(self, audio_sha256: str) -> bool:
        return self.path(audio_sha256).is_file()

    def get(self, audio_sha256: str) -> np.ndarray:
        return np.load(self.path(audio_sha256), allow_pickle=False)

    def put(self, audio_sha256: str, embedding: np.ndarray) -> None:
        with atomic_path(self.path(audio_sha256)) as temporary, open(temporary, "wb") as stream:
            np.save(stream, embedding, allow_pickle=False)
