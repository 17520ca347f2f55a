"""The exceptions raised by ravdess_prep, and how their messages name settings.

Every error derives from :class:`RavdessPrepError`. Specific errors also derive from the
built-in type they refine, so callers that catch ``ValueError`` or ``OSError`` keep working.
Messages name the file and the offending value.

A message names a setting with :func:`option` (``option("on_too_long", "crop")``), not with a
spelling of its own: from Python it reads ``on_too_long='crop'``, and while the command line
runs (:func:`command_line_wording`) it reads ``--on-too-long crop``. The setting is rendered
when the message is read, so an error raised in a worker thread or process reads the same.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import json
import re
from typing import Iterator, Mapping

_MARK = "\x1f"  # brackets a setting inside a message: \x1fname\x1f or \x1fname=<JSON value>\x1f
_MARKED = re.compile(f"{_MARK}([^{_MARK}=]+)(?:=([^{_MARK}]*))?{_MARK}")
_ABSENT = object()
#: ``{setting name: command-line flag}`` while a command runs; None: Python's wording.
_FLAGS: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("ravdess_prep_flags", default=None)


def option(name: str, value=_ABSENT) -> str:
    """A setting (and a value for it) as an error message names it.

    Args:
        name: The setting's name (a field of a settings dataclass, or a keyword argument).
        value: A JSON-ready value; absent: the setting alone.

    Returns:
        Text for a message: ``on_too_long='crop'`` (or ``on_too_long``) when read from
        Python, ``--on-too-long crop`` (or ``--on-too-long``) on the command line.
    """
    payload = name if value is _ABSENT else f"{name}={json.dumps(value)}"
    return f"{_MARK}{payload}{_MARK}"


def render(text: str, *, keys: bool = False) -> str:
    """``text`` with every :func:`option` spelled for whoever reads it now (``keys``: as the
    keys of a file, ``name='value'``, whoever reads it)."""
    if _MARK not in text:
        return text
    flags = None if keys else _FLAGS.get()

    def spelled(match: re.Match) -> str:
        name, value = match[1], None if match[2] is None else json.loads(match[2])
        flag = None if flags is None else flags.get(name)
        if flag is None:
            return name if match[2] is None else f"{name}={value!r}"
        if match[2] is None or value is True:
            return flag
        shown = "none" if value is None else ",".join(map(str, value)) if isinstance(value, list) else str(value)
        return f"{flag} {shown}"

    return _MARKED.sub(spelled, text)


def keyword_wording(text: str, aliases: Mapping[str, str]) -> str:
    """``text`` with every :func:`option` spelled as a Python keyword argument, ``aliases``
    renaming settings (``{"model": "whisper_model"}``: the keyword a function takes for it)."""

    def spelled(match: re.Match) -> str:
        name = aliases.get(match[1], match[1])
        return name if match[2] is None else f"{name}={json.loads(match[2])!r}"

    return _MARKED.sub(spelled, text)


@contextlib.contextmanager
def command_line_wording(flags: Mapping[str, str]) -> Iterator[None]:
    """While active, messages name settings by their flags (``{setting name: flag}``; the
    mapping is read when a message is, so it may grow meanwhile)."""
    token = _FLAGS.set(flags)
    try:
        yield
    finally:
        _FLAGS.reset(token)


class RavdessPrepError(Exception):
    """Root of every error raised by this library. Its text names settings the way its
    reader spells them (see the module docstring); ``args[0]`` holds the message unrendered."""

    def __str__(self) -> str:
        return render(super().__str__())


class ParameterError(RavdessPrepError, ValueError):
    """A parameter or configuration value is out of its domain."""


class ClipNameError(ParameterError):
    """A file name does not follow the corpus's naming scheme, or names an impossible clip."""


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
    """A model file (checkpoint, PCA parameters, weights) is missing, damaged or incompatible."""


class DatasetError(SourceError):
    """A dataset folder is not what its manifest says: a file missing, changed, of another
    shape, or holding non-finite values."""


class ModelOutputError(RavdessPrepError, ValueError):
    """A model gave a non-finite value (NaN or infinity) for a clip: nothing of it is kept."""


class SilentClipError(AudioError):
    """A clip has no active sample under the trimming rule, and the policy is to fail."""


class ClipTooLongError(AudioError):
    """A clip is longer than the fixed target length (or than its model takes), and the policy
    is to fail."""


class SampleRateError(AudioError):
    """Clips of one collection have different sample rates and no resampling was asked for."""


class OutputError(RavdessPrepError, OSError):
    """An output cannot be written without losing data (it holds a source, the cache, a model
    file or someone's files), or another process is writing it."""


class CacheEntryError(RavdessPrepError, OSError):
    """A cache entry is damaged (its bytes, shape or type are not what was stored)."""


class SplitError(ParameterError):
    """A split would put one speaker in two splits, or names an impossible speaker set."""


class ManifestError(ParameterError):
    """A dataset's manifest is unreadable, incomplete, or contradicts itself or its bundles."""


#: Why a write fails where no code is at fault: the errno, in words.
WRITE_CAUSES = {errno.ENOSPC: "no space left on the device", errno.EFBIG: "the file is larger than the system allows",
                errno.EDQUOT: "the disk quota is used up", errno.EACCES: "permission denied",
                errno.EROFS: "a read-only file system"}


def write_cause(error: OSError) -> str:
    """Why a write failed, in words (a full disk, a file-size limit, ...)."""
    return WRITE_CAUSES.get(error.errno, error.strerror or str(error))
