"""Silence trimming: where a clip's sound starts and ends.

The default rule is the original project's: a rolling window of ``window_samples`` samples
ends at every index ``i >= window_samples - 1``; its *signed* sum is active where its absolute
value exceeds ``threshold``; with ``a`` the first and ``b`` the last active index, the trimmed
clip is ``samples[a : b + window_samples]`` (a Python slice, so the end is clipped to the clip).
An energy rule (librosa's ``effects.trim`` with ``top_db``) is the alternative.
"""

from __future__ import annotations

import numpy as np

from .exceptions import ParameterError

TRIM_METHODS = ("rolling", "energy")


def rolling_trim_offsets(
    samples: np.ndarray, *, window_samples: int = 50, threshold: float = 0.01
) -> tuple[int, int] | None:
    """The original project's trim: offsets of the active part of a clip.

    Args:
        samples: float array of shape ``(num_samples,)``, values in [-1, 1].
        window_samples: Length of the rolling window.
        threshold: A window is active where ``|sum of its samples| > threshold``.

    Returns:
        ``(start, end)`` such that ``samples[start:end]`` is the trimmed clip, or None when no
        window is active (a silent clip, or one shorter than a window).

    Raises:
        ParameterError: ``samples`` is not one-dimensional, or a parameter is out of range.
    """
    samples = _mono(samples)
    if window_samples < 1:
        raise ParameterError(f"window_samples has to be at least 1, not {window_samples}")
    if threshold < 0:
        raise ParameterError(f"threshold has to be non-negative, not {threshold}")
    ends = active_window_ends(samples, window_samples=window_samples, threshold=threshold)
    if ends is None:
        return None
    first, last = ends
    return first, min(last + window_samples, samples.size)


def active_window_ends(samples: np.ndarray, *, window_samples: int, threshold: float) -> tuple[int, int] | None:
    """The rolling rule's core: the end indices of the first and the last active window.

    The window ending at index ``i`` (``i >= window_samples - 1``) is active where the absolute
    value of its signed sum exceeds ``threshold``.

    Args:
        samples: float array of shape ``(num_samples,)``.
        window_samples: Window length (at least 1).
        threshold: Activity threshold.

    Returns:
        ``(a, b)``, the indices where the first and the last active windows end, or None.
    """
    if samples.size < window_samples:
        return None
    # Cumulative sums of float64 samples that are multiples of 2**-15 (16-bit audio) are exact,
    # so these window sums equal the sums of the samples, bit for bit.
    cumulative = np.concatenate(([0.0], np.cumsum(samples, dtype=np.float64)))
    window_sums = cumulative[window_samples:] - cumulative[:-window_samples]
    active = np.flatnonzero(np.abs(window_sums) > threshold)
    if active.size == 0:
        return None
    # window_sums[k] is the window ending at index k + window_samples - 1.
    return int(active[0]) + window_samples - 1, int(active[-1]) + window_samples - 1


def energy_trim_offsets(
    samples: np.ndarray,
    *,
    top_db: float = 60.0,
    frame_length_samples: int = 2048,
    hop_length_samples: int = 512,
) -> tuple[int, int] | None:
    """Energy-based trim (librosa's ``effects.trim``): offsets of the part above ``-top_db``.

    Args:
        samples: float array of shape ``(num_samples,)``.
        top_db: Frames quieter than the loudest frame by more than this many dB are silence.
        frame_length_samples: Analysis frame length.
        hop_length_samples: Analysis hop.

    Returns:
        ``(start, end)``, or None when every frame is silent.
    """
    import librosa

    samples = _mono(samples)
    if top_db <= 0:
        raise ParameterError(f"top_db has to be positive, not {top_db}")
    if not np.any(samples):
        return None
    _, (start, end) = librosa.effects.trim(
        samples, top_db=top_db, frame_length=frame_length_samples, hop_length=hop_length_samples
    )
    if end <= start:
        return None
    return int(start), int(end)


def trim_offsets(
    samples: np.ndarray,
    *,
    method: str = "rolling",
    window_samples: int = 50,
    threshold: float = 0.01,
    top_db: float = 60.0,
    frame_length_samples: int = 2048,
    hop_length_samples: int = 512,
) -> tuple[int, int] | None:
    """Offsets of the active part of a clip under the chosen rule (see the module docstring).

    Args:
        samples: float array of shape ``(num_samples,)``.
        method: ``"rolling"`` (the original's rule) or ``"energy"``.
        window_samples: Rolling rule: window length.
        threshold: Rolling rule: activity threshold on the absolute signed window sum.
        top_db: Energy rule: silence threshold below the peak, in dB.
        frame_length_samples: Energy rule: frame length.
        hop_length_samples: Energy rule: hop.

    Returns:
        ``(start, end)``, or None when the clip has no active part.

    Raises:
        ParameterError: Unknown method or parameter out of range.
    """
    if method == "rolling":
        return rolling_trim_offsets(samples, window_samples=window_samples, threshold=threshold)
    if method == "energy":
        return energy_trim_offsets(
            samples, top_db=top_db, frame_length_samples=frame_length_samples, hop_length_samples=hop_length_samples
        )
    raise ParameterError(f"method has to be one of {', '.join(TRIM_METHODS)}, not {method!r}")


def trim(samples: np.ndarray, **rule) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Trim a clip; a clip without active part is returned whole.

    Args:
        samples: float array of shape ``(num_samples,)``.
        **rule: Keyword arguments of :func:`trim_offsets`.

    Returns:
        ``(trimmed, offsets)``: the trimmed samples and the ``(start, end)`` offsets, or the
        samples unchanged and None when the clip has no active part.
    """
    offsets = trim_offsets(samples, **rule)
    if offsets is None:
        return samples, None
    start, end = offsets
    return samples[start:end], offsets


def _mono(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ParameterError(f"samples have to be one-dimensional, not of shape {samples.shape}")
    return samples
