"""ravdess-prep: from raw emotional-speech recordings to speaker-disjoint embedding bundles.

Stages live in modules named after them (``source``, ``trim``, ``measure``, ``pad``,
``embed``, ``split``, ``bundle``, ...); models plug in under ``embedders/``, corpora under
``corpora/``; ``pipeline`` is what notebooks import, and :func:`embedder` embeds audio in
memory or on disk without a dataset. Importing this package reads no file, no environment
variable and starts no TensorFlow.
"""

__version__ = "0.2.0"  # before the imports below: modules they import read it

from .interface import Embedding, embedder  # noqa: E402

__all__ = ["Embedding", "__version__", "embedder"]
