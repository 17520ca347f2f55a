"""Reading and writing clips.

Samples are float64 in [-1, 1]: integer PCM is scaled by its full-scale value (int16 / 32768,
int24 / 2**23, int32 / 2**31), which keeps every 16-bit sample exact.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile

from ..exceptions import AudioError, ParameterError, SampleRateError
from ..storage.atomic import atomic_path
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
        AudioError: The file is missing, or libsndfile cannot open it.
    """
    if not os.path.exists(path):
        raise AudioError(missing_message(path))
    try:
        return soundfile.SoundFile(str(path))
    except Exception as error:
        raise AudioError(unreadable_message(path, error)) from None


def missing_message(path) -> str:
    """The message for an audio file that is not there."""
    return f"{path}: no such file"


def truncated_message(path, *, found: int, declared: int) -> str:
    """The message for an audio file that holds fewer samples than its header announces."""
    return f"{path}: the audio file ends after {found} of the {declared} samples its header announces (truncated)"


def check_complete(path: str | os.PathLike | BinaryIO, *, name: str | None = None) -> None:
    """Raise :class:`AudioError` unless the file holds every sample its header announces.

    A WAV file's ``data`` chunk is compared with the bytes that follow it (libsndfile reads a
    cut WAV file as a shorter one without a word); a FLAC file's last sample is decoded (a cut
    FLAC file ends before it). Other formats are left to the decoder.

    Raises:
        AudioError: The file is missing, unreadable, or truncated; the message names it.
    """
    name = path if name is None else name
    if not hasattr(path, "read") and not os.path.exists(path):
        raise AudioError(missing_message(name))
    stream = path if hasattr(path, "read") else open(path, "rb")
    try:
        stream.seek(0)
        magic = stream.read(4)
        stream.seek(0)
        if magic in (b"RIFF", b"RIFX"):
            shortfall = _wav_shortfall(stream)
            if shortfall is not None:
                raise AudioError(truncated_message(name, found=shortfall[1], declared=shortfall[0]))
        elif magic == b"fLaC":
            try:
                with soundfile.SoundFile(stream) as audio:
                    frames = int(audio.frames)
                    if frames > 0:
                        audio.seek(frames - 1)
                        if audio.read(1).shape[0] != 1:
                            raise RuntimeError("no last sample")
            except AudioError:
                raise
            except Exception as error:  # libsndfile's error types vary between versions
                raise AudioError(f"{name}: the FLAC file cannot be decoded to its end ({error}); truncated or "
                                 "damaged") from None
    finally:
        stream.seek(0)
        if stream is not path:
            stream.close()


def _wav_shortfall(stream: BinaryIO) -> tuple[int, int] | None:
    """``(declared frames, frames present)`` of a WAV file cut short, else None."""
    header = stream.read(12)
    if len(header) < 12 or header[8:12] != b"WAVE":
        return None
    order = "<" if header[:4] == b"RIFF" else ">"
    block_align = None
    while True:
        chunk = stream.read(8)
        if len(chunk) < 8:
            return None
        kind, size = chunk[:4], struct.unpack(f"{order}I", chunk[4:])[0]
        if kind == b"fmt ":
            body = stream.read(size + (size & 1))
            if len(body) >= 14:
                block_align = struct.unpack(f"{order}H", body[12:14])[0]
        elif kind == b"data":
            start = stream.tell()
            available = stream.seek(0, os.SEEK_END) - start
            if not block_align or size in (0, 0xFFFFFFFF) or available >= size:
                return None
            return size // block_align, available // block_align
        else:
            stream.seek(size + (size & 1), os.SEEK_CUR)


#: The sampling rates the library reads: below 1 kHz no speech is left to embed (and some
#: front-ends crash), above 384 kHz no audio interface records.
LOWEST_RATE_HZ = 1_000
HIGHEST_RATE_HZ = 384_000


