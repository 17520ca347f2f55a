"""Silence trimming: the original's rolling rule, exact, and the energy alternative."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import tone
from ravdess_prep.audio.io import load_clip, to_int16
from ravdess_prep.exceptions import ParameterError
from ravdess_prep.audio.trim import energy_trim_offsets, rolling_trim_offsets, trim, trim_offsets


def _reference_trim(samples, window, threshold):
    """The rule as FACTS.md words it, with pandas' rolling sum (what the original used)."""
    sums = pd.Series(samples).rolling(window).sum()
    active = np.flatnonzero(np.abs(sums.to_numpy()) > threshold)
    if active.size == 0:
        return None
    return samples[active[0] : active[-1] + window]


def test_golden_example_trims_to_cut_example(seed_dir):
    samples, rate = load_clip(seed_dir / "example.wav")
    golden, golden_rate = load_clip(seed_dir / "cut_example.wav")
    trimmed, offsets = trim(samples)
    assert rate == golden_rate == 48000
    assert offsets == (48166, 48166 + golden.size)
    np.testing.assert_array_equal(to_int16(trimmed), to_int16(golden))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("window, threshold", [(50, 0.01), (10, 0.002), (200, 0.05)])
def test_rolling_rule_matches_an_independent_reference(seed, window, threshold):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(window, 5000))
    loud = rng.integers(-3000, 3000, n)
    quiet = rng.integers(-3, 4, n)
    mask = np.zeros(n, dtype=bool)
    start = int(rng.integers(0, n))
    mask[start : start + int(rng.integers(1, n))] = True
    samples = np.where(mask, loud, quiet) / 32768.0
    expected = _reference_trim(samples, window, threshold)
    trimmed, offsets = trim(samples, window_samples=window, threshold=threshold)
    if expected is None:
        assert offsets is None
    else:
        np.testing.assert_array_equal(trimmed, expected)


def test_signed_sum_not_absolute_sum():
    """An alternating signal sums to zero in every window: silent under the signed rule."""
    samples = np.tile([0.5, -0.5], 500)
    assert rolling_trim_offsets(samples) is None


def test_end_is_clipped_to_the_clip():
    samples = np.zeros(300)
    samples[-10:] = 0.1
    start, end = rolling_trim_offsets(samples)
    assert end == 300 and start == 290  # first window ending at index 290 sums to 0.1 > 0.01


@pytest.mark.parametrize(
    "samples, kwargs, expected",
    [
        (np.zeros(1000), {}, None),
        (np.full(49, 0.5), {}, None),  # shorter than a window
        (np.full(50, 0.5), {}, (49, 50)),
        # exact 16-bit values: a window sum equal to the threshold is not above it
        (np.full(1000, 1 / 32768), {"threshold": 50 / 32768}, None),
        (np.full(1000, 2 / 32768), {"threshold": 50 / 32768}, (49, 1000)),
        (np.zeros(10), {"window_samples": 0}, ParameterError),
        (np.zeros(10), {"threshold": -1.0}, ParameterError),
        (np.zeros((10, 2)), {}, ParameterError),
        (np.zeros(10), {"method": "median"}, ParameterError),
        (np.zeros(10), {"top_db": 30.0}, ParameterError),  # the energy rule's parameter, not the rolling rule's
    ],
)
def test_rolling_rule_edge_cases(samples, kwargs, expected):
    if isinstance(expected, type):
        with pytest.raises(expected):
            trim_offsets(samples, **kwargs)
    else:
        assert trim_offsets(samples, **kwargs) == expected


def test_energy_rule_finds_a_tone_in_silence():
    samples = tone(0.5, sample_rate_hz=16000, silence_seconds=0.5)
    start, end = trim_offsets(samples, method="energy", top_db=40)
    # librosa works on frames: the edges are within a frame of the tone's edges
    assert abs(start - 8000) <= 2048 and abs(end - 16000) <= 2048
    assert energy_trim_offsets(np.zeros(4000)) is None
    with pytest.raises(ParameterError, match="top_db"):
        energy_trim_offsets(samples, top_db=0)
