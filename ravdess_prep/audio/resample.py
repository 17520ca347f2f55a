"""Resampling: resampy's ``kaiser_best`` (the filter of the models' published front-ends), and
the exact fast paths the build takes for padded clips.

:func:`resample` is resampy itself. :func:`pad_and_resample` centres a clip in silence and
resamples it without resampling the silence: for rates with an exact integer step
(:func:`exact_step`) it resamples only the sound plus the filter's reach with
:func:`decimate`, which reproduces resampy bit for bit, and places it into zeros.

When the rate is an integer multiple ``step`` of the target and resampy's time step
``1 / (target / rate)`` is exactly ``step`` in floating point (48 kHz to 16 kHz: 3), every
output sample of resampy sits on an input sample: the interpolation fraction is 0 on the left
wing and one constant on the right wing, so its filter weights are the same for every output.
Resampling is then a fixed FIR filter evaluated every ``step`` samples. :func:`decimate`
derives those weights with resampy's own arithmetic and sums the products in resampy's order
(left wing outward, then right wing outward), which gives the same floating-point result
without recomputing interpolated weights for every output sample.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from ..exceptions import AudioError, ParameterError
from .pad import center_amounts, pad_center


def resample(samples: np.ndarray, *, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample with resampy's ``kaiser_best`` filter.

    Args:
        samples: float array of shape ``(num_samples,)``.
        from_hz: Its sample rate.
        to_hz: The wanted rate.

    Returns:
        float64 array of shape ``(int(num_samples * to_hz / from_hz),)``; ``samples`` itself when
        the rates are equal.

    Raises:
        AudioError: Too few samples to give one at ``to_hz``.
    """
    if from_hz == to_hz:
        return samples
    check_enough(len(samples), from_hz=from_hz, to_hz=to_hz)
    import resampy

    return resampy.resample(np.asarray(samples, dtype=np.float64), from_hz, to_hz, filter="kaiser_best")


def check_enough(num_samples: int, *, from_hz: int, to_hz: int) -> None:
    """Raise :class:`AudioError` when ``num_samples`` at ``from_hz`` give no sample at ``to_hz``."""
    if int(num_samples * to_hz / from_hz) < 1:
        count = f"{num_samples} samples at {from_hz} Hz are" if num_samples != 1 else f"1 sample at {from_hz} Hz is"
        raise AudioError(f"{count} too few to resample to {to_hz} Hz (less than one sample)")


