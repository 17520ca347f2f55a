"""Integer-step downsampling that reproduces resampy's ``kaiser_best`` bit for bit, faster.

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

from .exceptions import ParameterError


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
    """
    step = exact_step(from_hz, to_hz)
    if step is None:
        raise ParameterError(f"no exact integer step from {from_hz} Hz to {to_hz} Hz; use resampy")
    left, right = fir_weights(from_hz, to_hz)
    samples = np.ascontiguousarray(samples, dtype=np.float64)
    return _fir(samples, left, right, step, int(samples.shape[0] * float(to_hz) / float(from_hz)))


# outputs computed together: 16 independent sums advance side by side instead of one long chain
# of dependent additions (about 1.8x faster here); each output's own sum keeps resampy's
# order, so the result is the same
BLOCK_OUTPUTS = 16


_COMPILE_LOCK = threading.Lock()


def _compiled():
    with _COMPILE_LOCK:  # threads that start together compile the kernel once, not once each
        return _compile()


@functools.lru_cache(maxsize=1)
def _compile():
    """The kernel, compiled on first use (numba caches the machine code on disk: later
    processes load it instead of compiling again)."""
    import numba

    @numba.njit(nogil=True, cache=True)
    def fir(x, left, right, step, num_out):
        y = np.zeros(num_out)
        num_in = x.shape[0]
        num_left, num_right = left.shape[0], right.shape[0]
        # outputs whose two wings lie wholly inside x: first_full <= t < end_full
        first_full = (num_left - 1 + step - 1) // step
        end_full = num_out
        while end_full > 0 and (end_full - 1) * step + num_right >= num_in:
            end_full -= 1
        block = BLOCK_OUTPUTS
        sums = np.zeros(block)
        t = 0
        while t < num_out:
            if first_full <= t and t + block <= end_full:
                sums[:] = 0.0
                n = t * step
                for i in range(num_left):
                    weight = left[i]
                    for j in range(block):
                        sums[j] += weight * x[n + j * step - i]
                for k in range(num_right):
                    weight = right[k]
                    for j in range(block):
                        sums[j] += weight * x[n + j * step + k + 1]
                y[t : t + block] = sums
                t += block
            else:  # near the edges: one output at a time, wings cut at the ends of x
                n = t * step
                total = 0.0
                for i in range(min(n + 1, num_left)):
                    total += left[i] * x[n - i]
                for k in range(min(num_in - n - 1, num_right)):
                    total += right[k] * x[n + k + 1]
                y[t] = total
                t += 1
        return y

    return fir


def _fir(x, left, right, step, num_out):
    return _compiled()(x, left, right, step, num_out)
