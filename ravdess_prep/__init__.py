"""ravdess-prep: from raw emotional-speech recordings to speaker-disjoint embedding bundles.

Stages live in modules named after them (``source``, ``trim``, ``measure``, ``pad``,
``embed``, ``split``, ``bundle``, ...); models plug in under ``embedders/``, corpora under
``corpora/``; ``pipeline`` is what notebooks import. Importing this package reads no file, no
environment variable and starts no TensorFlow.
"""

__version__ = "0.2.0"
