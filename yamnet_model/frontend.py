"""The YAMNet front-end: a 16 kHz waveform to log-mel patches ``[n, 96, 64]``, as the graph does.

1. The waveform is padded with zeros at its end to ``15600 + hop * ceil(max(0, L - 15600) /
   hop)`` samples (a waveform shorter than 0.975 s, even an empty one, gives one patch).
2. STFT magnitude: frames of 400 samples every 160, no centring, a periodic Hann window, FFT
   length 512.
3. 64 HTK-mel bands from 125 to 7500 Hz (``tf.signal.linear_to_mel_weight_matrix``), then
   ``ln(mel + 0.001)``.
4. Patches of 96 frames every ``round(hop_seconds * 100)`` frames (48: 0.48 s).

The STFT magnitude is TensorFlow's own (``tf.signal.stft`` on float32, the op the published
graph runs): in the quiet bins of a pure tone, float32 FFT rounding is of the order of the
signal there, so any other FFT would give other log-mel values (by up to 3e-3 for a 1 kHz
sine) and embeddings off by as much. The mel matrix, the product and the logarithm are numpy
in float64; patches are float32.
"""

from __future__ import annotations

import os

import functools

import numpy as np

from . import params
from .errors import InputError


def hop_frames(hop_seconds: float = params.PATCH_HOP_SECONDS) -> int:
    """Spectrogram frames between patch starts."""
    if isinstance(hop_seconds, bool) or not isinstance(hop_seconds, (int, float)) or not hop_seconds > 0:
        raise InputError(f"hop_seconds has to be a positive number, not {hop_seconds!r}")
    frames = int(round(hop_seconds * params.SAMPLE_RATE_HZ / params.STFT_HOP_SAMPLES))
    if frames < 1:
        raise InputError(f"hop_seconds {hop_seconds} is shorter than one spectrogram frame (0.01 s)")
    return frames


