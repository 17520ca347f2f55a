"""The errors of the yamnet_model package.

They refine the built-in types, so callers that catch ``ValueError`` or ``OSError`` keep
working; messages name the file and the offending value.
"""

from __future__ import annotations


class YAMNetError(Exception):
    """Root of the errors raised by this package."""


class InputError(YAMNetError, ValueError):
    """An argument (waveform, patches, a setting) is out of its domain."""


class ModelFileError(YAMNetError, OSError):
    """A model folder is missing, unreadable, or not a YAMNet SavedModel."""
