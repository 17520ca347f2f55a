"""The VGGish input adapter: waveform -> batch of log-mel examples ``[n, 96, 64]``."""

from __future__ import annotations

import functools
import os

import numpy as np

from . import mel, params
from .errors import InputError


def waveform_to_examples(
    data: np.ndarray, sample_rate: float, hop_seconds: float = params.EXAMPLE_HOP_SECONDS
) -> np.ndarray:
    """Turn a waveform into VGGish input examples.

    Channels are averaged; the signal is resampled to 16 kHz with resampy (``kaiser_best``) when
    its rate differs; the log-mel spectrogram (25 ms Hann windows, 10 ms hop, 64 bands from
    125 to 7500 Hz, ``ln(mel + 0.01)``) is cut into examples of 96 frames every
    ``round(hop_seconds * 100)`` frames, without padding.

    Args:
        data: Samples of shape ``(num_samples,)`` or ``(num_samples, channels)``; floats in
            [-1, 1], or int16 (scaled by 1 / 32768).
        sample_rate: Its sample rate in Hz.
        hop_seconds: Time between example starts (0.96 s published; 0.23 s in the original
            RAVDESS project).

    Returns:
        float32 array of shape ``(num_examples, 96, 64)``; ``num_examples`` is 0 for a clip
        shorter than one example (0.96 s).

    Raises:
        InputError: ``data`` has more than two dimensions, or a rate or hop is not positive.
    """
    data = np.asarray(data)
    if data.dtype == np.int16:
        data = data / 32768.0
    if data.ndim == 2:
        data = data.mean(axis=1)
    elif data.ndim != 1:
        raise InputError(f"data has to have shape (num_samples,) or (num_samples, channels), not {data.shape}")
    if sample_rate <= 0:
        raise InputError(f"sample_rate has to be positive, not {sample_rate}")
    if hop_seconds <= 0:
        raise InputError(f"hop_seconds has to be positive, not {hop_seconds}")
    if sample_rate != params.SAMPLE_RATE_HZ:
        import resampy

        data = resampy.resample(np.asarray(data, dtype=np.float64), sample_rate, params.SAMPLE_RATE_HZ)
    return log_mel_examples(data, hop_seconds=hop_seconds)


