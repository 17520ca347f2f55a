"""ravdess-prep: from raw RAVDESS recordings to actor-disjoint VGGish embedding bundles.

Stages live in modules named after them (``ravdess``, ``source``, ``download``, ...).
Importing this package reads no file, no environment variable and starts no TensorFlow.
"""

__version__ = "0.1.0"
