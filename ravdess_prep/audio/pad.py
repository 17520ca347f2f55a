"""Centered padding to a target length.

``difference = target - len(clip)``; ``left = ceil(difference / 2)`` zeros go before the clip and
``right = floor(difference / 2)`` after it (the original project's rule). A clip longer than
the target is an error, or, on request, center-cropped by the same formula: negative amounts
are samples removed from that side.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import ClipTooLongError, ParameterError, option

TOO_LONG_POLICIES = ("error", "crop")
CROPPED = "longer than the target length: center-cropped"


def too_long_policy(num_samples: int, *, target_length_samples: int, on_too_long: str = "error",
                    name: str = "clip") -> bool:
    """Whether a clip of ``num_samples`` padded to ``target_length_samples`` is cropped.

    Returns:
        False when it fits, True when it is longer and ``on_too_long`` is ``"crop"`` (reported
        as :data:`CROPPED`).

    Raises:
        ClipTooLongError: It is longer and ``on_too_long`` is ``"error"``; the message names the
            clip, both lengths, and the option that crops it.
        ParameterError: Unknown policy.
    """
    if on_too_long not in TOO_LONG_POLICIES:
        raise ParameterError(f"{option('on_too_long')} has to be one of {', '.join(TOO_LONG_POLICIES)}, "
                             f"not {on_too_long!r}")
    if num_samples <= target_length_samples:
        return False
    if on_too_long == "error":
        raise ClipTooLongError(
            f"{name}: trimmed length {num_samples} samples is longer than the target length of "
            f"{target_length_samples} samples (center-crop it with {option('on_too_long', 'crop')})"
        )
    return True


def center_amounts(num_samples: int, *, target_length_samples: int) -> tuple[int, int]:
    """``(left, right)`` samples to add on each side (negative: to remove) to reach the target."""
    difference = target_length_samples - num_samples
    left = -(-difference // 2)  # ceil
    return left, difference - left


def pad_center(
    samples: np.ndarray,
    *,
    target_length_samples: int,
    on_too_long: str = "error",
    name: str = "clip",
) -> tuple[np.ndarray, tuple[int, int]]:
    """Center a clip in silence (or center-crop it) to exactly ``target_length_samples``.

    Args:
        samples: array of shape ``(num_samples,)``.
        target_length_samples: The output length.
        on_too_long: ``"error"`` (default) or ``"crop"`` for a clip longer than the target.
        name: The clip's name, for error messages.

    Returns:
        ``(out, (left, right))``: ``out`` has shape ``(target_length_samples,)`` and the input's
        dtype; ``left``/``right`` are the samples added on each side (negative when cropped).

    Raises:
        ClipTooLongError: The clip is longer than the target and ``on_too_long`` is ``"error"``.
        ParameterError: Invalid target or policy, or samples not one-dimensional.
    """
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ParameterError(f"{name}: samples have to be one-dimensional, not of shape {samples.shape}")
    if target_length_samples < 1:
        raise ParameterError(f"{option('target_length_samples')} has to be at least 1, not {target_length_samples}")
    too_long_policy(samples.size, target_length_samples=target_length_samples, on_too_long=on_too_long, name=name)
    left, right = center_amounts(samples.size, target_length_samples=target_length_samples)
    if left >= 0:
        return np.pad(samples, (left, right)), (left, right)
    return samples[-left : samples.size + right].copy(), (left, right)
