"""The exceptions raised by ravdess_prep and vggish.

Every error derives from :class:`RavdessPrepError`. Specific errors also derive from the
built-in type they refine, so callers that catch ``ValueError`` or ``OSError`` keep working.
Messages name the file and the offending value.
"""

from __future__ import annotations


class RavdessPrepError(Exception):
    """Root of every error raised by this library."""


class ParameterError(RavdessPrepError, ValueError):
    """A parameter or configuration value is out of its domain."""


class ClipNameError(ParameterError):
    """A file name does not follow the RAVDESS naming scheme, or names an impossible clip."""


class SourceError(RavdessPrepError, OSError):
    """A data source is missing, empty, or holds a file that cannot be used."""


class DuplicateClipError(SourceError):
    """Two files in one source map to the same bundle clip name."""


class AudioError(RavdessPrepError, ValueError):
    """An audio file is unreadable, empty, or holds values that are not finite numbers."""


class DownloadError(RavdessPrepError, OSError):
    """A transfer failed after every retry, or a server answered something unusable."""


class ChecksumError(DownloadError):
    """A file's size or checksum differs from the published one."""


class ModelFileError(RavdessPrepError, OSError):
    """A model file (checkpoint, PCA parameters) is missing, truncated or incompatible."""


class SilentClipError(AudioError):
    """A clip has no active sample under the trimming rule, and the policy is to fail."""


class ClipTooLongError(AudioError):
    """A clip is longer than the fixed target length, and the policy is to fail."""


class SampleRateError(AudioError):
    """Clips of one collection have different sample rates and no resampling was asked for."""


class OutputError(RavdessPrepError, OSError):
    """An output cannot be written without losing data (it holds a source, the cache, a model
    file or someone's files), or another process is writing it."""


class CacheEntryError(RavdessPrepError, OSError):
    """A cache entry is damaged (its bytes, shape or type are not what was stored)."""


class SplitError(ParameterError):
    """A split would put one actor in two splits, or names an impossible actor set."""