def padded_length(num_samples: int, *, hop_seconds: float = params.PATCH_HOP_SECONDS) -> int:
    """The length the front-end pads ``num_samples`` to (see the module docstring)."""
    hop = hop_frames(hop_seconds) * params.STFT_HOP_SAMPLES
    beyond = max(0, num_samples - params.MIN_SAMPLES)
    return params.MIN_SAMPLES + hop * -(-beyond // hop)


def num_patches(num_samples: int, *, hop_seconds: float = params.PATCH_HOP_SECONDS) -> int:
    """Patches of a waveform of ``num_samples`` samples: ``1 + ceil(max(0, L - 15600) / hop)``."""
    frames = 1 + (padded_length(num_samples, hop_seconds=hop_seconds) - params.STFT_WINDOW_SAMPLES) // params.STFT_HOP_SAMPLES
    return 1 + (frames - params.PATCH_FRAMES) // hop_frames(hop_seconds)


def hertz_to_mel(frequencies_hertz):
    """The HTK mel scale: ``1127 ln(1 + f / 700)``."""
    return 1127.0 * np.log1p(np.asarray(frequencies_hertz, dtype=np.float64) / 700.0)


def mel_matrix(*, num_mel_bins: int = params.NUM_MEL_BINS, num_spectrogram_bins: int = params.NUM_SPECTROGRAM_BINS,
               sample_rate_hz: float = params.SAMPLE_RATE_HZ, lower_edge_hertz: float = params.MEL_MIN_HZ,
               upper_edge_hertz: float = params.MEL_MAX_HZ) -> np.ndarray:
    """``tf.signal.linear_to_mel_weight_matrix``: ``(num_spectrogram_bins, num_mel_bins)``.

    Bin frequencies are ``linspace(0, sample_rate / 2, bins)``; ``num_mel_bins + 2`` edges are
    equally spaced in mel; band ``i`` is the triangle over edges ``i, i+1, i+2`` with slopes in
    mel; the DC bin's row is zero.
    """
    if not 0.0 <= lower_edge_hertz < upper_edge_hertz <= sample_rate_hz / 2:
        raise InputError(f"mel edges have to satisfy 0 <= lower < upper <= {sample_rate_hz / 2} Hz, "
                         f"not {lower_edge_hertz}, {upper_edge_hertz}")
    bins_mel = hertz_to_mel(np.linspace(0.0, sample_rate_hz / 2, num_spectrogram_bins)[1:])[:, None]
    edges = np.linspace(hertz_to_mel(lower_edge_hertz), hertz_to_mel(upper_edge_hertz), num_mel_bins + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    weights = np.maximum(0.0, np.minimum((bins_mel - lower) / (center - lower), (upper - bins_mel) / (upper - center)))
    return np.concatenate([np.zeros((1, num_mel_bins)), weights])


@functools.lru_cache(maxsize=1)
def _shared_mel_matrix() -> np.ndarray:
    matrix = mel_matrix()
    matrix.flags.writeable = False
    return matrix


@functools.lru_cache(maxsize=1)
def _stft_magnitude():
    """``tf.signal.stft``'s magnitude, compiled once for any length."""
    import tensorflow as tf

    def magnitude(waveform):
        return tf.abs(tf.signal.stft(waveform, frame_length=params.STFT_WINDOW_SAMPLES,
                                     frame_step=params.STFT_HOP_SAMPLES, fft_length=params.FFT_LENGTH))

    return tf.function(magnitude, input_signature=[tf.TensorSpec([None], tf.float32)])


def stft_magnitude(waveform: np.ndarray) -> np.ndarray:
    """The STFT magnitude of a 16 kHz waveform as the published graph computes it (float32:
    frames of 400 samples every 160, periodic Hann window, FFT length 512), float32
    ``(frames, 257)``; ``frames = 1 + (L - 400) // 160``, 0 below 400 samples."""
    waveform = np.asarray(waveform, dtype=np.float32)
    if waveform.shape[0] < params.STFT_WINDOW_SAMPLES:
        return np.zeros((0, params.NUM_SPECTROGRAM_BINS), np.float32)
    return _stft_magnitude()(waveform).numpy()


def log_mel_spectrogram(waveform: np.ndarray) -> np.ndarray:
    """``ln(|STFT| @ mel + 0.001)`` of a 16 kHz waveform (no padding): float64 ``(frames, 64)``,
    ``frames = 1 + (L - 400) // 160`` (0 below 400 samples)."""
    return np.log(stft_magnitude(waveform).astype(np.float64) @ _shared_mel_matrix() + params.LOG_OFFSET)


@functools.lru_cache(maxsize=1)
def _zero_frame_row() -> np.ndarray:
    row = log_mel_spectrogram(np.zeros(params.STFT_WINDOW_SAMPLES))[0]
    row.flags.writeable = False
    return row


def waveform_to_log_mel(waveform: np.ndarray, *, hop_seconds: float = params.PATCH_HOP_SECONDS,
                        sound: tuple[int, int] | None = None) -> np.ndarray:
    """The log-mel spectrogram of a waveform padded as the front-end pads it.

    Args:
        waveform: float array ``(num_samples,)`` at 16 kHz, values in [-1, 1].
        hop_seconds: The patch hop (it decides the padding).
        sound: None, or ``(start, stop)`` such that every sample outside ``waveform[start:stop]``
            is exactly zero. Frames wholly in the zeros are not transformed: they get the row of
            a frame of zeros, computed by the same code, so the result is the same.

    Returns:
        float64 array ``(frames, 64)``.
    """
    waveform = np.asarray(waveform, dtype=np.float64)
    if waveform.ndim != 1:
        raise InputError(f"the waveform has to have shape (num_samples,), not {waveform.shape}")
    padded = np.zeros(padded_length(waveform.shape[0], hop_seconds=hop_seconds))
    padded[: waveform.shape[0]] = waveform
    if sound is None:
        return log_mel_spectrogram(padded)
    window, hop = params.STFT_WINDOW_SAMPLES, params.STFT_HOP_SAMPLES
    frames = 1 + (padded.shape[0] - window) // hop
    start, stop = sound
    first = min(frames, max(0, (start - window) // hop + 1))  # frames first .. last - 1 touch the sound
    last = max(first, min(frames, -(-stop // hop)))
    log_mel = np.empty((frames, params.NUM_MEL_BINS))
    log_mel[:first] = _zero_frame_row()
    log_mel[last:] = _zero_frame_row()
    if last > first:
        log_mel[first:last] = log_mel_spectrogram(padded[first * hop : (last - 1) * hop + window])
    return log_mel


def waveform_to_patches(waveform: np.ndarray, *, hop_seconds: float = params.PATCH_HOP_SECONDS,
                        sound: tuple[int, int] | None = None) -> np.ndarray:
    """YAMNet's input patches of a 16 kHz waveform (see :func:`waveform_to_log_mel`).

    Returns:
        float32 array ``(num_patches, 96, 64)``; at least one patch.
    """
    log_mel = waveform_to_log_mel(waveform, hop_seconds=hop_seconds, sound=sound)
    hop = hop_frames(hop_seconds)
    count = 1 + (log_mel.shape[0] - params.PATCH_FRAMES) // hop
    windows = np.lib.stride_tricks.sliding_window_view(log_mel, params.PATCH_FRAMES, axis=0)
    return np.ascontiguousarray(np.moveaxis(windows[: (count - 1) * hop + 1 : hop], -1, 1), dtype=np.float32)


def silent_patch() -> np.ndarray:
    """The patch of digital silence: float32 ``(96, 64)``, every value ``ln(0.001)``, which is
    what :func:`waveform_to_patches` gives for any patch of zeros."""
    return np.full((params.PATCH_FRAMES, params.NUM_MEL_BINS), np.log(params.LOG_OFFSET), np.float32)


def read_waveform(path) -> np.ndarray:
    """An audio file as YAMNet's published inference reads it: integer PCM scaled to [-1, 1),
    channels averaged, resampled to 16 kHz with resampy (``kaiser_best``).

    Raises:
        InputError: The file is missing or unreadable, holds no samples, or holds NaN or infinite
            values.
    """
    import soundfile

    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    try:
        samples, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    except Exception as error:  # libsndfile's error types vary between versions
        raise InputError(f"{path}: not a readable audio file ({error})") from None
    if samples.shape[0] == 0:
        raise InputError(f"{path}: the audio file holds no samples")
    if not np.isfinite(samples).all():
        raise InputError(f"{path}: {int((~np.isfinite(samples).all(axis=1)).sum())} samples are NaN or infinite")
    waveform = samples.mean(axis=1)
    if rate != params.SAMPLE_RATE_HZ:
        import resampy

        waveform = resampy.resample(waveform, rate, params.SAMPLE_RATE_HZ, filter="kaiser_best")
    return waveform
