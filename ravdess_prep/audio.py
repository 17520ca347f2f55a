"""Reading and writing clips.

Samples are float64 in [-1, 1]: integer PCM is scaled by its full-scale value (int16 / 32768,
int24 / 2**23, int32 / 2**31), which keeps every 16-bit sample exact.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile

from .atomic import atomic_path
from .exceptions import AudioError
from .resample import resample


def unreadable_message(path, error: BaseException) -> str:
    """The message for a file libsndfile cannot open or decode (its error types vary between
    versions, so callers catch any exception and name the file with this)."""
    return f"{path}: not a readable audio file ({error})"


def empty_message(path) -> str:
    """The message for an audio file that holds no samples."""
    return f"{path}: the audio file holds no samples"


def open_audio(path: str | os.PathLike):
    """A ``soundfile.SoundFile`` open for reading (a context manager).

    Raises:
        AudioError: libsndfile cannot open the file.
    """
    try:
        return soundfile.SoundFile(str(path))
    except Exception as error:
        raise AudioError(unreadable_message(path, error)) from None


def read_audio(
    path: str | os.PathLike | BinaryIO, *, name: str | None = None, start: int = 0, stop: int | None = None
) -> tuple[np.ndarray, int]:
    """Read every channel of an audio file (wav, flac, or anything libsndfile reads).

    Args:
        path: The file, or a binary stream holding one.
        name: How errors name the file (default: ``path``).
        start: First sample to read.
        stop: One past the last sample to read (None: the end).

    Returns:
        ``(samples, sample_rate_hz)``; samples float64 of shape ``(num_samples, channels)``.

    Raises:
        AudioError: The file is unreadable, holds no sample, or holds NaN or infinite values.
    """
    source = path if hasattr(path, "read") else str(path)
    path = path if name is None else name
    try:
        samples, sample_rate_hz = soundfile.read(source, dtype="float64", always_2d=True, start=start, stop=stop)
    except Exception as error:  # libsndfile's error types vary between versions
        raise AudioError(unreadable_message(path, error)) from None
    if samples.shape[0] == 0:
        raise AudioError(empty_message(path))
    finite = np.isfinite(samples)
    if not finite.all():
        bad = np.flatnonzero(~finite.all(axis=1))
        raise AudioError(
            f"{path}: {bad.size} samples are NaN or infinite (the first at sample {bad[0]})"
        )
    return samples, int(sample_rate_hz)


def load_clip(
    path: str | os.PathLike | BinaryIO, *, name: str | None = None, start: int = 0, stop: int | None = None
) -> tuple[np.ndarray, int]:
    """Read a clip the way the original pipeline did: its first channel, as float64.

    Args:
        path: The file, or a binary stream holding one.
        name: How errors name the file (default: ``path``).
        start: First sample to read.
        stop: One past the last sample to read (None: the end).

    Returns:
        ``(samples, sample_rate_hz)``; samples float64 of shape ``(num_samples,)``.

    Raises:
        AudioError: See :func:`read_audio`.
    """
    samples, sample_rate_hz = read_audio(path, name=name, start=start, stop=stop)
    return np.ascontiguousarray(samples[:, 0]), sample_rate_hz


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] to 16-bit PCM (x * 32768, rounded, clipped to the int16 range)."""
    return np.clip(np.round(np.asarray(samples, dtype=np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def write_wav(path: str | os.PathLike, samples: np.ndarray, *, sample_rate_hz: int) -> Path:
    """Write float samples as a 16-bit PCM wav, atomically (temporary file, then rename).

    Args:
        path: Target file.
        samples: Float samples in [-1, 1], shape ``(num_samples,)`` or ``(num_samples, channels)``.
        sample_rate_hz: The sample rate.

    Returns:
        ``path``.
    """
    with atomic_path(path) as temporary:
        soundfile.write(str(temporary), to_int16(samples), sample_rate_hz, subtype="PCM_16", format="WAV")
    return Path(path)


def working_rate_hz(file_rate_hz: int, *, sample_rate_hz: int | None = None) -> int:
    """The rate a file at ``file_rate_hz`` is trimmed, padded and embedded at: the file's own
    rate, or ``sample_rate_hz`` when that is set (the file is then resampled, unless the two are
    equal)."""
    return sample_rate_hz or file_rate_hz


def load_at_rate(
    path: str | os.PathLike | BinaryIO, *, sample_rate_hz: int | None = None, name: str | None = None
) -> tuple[np.ndarray, int, int]:
    """A clip's first channel, resampled to ``sample_rate_hz`` when that is set.

    Args:
        path: The file, or a binary stream holding one.
        sample_rate_hz: The rate every clip is brought to (None: the file's own).
        name: How errors name the file (default: ``path``).

    Returns:
        ``(samples, rate_hz, source_rate_hz)``.

    Raises:
        AudioError: See :func:`read_audio`.
    """
    samples, source_rate = load_clip(path, name=name)
    rate = working_rate_hz(source_rate, sample_rate_hz=sample_rate_hz)
    return resample(samples, from_hz=source_rate, to_hz=rate), rate, source_rate
