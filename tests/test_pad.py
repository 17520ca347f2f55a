"""Centered padding (left ceil, right floor) and center-cropping."""

from __future__ import annotations

import numpy as np
import pytest

from ravdess_prep.audio.io import load_clip, to_int16
from ravdess_prep.exceptions import ClipTooLongError, ParameterError
from ravdess_prep.audio.pad import pad_center


def test_golden_cut_example_pads_to_preprocessed_example(seed_dir):
    cut, _ = load_clip(seed_dir / "cut_example.wav")
    golden, _ = load_clip(seed_dir / "preprocessed_example.wav")
    padded, amounts = pad_center(cut, target_length_samples=259431)
    assert padded.size == golden.size == 259431
    np.testing.assert_array_equal(to_int16(padded), to_int16(golden))
    assert amounts == (73632, 73631)


@pytest.mark.parametrize(
    "length, target, on_too_long, expected",
    [
        (4, 9, "error", (3, 2)),  # odd difference: the extra sample goes left
        (4, 8, "error", (2, 2)),
        (5, 5, "error", (0, 0)),
        (1, 2, "error", (1, 0)),
        (9, 4, "crop", (-2, -3)),  # crop by the same formula: 2 removed left, 3 right
        (8, 4, "crop", (-2, -2)),
        (9, 4, "error", ClipTooLongError),
        (4, 0, "error", ParameterError),
        (4, 9, "trim", ParameterError),
    ],
)
def test_pad_and_crop_amounts(length, target, on_too_long, expected):
    samples = np.arange(1, length + 1, dtype=np.float64)
    if isinstance(expected, type):
        with pytest.raises(expected):
            pad_center(samples, target_length_samples=target, on_too_long=on_too_long, name="x.wav")
        return
    out, amounts = pad_center(samples, target_length_samples=target, on_too_long=on_too_long)
    assert amounts == expected and out.size == target and out.dtype == samples.dtype
    left, right = expected
    if left >= 0:
        assert np.all(out[:left] == 0) and np.all(out[target - right :] == 0)
        np.testing.assert_array_equal(out[left : left + length], samples)
    else:
        np.testing.assert_array_equal(out, samples[-left : length + right])


def test_too_long_error_names_the_clip_and_its_length():
    with pytest.raises(ClipTooLongError, match=r"a/b\.wav: trimmed length 10 samples is longer than the target length of 6"):
        pad_center(np.ones(10), target_length_samples=6, name="a/b.wav")
