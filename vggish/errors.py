"""The errors of the vggish package.

They refine the built-in types, so callers that catch ``ValueError`` or ``OSError`` keep
working; messages name the file and the offending value.
"""

from __future__ import annotations


class VGGishError(Exception):
    """Root of the errors raised by this package."""


class InputError(VGGishError, ValueError):
    """An argument (waveform, examples, embeddings, a setting) is out of its domain."""


class ModelFileError(VGGishError, OSError):
    """A checkpoint or PCA file is missing, unreadable, incompatible or holds non-finite values."""
