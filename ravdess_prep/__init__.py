"""ravdess-prep: from raw emotional-speech recordings to speaker-disjoint embedding bundles.

Stages live in modules named after them (``source``, ``trim``, ``measure``, ``pad``,
``embed``, ``split``, ``bundle``, ...); models plug in under ``embedders/``, corpora under
``corpora/``; ``pipeline`` is what notebooks import, and :func:`embedder` embeds audio in
memory or on disk without a dataset. Importing this package reads no file, no environment
variable and starts no TensorFlow.
"""

from .embedding import Embedding, embedder
from .version import __version__

__all__ = ["Embedding", "__version__", "embedder"]