def log_mel_examples(
    data: np.ndarray, *, hop_seconds: float = params.EXAMPLE_HOP_SECONDS, sound: tuple[int, int] | None = None
) -> np.ndarray:
    """Examples of a mono 16 kHz waveform (the part of :func:`waveform_to_examples` after
    resampling).

    Args:
        data: float array of shape ``(num_samples,)`` at 16 kHz.
        hop_seconds: Time between example starts.
        sound: None, or ``(start, stop)`` such that every sample outside ``data[start:stop]``
            is exactly zero (a padded clip). STFT frames lying wholly in the zeros are not
            transformed: they get the log-mel row of a frame of zeros, computed by the same
            code, so the result is the same as without ``sound``.

    Returns:
        float32 array of shape ``(num_examples, 96, 64)``.
    """
    settings = _log_mel_settings()
    if sound is None:
        log_mel = mel.log_mel_spectrogram(data, **settings)
    else:
        window = int(round(params.SAMPLE_RATE_HZ * params.STFT_WINDOW_LENGTH_SECONDS))
        hop = int(round(params.SAMPLE_RATE_HZ * params.STFT_HOP_LENGTH_SECONDS))
        num_frames = _frame_counts(data.shape[0], window_length_samples=window, hop_length_samples=hop)
        start, stop = sound
        first = min(num_frames, max(0, (start - window) // hop + 1))  # frames first..last-1 touch the sound
        last = max(first, min(num_frames, -(-stop // hop)))
        silent_row = _zero_frame_row(window)
        log_mel = np.empty((num_frames, params.NUM_MEL_BINS))
        log_mel[:first] = silent_row
        log_mel[last:] = silent_row
        if last > first:
            log_mel[first:last] = mel.log_mel_spectrogram(data[first * hop : (last - 1) * hop + window], **settings)
    frames_per_second = 1.0 / params.STFT_HOP_LENGTH_SECONDS
    examples = mel.frame(
        log_mel,
        window_length_samples=int(round(params.EXAMPLE_WINDOW_SECONDS * frames_per_second)),
        hop_length_samples=int(round(hop_seconds * frames_per_second)),
    )
    return examples.astype(np.float32)


def _log_mel_settings() -> dict:
    """The keyword arguments of :func:`vggish.mel.log_mel_spectrogram` for VGGish."""
    return dict(
        audio_sample_rate_hz=params.SAMPLE_RATE_HZ,
        log_offset=params.LOG_OFFSET,
        window_length_seconds=params.STFT_WINDOW_LENGTH_SECONDS,
        hop_length_seconds=params.STFT_HOP_LENGTH_SECONDS,
        num_mel_bins=params.NUM_MEL_BINS,
        lower_edge_hertz=params.MEL_MIN_HZ,
        upper_edge_hertz=params.MEL_MAX_HZ,
    )


@functools.lru_cache(maxsize=1)
def _zero_frame_row(window_samples: int) -> np.ndarray:
    """The log-mel row of one STFT window of zeros, computed once (read-only)."""
    row = mel.log_mel_spectrogram(np.zeros(window_samples), **_log_mel_settings())[0]
    row.flags.writeable = False
    return row


def wavfile_to_examples(path: str | os.PathLike, hop_seconds: float = params.EXAMPLE_HOP_SECONDS) -> np.ndarray:
    """Read an audio file (integer PCM scaled to [-1, 1), 16-bit as int16 / 32768) and call
    :func:`waveform_to_examples`.

    Raises:
        InputError: The file is unreadable or holds no sample.
    """
    import soundfile

    try:
        samples, sample_rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    except Exception as error:  # libsndfile's error types vary between versions
        raise InputError(f"{path}: not a readable audio file ({error})") from None
    if samples.shape[0] == 0:
        raise InputError(f"{path}: the audio file holds no samples")
    return waveform_to_examples(samples, sample_rate, hop_seconds=hop_seconds)


def _frame_counts(num_samples: int, *, window_length_samples: int, hop_length_samples: int) -> int:
    """How many whole windows :func:`vggish.mel.frame` cuts from ``num_samples``."""
    if num_samples < window_length_samples:
        return 0
    return 1 + (num_samples - window_length_samples) // hop_length_samples


def num_examples(num_samples: int, *, hop_seconds: float = params.EXAMPLE_HOP_SECONDS) -> int:
    """How many examples :func:`log_mel_examples` makes of ``num_samples`` samples at 16 kHz.

    STFT frames: ``1 + (n - 400) // 160`` (0 below 400 samples); examples: ``1 + (frames - 96)
    // round(hop_seconds * 100)`` (0 below 96 frames, that is below 0.975 s).
    """
    window = int(round(params.SAMPLE_RATE_HZ * params.STFT_WINDOW_LENGTH_SECONDS))
    hop = int(round(params.SAMPLE_RATE_HZ * params.STFT_HOP_LENGTH_SECONDS))
    frames = _frame_counts(num_samples, window_length_samples=window, hop_length_samples=hop)
    frames_per_second = 1.0 / params.STFT_HOP_LENGTH_SECONDS
    return _frame_counts(frames, window_length_samples=int(round(params.EXAMPLE_WINDOW_SECONDS * frames_per_second)),
                         hop_length_samples=int(round(hop_seconds * frames_per_second)))


def silent_example() -> np.ndarray:
    """The example of digital silence: float32 ``(96, 64)``, every value ``ln(0.01)`` (the log
    offset), which is what :func:`log_mel_examples` gives for any example of zeros."""
    return np.full((params.NUM_FRAMES, params.NUM_BANDS), np.log(params.LOG_OFFSET), np.float32)