def check_rate(sample_rate_hz: int, *, where) -> int:
    """``sample_rate_hz``, if the library reads it.

    Raises:
        SampleRateError: Outside :data:`LOWEST_RATE_HZ` .. :data:`HIGHEST_RATE_HZ`; the message
            starts with ``where``.
    """
    if not LOWEST_RATE_HZ <= sample_rate_hz <= HIGHEST_RATE_HZ:
        raise SampleRateError(f"{where}: {sample_rate_hz} Hz is outside the sampling rates this library reads "
                              f"({LOWEST_RATE_HZ} to {HIGHEST_RATE_HZ} Hz)")
    return sample_rate_hz


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
        SampleRateError: Its rate is outside those the library reads (:func:`check_rate`).
    """
    source = path if hasattr(path, "read") else str(path)
    path = path if name is None else name
    if not hasattr(source, "read") and not os.path.exists(source):
        raise AudioError(missing_message(path))
    try:
        samples, sample_rate_hz = soundfile.read(source, dtype="float64", always_2d=True, start=start, stop=stop)
    except Exception as error:  # libsndfile's error types vary between versions
        raise AudioError(unreadable_message(path, error)) from None
    if samples.shape[0] == 0:
        raise AudioError(empty_message(path))
    check_rate(int(sample_rate_hz), where=path)
    finite = np.isfinite(samples)
    if not finite.all():
        bad = np.flatnonzero(~finite.all(axis=1))
        raise AudioError(
            f"{path}: {bad.size} samples are NaN or infinite (the first at sample {bad[0]})"
        )
    return samples, int(sample_rate_hz)


CHANNEL_POLICIES = ("first", "mean")


def mono(samples: np.ndarray, *, channel: str = "first") -> np.ndarray:
    """One channel of ``(num_samples, channels)`` samples: the first (the original's choice) or
    the mean of all, float64 ``(num_samples,)``."""
    if channel not in CHANNEL_POLICIES:
        raise AudioError(f"channel has to be one of {', '.join(map(repr, CHANNEL_POLICIES))}, not {channel!r}")
    if channel == "first" or samples.shape[1] == 1:
        return np.ascontiguousarray(samples[:, 0])
    return samples.mean(axis=1)


def load_clip(
    path: str | os.PathLike | BinaryIO, *, name: str | None = None, start: int = 0, stop: int | None = None,
    channel: str = "first",
) -> tuple[np.ndarray, int]:
    """Read a clip as the build does: one channel (the first, as the original did, or the mean
    of all), as float64.

    Args:
        path: The file, or a binary stream holding one.
        name: How errors name the file (default: ``path``).
        start: First sample to read.
        stop: One past the last sample to read (None: the end).
        channel: ``"first"`` or ``"mean"`` (see :func:`mono`).

    Returns:
        ``(samples, sample_rate_hz)``; samples float64 of shape ``(num_samples,)``.

    Raises:
        AudioError: See :func:`read_audio`.
    """
    samples, sample_rate_hz = read_audio(path, name=name, start=start, stop=stop)
    return mono(samples, channel=channel), sample_rate_hz


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
    path: str | os.PathLike | BinaryIO, *, sample_rate_hz: int | None = None, name: str | None = None,
    channel: str = "first",
) -> tuple[np.ndarray, int, int]:
    """A clip's channel (see :func:`mono`), resampled to ``sample_rate_hz`` when that is set.

    Args:
        path: The file, or a binary stream holding one.
        sample_rate_hz: The rate every clip is brought to (None: the file's own).
        name: How errors name the file (default: ``path``).
        channel: ``"first"`` or ``"mean"``.

    Returns:
        ``(samples, rate_hz, source_rate_hz)``.

    Raises:
        AudioError: See :func:`read_audio`.
    """
    samples, source_rate = load_clip(path, name=name, channel=channel)
    rate = working_rate_hz(source_rate, sample_rate_hz=sample_rate_hz)
    return resample(samples, from_hz=source_rate, to_hz=rate), rate, source_rate


#: Integer samples written as a PCM file of them (read back exactly as libsndfile reads it),
#: and those first made the floats a PCM file of them reads as (WAV holds no int8; its 8 bits
#: are unsigned).
_PCM_AS_WRITTEN = (np.dtype(np.int16), np.dtype(np.int32))
_PCM_AS_FLOAT = {np.dtype(np.uint8): lambda values: (values.astype(np.float64) - 128.0) / 128.0,
                 np.dtype(np.int8): lambda values: values.astype(np.float64) / 128.0}


def signal_samples(signal) -> np.ndarray:
    """Samples in memory as a file holding exactly them is written: int16 or int32 PCM as it
    is, float64 otherwise (see :meth:`ravdess_prep.embedding.Embedding.process_signal`).

    Raises:
        ParameterError: Several channels, no sample, values that are not real numbers, not
            finite or beyond [-1, 1], or an integer type no PCM file holds.
    """
    samples = np.asarray(signal)
    if samples.ndim != 1:
        raise ParameterError(f"signal has shape {samples.shape}: give one channel, (samples,) (for example "
                             "signal.mean(axis=1), or the channel you want)")
    if samples.size == 0:
        raise ParameterError("signal is empty: no sample to embed")
    if np.iscomplexobj(samples):
        raise ParameterError("signal holds complex values: give real samples (its real part, signal.real, if that "
                             "is the audio)")
    if samples.dtype == bool or not np.issubdtype(samples.dtype, np.number):
        raise ParameterError(f"signal holds {samples.dtype} values, not numbers: give audio samples")
    if samples.dtype in _PCM_AS_WRITTEN:
        return samples
    if samples.dtype in _PCM_AS_FLOAT:
        return _PCM_AS_FLOAT[samples.dtype](samples)
    if np.issubdtype(samples.dtype, np.integer):
        raise ParameterError(f"signal holds {samples.dtype} values, which no PCM file holds: give int16, int32, "
                             "uint8 or int8 samples, or floats in [-1, 1]")
    if not np.isfinite(samples).all():
        raise ParameterError("signal holds values that are not finite numbers (NaN or infinity)")
    peak = float(np.abs(samples).max())
    if peak > 1.0:
        raise ParameterError(f"signal holds values up to {peak:g}, beyond [-1, 1] where audio files hold them: scale "
                             "it (signal / abs(signal).max()) or clip it (numpy.clip(signal, -1, 1)) as you mean it")
    return samples.astype(np.float64)