def pad_and_resample(
    samples: np.ndarray,
    *,
    target_length_samples: int,
    from_hz: int,
    to_hz: int | None,
    on_too_long: str = "error",
    name: str = "clip",
    fast: bool = True,
) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Centre a trimmed clip in silence (or centre-crop it) and resample it.

    Args:
        samples: float array of shape ``(num_samples,)`` at ``from_hz``: the trimmed clip.
        target_length_samples: Length after padding, at ``from_hz``.
        from_hz: The clip's rate.
        to_hz: The rate wanted (None: no resampling).
        on_too_long: ``"error"`` or ``"crop"`` for a clip longer than the target.
        name: The clip's name, for errors.
        fast: Resample only the sound when the step is exact (same bits); False resamples
            the whole padded clip with resampy.

    Returns:
        ``(signal, sound)``: the padded clip at ``to_hz`` (float64), and ``(start, stop)`` such
        that every sample of ``signal`` outside ``signal[start:stop]`` is exactly zero, or None
        when that is not known.
    """
    to_hz = from_hz if to_hz is None else to_hz
    left, right = center_amounts(samples.size, target_length_samples=target_length_samples)
    step = exact_step(from_hz, to_hz)
    if fast and left >= 0 and right >= 0:
        if to_hz == from_hz:
            padded, _ = pad_center(samples, target_length_samples=target_length_samples, name=name)
            return padded, (left, left + samples.size)
        if step is not None:
            margin = reach_samples(from_hz, to_hz) + step
            first = max(0, (left - margin) // step * step)
            last = min(target_length_samples, left + samples.size + margin)
            segment = np.zeros(last - first)
            segment[left - first : left - first + samples.size] = samples
            signal = np.zeros(int(target_length_samples * to_hz / from_hz))
            part = decimate(segment, from_hz=from_hz, to_hz=to_hz)
            offset = first // step
            signal[offset : offset + part.size] = part[: signal.size - offset]
            return signal, (offset, offset + part.size)
    padded, _ = pad_center(samples, target_length_samples=target_length_samples, on_too_long=on_too_long, name=name)
    return resample(padded, from_hz=from_hz, to_hz=to_hz), None


def exact_step(from_hz: int, to_hz: int) -> int | None:
    """``from_hz // to_hz`` when resampy steps through the input exactly that many samples per
    output sample, else None (for example 44.1 kHz, or upsampling)."""
    if from_hz <= to_hz or from_hz % to_hz:
        return None
    step = from_hz // to_hz
    return step if 1.0 / (float(to_hz) / from_hz) == float(step) else None


@functools.lru_cache(maxsize=8)
def fir_weights(from_hz: int, to_hz: int) -> tuple[np.ndarray, np.ndarray]:
    """The left- and right-wing weights resampy's ``kaiser_best`` uses for every output sample.

    Returns:
        ``(left, right)`` float64 arrays: ``left[i]`` multiplies ``x[n - i]``, ``right[k]``
        multiplies ``x[n + k + 1]``, where ``n = step * t`` for output ``t``.
    """
    from resampy.filters import get_filter

    window, precision, _ = get_filter("kaiser_best")
    ratio = float(to_hz) / from_hz
    window = ratio * window
    delta = np.diff(window, append=window[-1])
    index_step = int(ratio * precision)
    left_index = np.arange(window.shape[0] // index_step) * index_step
    left = window[left_index] + 0.0 * delta[left_index]  # fraction 0: offset 0, eta 0.0
    index_fraction = ratio * precision  # right wing: fraction = ratio - 0
    offset = int(index_fraction)
    eta = index_fraction - offset
    right_index = offset + np.arange((window.shape[0] - offset) // index_step) * index_step
    right = window[right_index] + eta * delta[right_index]
    return left, right


def reach_samples(from_hz: int, to_hz: int) -> int:
    """How many input samples on each side one output sample reads."""
    left, right = fir_weights(from_hz, to_hz)
    return max(left.size, right.size + 1)


def decimate(samples: np.ndarray, *, from_hz: int, to_hz: int) -> np.ndarray:
    """``resampy.resample(samples, from_hz, to_hz, filter="kaiser_best")``, bit for bit.

    Args:
        samples: float64 array of shape ``(num_samples,)``.
        from_hz: Its rate; an exact integer multiple of ``to_hz`` (see :func:`exact_step`).
        to_hz: The output rate.

    Returns:
        float64 array of shape ``(int(num_samples * to_hz / from_hz),)``.

    Raises:
        ParameterError: The rates have no exact integer step.
        AudioError: Too few samples to give one at ``to_hz``.
    """
    step = exact_step(from_hz, to_hz)
    if step is None:
        raise ParameterError(f"no exact integer step from {from_hz} Hz to {to_hz} Hz; use resampy")
    check_enough(len(samples), from_hz=from_hz, to_hz=to_hz)
    left, right = fir_weights(from_hz, to_hz)
    samples = np.ascontiguousarray(samples, dtype=np.float64)
    return _fir(samples, left, right, step, int(samples.shape[0] * float(to_hz) / float(from_hz)))


# outputs computed together: each filter tap is applied to a tile of this many outputs before
# the next tap, reading one phase of the input contiguously (see the kernel); each output's own
# sum keeps resampy's order, so the result is the same
TILE_OUTPUTS = 512


_COMPILE_LOCK = threading.Lock()


def _compiled():
    with _COMPILE_LOCK:  # threads that start together compile the kernel once, not once each
        return _compile()


@functools.lru_cache(maxsize=1)
def _compile():
    """The kernel, compiled on first use (numba caches the machine code on disk: later
    processes load it instead of compiling again).

    Output ``t`` reads ``x[step * t - i]`` (left wing) and ``x[step * t + k + 1]`` (right
    wing). Split into its ``step`` phases, ``phases[p, q] = x[step * q + p]``, the input that
    one tap reads for consecutive outputs is contiguous, so a tap is a vectorizable
    multiply-add over a tile of outputs. The tile's sums stay in the first-level cache while
    every tap is added to them in resampy's order (left wing outward, then right wing
    outward); multiplications and additions stay separate operations, as in resampy.
    """
    import numba

    @numba.njit(nogil=True, cache=True)
    def fir(x, left, right, step, num_out):
        y = np.zeros(num_out)
        num_in = x.shape[0]
        num_left, num_right = left.shape[0], right.shape[0]
        # outputs whose two wings lie wholly inside x: first_full <= t < end_full
        first_full = (num_left - 1 + step - 1) // step
        end_full = num_out
        while end_full > first_full and (end_full - 1) * step + num_right >= num_in:
            end_full -= 1
        if end_full > first_full:
            phases = np.zeros((step, (num_in + step - 1) // step))
            for n in range(num_in):
                phases[n % step, n // step] = x[n]
            sums = np.empty(TILE_OUTPUTS)
            for first in range(first_full, end_full, TILE_OUTPUTS):
                count = min(TILE_OUTPUTS, end_full - first)
                for j in range(count):
                    sums[j] = 0.0
                for i in range(num_left):  # x[step * t - i] = phases[(-i) % step, t - ceil(i / step)]
                    weight = left[i]
                    phase = (step - i % step) % step
                    row = phases[phase, first - (i + phase) // step : first - (i + phase) // step + count]
                    for j in range(count):
                        sums[j] += weight * row[j]
                for k in range(num_right):  # x[step * t + k + 1] = phases[(k + 1) % step, t + (k + 1) // step]
                    weight = right[k]
                    row = phases[(k + 1) % step, first + (k + 1) // step : first + (k + 1) // step + count]
                    for j in range(count):
                        sums[j] += weight * row[j]
                y[first : first + count] = sums[:count]
        # near the edges: one output at a time, wings cut at the ends of x (every output when
        # none is full)
        head_end = first_full if end_full > first_full else num_out
        for low, high in ((0, head_end), (max(end_full, head_end), num_out)):
            for t in range(low, high):
                n = t * step
                total = 0.0
                for i in range(min(n + 1, num_left)):
                    total += left[i] * x[n - i]
                for k in range(min(num_in - n - 1, num_right)):
                    total += right[k] * x[n + k + 1]
                y[t] = total
        return y

    return fir


def _fir(x, left, right, step, num_out):
    return _compiled()(x, left, right, step, num_out)
