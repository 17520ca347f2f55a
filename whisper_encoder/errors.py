"""The exceptions of the whisper package: every error derives from :class:`WhisperError` and
from the built-in type it refines."""

from __future__ import annotations


class WhisperError(Exception):
    """Root of the package's errors."""


class InputError(WhisperError, ValueError):
    """Audio, log-mel frames or a setting the model cannot take; the message says which."""


class ModelFileError(WhisperError, OSError):
    """A model folder that is missing, incomplete or damaged; the message names the file."""
