"""Where downloads, extracted archives and cached results go."""

from __future__ import annotations

import os
from pathlib import Path

from . import params


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
