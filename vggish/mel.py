"""Front-end DSP on numpy arrays: framing, STFT magnitude, mel matrix, log-mel spectrogram.

These functions take every number as a keyword argument and import no configuration.
"""

from __future__ import annotations

import functools

import numpy as np

from .errors import InputError


def frame(data: np.ndarray, *, window_length_samples: int, hop_length_samples: int) -> np.ndarray:
    """Split the first axis into overlapping frames, without padding.

    Args:
        data: array of shape ``(num_samples, ...)``.
        window_length_samples: Frame length.
        hop_length_samples: Step between frame starts.

    Returns:
        A read-only view of shape ``(num_frames, window_length_samples, ...)`` with
        ``num_frames = 1 + (num_samples - window_length_samples) // hop_length_samples``, or an
        empty array of shape ``(0, window_length_samples, ...)`` when the input is shorter than
        one window (incomplete frames are dropped).
    """
    data = np.asarray(data)
    num_samples = data.shape[0]
    if num_samples < window_length_samples:
        return np.zeros((0, window_length_samples) + data.shape[1:], dtype=data.dtype)
    num_frames = 1 + (num_samples - window_length_samples) // hop_length_samples
    windows = np.lib.stride_tricks.sliding_window_view(data, window_length_samples, axis=0)
    # sliding_window_view puts the window axis last; move it to position 1.
    windows = np.moveaxis(windows, -1, 1)
    return windows[: (num_frames - 1) * hop_length_samples + 1 : hop_length_samples]


def periodic_hann(window_length_samples: int) -> np.ndarray:
    """The periodic Hann window ``w[n] = 0.5 - 0.5 cos(2 pi n / N)``, n = 0..N-1, float64."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi / window_length_samples * np.arange(window_length_samples))


def stft_magnitude(
    signal: np.ndarray, *, fft_length: int, hop_length_samples: int, window_length_samples: int
) -> np.ndarray:
    """Magnitude of the short-time Fourier transform with a periodic Hann window.

    Args:
        signal: float array of shape ``(num_samples,)``.
        fft_length: FFT size (at least the window length).
        hop_length_samples: Step between frames.
        window_length_samples: Frame length.

    Returns:
        float64 array of shape ``(num_frames, fft_length // 2 + 1)``.
    """
    frames = frame(signal, window_length_samples=window_length_samples, hop_length_samples=hop_length_samples)
    return np.abs(np.fft.rfft(frames * periodic_hann(window_length_samples), int(fft_length)))


def hertz_to_mel(frequencies_hertz: np.ndarray | float) -> np.ndarray | float:
    """The HTK mel scale: ``1127 ln(1 + f / 700)``."""
    return 1127.0 * np.log(1.0 + np.asarray(frequencies_hertz, dtype=np.float64) / 700.0)


def mel_matrix(
    *,
    num_mel_bins: int,
    num_spectrogram_bins: int,
    audio_sample_rate_hz: float,
    lower_edge_hertz: float,
    upper_edge_hertz: float,
) -> np.ndarray:
    """The matrix that maps spectrogram bins to mel bands.

    Spectrogram bin frequencies are ``linspace(0, sample_rate / 2, num_spectrogram_bins)``;
    ``num_mel_bins + 2`` band edges are equally spaced in mel between the two edge
    frequencies; band ``i`` is the triangle over edges ``i, i+1, i+2`` (slopes in mel), peaking
    at 1 at its center; the row of the DC bin is zero.

    Returns:
        float64 array of shape ``(num_spectrogram_bins, num_mel_bins)``.

    Raises:
        InputError: The edges are not ``0 <= lower < upper <= sample_rate / 2``.
    """
    nyquist_hertz = audio_sample_rate_hz / 2.0
    if not 0.0 <= lower_edge_hertz < upper_edge_hertz <= nyquist_hertz:
        raise InputError(
            f"mel edges have to satisfy 0 <= lower < upper <= {nyquist_hertz} Hz, "
            f"not lower={lower_edge_hertz} upper={upper_edge_hertz}"
        )
    bins_mel = hertz_to_mel(np.linspace(0.0, nyquist_hertz, num_spectrogram_bins))
    edges_mel = np.linspace(hertz_to_mel(lower_edge_hertz), hertz_to_mel(upper_edge_hertz), num_mel_bins + 2)
    matrix = np.empty((num_spectrogram_bins, num_mel_bins))
    for band in range(num_mel_bins):
        lower, center, upper = edges_mel[band : band + 3]
        rising = (bins_mel - lower) / (center - lower)
        falling = (upper - bins_mel) / (upper - center)
        matrix[:, band] = np.maximum(0.0, np.minimum(rising, falling))
    matrix[0, :] = 0.0
    return matrix


def log_mel_spectrogram(
    data: np.ndarray,
    *,
    audio_sample_rate_hz: float,
    log_offset: float,
    window_length_seconds: float,
    hop_length_seconds: float,
    num_mel_bins: int,
    lower_edge_hertz: float,
    upper_edge_hertz: float,
) -> np.ndarray:
    """``ln(|STFT| @ mel_matrix + log_offset)``.

    The window and hop are rounded to whole samples; the FFT length is the next power of two of
    the window.

    Returns:
        float64 array of shape ``(num_frames, num_mel_bins)``.
    """
    window_length_samples = int(round(audio_sample_rate_hz * window_length_seconds))
    hop_length_samples = int(round(audio_sample_rate_hz * hop_length_seconds))
    fft_length = 2 ** int(np.ceil(np.log2(window_length_samples)))
    spectrogram = stft_magnitude(
        data, fft_length=fft_length, hop_length_samples=hop_length_samples, window_length_samples=window_length_samples
    )
    matrix = _shared_mel_matrix(num_mel_bins, spectrogram.shape[1], audio_sample_rate_hz, lower_edge_hertz,
                                upper_edge_hertz)
    return np.log(spectrogram @ matrix + log_offset)


@functools.lru_cache(maxsize=8)
def _shared_mel_matrix(num_mel_bins, num_spectrogram_bins, audio_sample_rate_hz, lower_edge_hertz, upper_edge_hertz):
    """:func:`mel_matrix`, computed once per setting and shared read-only (a build asks for the
    same one for every clip)."""
    matrix = mel_matrix(num_mel_bins=num_mel_bins, num_spectrogram_bins=num_spectrogram_bins,
                        audio_sample_rate_hz=audio_sample_rate_hz, lower_edge_hertz=lower_edge_hertz,
                        upper_edge_hertz=upper_edge_hertz)
    matrix.flags.writeable = False
    return matrix
