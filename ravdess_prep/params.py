"""Constants of the library itself (the corpus's live in its module under ``corpora/``, each
model's in its package). Constants only: no function reads them implicitly."""

from __future__ import annotations

# --- Where files go ----------------------------------------------------------------------
CACHE_DIR_ENV = "RAVDESS_PREP_CACHE"
CACHE_DIR_NAME = "ravdess-prep"
CLIP_CACHE_FOLDER = "clips"  # per-clip embeddings, under the cache root

# --- The dataset folder ------------------------------------------------------------------
SPLITS = ("train", "dev", "test")
MANIFEST = "manifest.json"
#: The key under which a manifest records the SHA-256 of its own values (every other key).
MANIFEST_DIGEST = "manifest_sha256"
METADATA = "metadata.csv"
FEATURE_NAMES = "feature_names.txt"  # one name per line, for embedders whose columns have names
MANIFEST_FORMAT_PREFIX = "ravdess-prep bundles"
MANIFEST_FORMAT = f"{MANIFEST_FORMAT_PREFIX}, version 2"
