"""The published front-end: a waveform at 16 kHz to Whisper's log-mel frames (numpy).

For ``num_samples`` samples: reflect-padded by ``N_FFT // 2`` on each side, periodic Hann
windows of 400 samples every 160 (25 ms every 10 ms), the power spectrum of a 400-point FFT,
the Slaney mel filter bank from 0 to 8000 Hz (80 bins; 128 for large-v3), ``log10`` of the mel
power clamped at 1e-10, every value raised to at least the maximum minus 8, then
``(x + 4) / 4``. The STFT gives ``1 + num_samples // 160`` frames and the last one is dropped,
as the published code does: ``num_samples // 160`` frames, float32 ``(num_mel_bins, frames)``
(the model's layout).

The STFT is PyTorch's own ``torch.stft`` in float32, as ``openai-whisper`` and
``WhisperFeatureExtractor`` (with PyTorch installed) compute it: the clamp keeps bins down to
1e-8 of the loudest one, where float32 rounding of the FFT is as large as the signal, so a
float64 FFT (tried) moves such values by up to 3e-5.

The ``30s`` input pads the waveform with zeros to 30 s first (3000 frames), as
``WhisperFeatureExtractor`` and ``openai-whisper`` do; the ``clip`` input takes the clip alone.

It runs on the calling thread alone (OpenMP held to one thread there while it runs, the same
bits): its arrays are small, and a thread that opens an OpenMP parallel region keeps a team of
OpenMP threads for as long as it lives. Threads preparing clips beside the model would each
keep one, and once GNU OpenMP manages more threads than there are cores it cuts every team's
spin-wait short: the model's own threads then fall asleep between its operations (the
Whisper-base encoder alone 10 % slower beside two idle teams, on 2 cores). MKL, which PyTorch's
FFT and products call, follows OpenMP's count unless ``MKL_NUM_THREADS`` is set.
"""

from __future__ import annotations

import functools

import numpy as np
from threadpoolctl import ThreadpoolController

from . import params
from .errors import InputError


@functools.lru_cache(maxsize=1)
def _thread_pools() -> ThreadpoolController:
    """The process's thread pools (OpenMP's among them), found once, PyTorch loaded."""
    return ThreadpoolController()


@functools.lru_cache(maxsize=4)
def mel_filters(num_mel_bins: int = 80) -> np.ndarray:
    """The Slaney mel filter bank, float64 ``(num_mel_bins, N_FFT // 2 + 1)`` (librosa's, as the
    published model's ``mel_filters.npz`` was made)."""
    import librosa

    filters = librosa.filters.mel(sr=params.SAMPLE_RATE_HZ, n_fft=params.N_FFT, n_mels=num_mel_bins,
                                  fmin=params.MEL_MIN_HZ, fmax=params.MEL_MAX_HZ, htk=False, norm="slaney",
                                  dtype=np.float64)
    filters.setflags(write=False)
    return filters


def num_frames(num_samples: int) -> int:
    """Log-mel frames of a clip of ``num_samples`` samples (the STFT's last frame dropped)."""
    return int(num_samples) // params.HOP_LENGTH_SAMPLES


def encoder_frames(mel_frames: int) -> int:
    """Encoder frames (hidden states per layer) of ``mel_frames`` log-mel frames: the second
    convolution's stride halves them, rounding up."""
    return -(-int(mel_frames) // params.CONV_STRIDE)


def log_mel(waveform: np.ndarray, *, num_mel_bins: int = 80, input: str = "clip") -> np.ndarray:
    """Whisper's log-mel frames of a waveform at 16 kHz (see the module docstring).

    Args:
        waveform: float array ``(num_samples,)`` at 16 kHz, values in [-1, 1].
        num_mel_bins: The model's mel bins (``config.json``'s ``num_mel_bins``).
        input: ``"clip"`` (the clip alone) or ``"30s"`` (padded with zeros to 30 s; a longer
            clip is an error).

    Returns:
        float32 ``(num_mel_bins, frames)``: ``num_samples // 160`` frames, or 3000 for ``30s``.

    Raises:
        InputError: Not one-dimensional, shorter than :data:`params.MIN_SAMPLES`, longer than
            30 s, or an unknown input mode.
    """
    samples = np.asarray(waveform, dtype=np.float32)
    if samples.ndim != 1:
        raise InputError(f"a waveform has to be one-dimensional, not of shape {samples.shape}")
    if input not in params.INPUTS:
        raise InputError(f"input has to be one of {', '.join(map(repr, params.INPUTS))}, not {input!r}")
    if samples.size > params.CHUNK_SAMPLES:
        raise InputError(f"{samples.size} samples ({samples.size / params.SAMPLE_RATE_HZ:.2f} s) are longer than "
                         f"Whisper's {params.CHUNK_SECONDS} s")
    if input == "30s":
        samples = np.pad(samples, (0, params.CHUNK_SAMPLES - samples.size))  # zeros, as the published input
    if samples.size < params.MIN_SAMPLES:
        raise InputError(f"{samples.size} samples are too short for Whisper's front-end (at least "
                         f"{params.MIN_SAMPLES}, {params.MIN_SAMPLES / params.SAMPLE_RATE_HZ * 1000:.1f} ms)")
    import torch

    torch.get_num_threads()  # PyTorch sets a thread's OpenMP threads at its first call there: before the limit
    with _thread_pools().limit(limits=1, user_api="openmp"):
        stft = torch.stft(torch.from_numpy(samples.astype(np.float32)), params.N_FFT, params.HOP_LENGTH_SAMPLES,
                          window=torch.hann_window(params.N_FFT), center=True, pad_mode="reflect",
                          return_complex=True)
        power = stft[:, :-1].abs() ** 2  # the last frame dropped
        mel = torch.from_numpy(mel_filters(num_mel_bins).astype(np.float32)) @ power
        log_spec = torch.clamp(mel, min=params.LOG_FLOOR).log10().numpy()
    if log_spec.size:
        log_spec = np.maximum(log_spec, log_spec.max() - params.DYNAMIC_RANGE)
    return ((log_spec + np.float32(params.LOG_OFFSET)) / np.float32(params.LOG_SCALE)).astype(np.float32)
