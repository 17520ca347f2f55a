"""The embed stage's fast path gives the straightforward path's bytes."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

import vggish
from conftest import tone
from ravdess_prep.build.inference import clip_examples
from ravdess_prep.embedders import VGGishEmbedder
from ravdess_prep.audio.pad import pad_center
from ravdess_prep.audio.resample import decimate, exact_step
from ravdess_prep.audio.trim import rolling_trim_offsets


def _both(samples, rate, target, hop=0.23, on_too_long="error"):
    """The published front-end on the padded clip, and the embed stage's fast path."""
    start, end = rolling_trim_offsets(samples)
    padded, _ = pad_center(samples[start:end], target_length_samples=target, on_too_long=on_too_long)
    reference = vggish.waveform_to_examples(padded, rate, hop_seconds=hop)
    kwargs = dict(embedder=VGGishEmbedder(hop_seconds=hop), sample_rate_hz=rate, target_length_samples=target,
                  on_too_long=on_too_long)
    np.testing.assert_array_equal(clip_examples(samples[start:end], fast=False, **kwargs), reference)
    return reference, clip_examples(samples[start:end], fast=True, **kwargs)


@pytest.mark.parametrize("index", range(0, 2452, 409))
def test_fast_front_end_is_bit_identical_on_real_clips(ravdess_dir, index):
    path = sorted(ravdess_dir.rglob("*.flac"))[index]
    samples = soundfile.read(str(path), dtype="float64", always_2d=True)[0][:, 0]
    slow, fast = _both(samples, 48000, 259431)
    assert slow.shape == (20, 96, 64)
    np.testing.assert_array_equal(fast, slow)


@pytest.mark.parametrize("rate, seconds, silence, target_seconds", [
    (48000, 0.5, 0.3, 3.0),     # sound in the middle of long padding
    (48000, 2.99, 0.0, 3.0),    # sound reaching both ends: the margin is clipped
    (48000, 1.2, 0.01, 1.25),
    (32000, 0.8, 0.2, 2.5),     # another exact step (2)
    (44100, 0.8, 0.2, 2.5),     # inexact step: the full path
    (16000, 0.8, 0.2, 2.5),     # no resampling at all
])
def test_fast_front_end_is_bit_identical_on_synthetic_clips(rate, seconds, silence, target_seconds):
    rng = np.random.default_rng(rate)
    samples = tone(seconds, frequency_hz=330, sample_rate_hz=rate, amplitude=0.4, silence_seconds=silence)
    samples = np.round((samples + rng.normal(0, 0.01, samples.size) * (samples != 0)) * 32768) / 32768
    slow, fast = _both(samples, rate, int(target_seconds * rate))
    assert slow.shape[0] > 0
    np.testing.assert_array_equal(fast, slow)


def test_fast_front_end_crops_like_the_straightforward_path():
    samples = tone(2.0, amplitude=0.4)
    slow, fast = _both(samples, 48000, 48000, on_too_long="crop")
    np.testing.assert_array_equal(fast, slow)


@pytest.mark.parametrize("rate, step", [(48000, 3), (32000, 2), (96000, 6), (44100, None), (16000, None), (22050, None),
                                        (8000, None)])
def test_exact_decimation_steps(rate, step):
    assert exact_step(rate, 16000) == step


@pytest.mark.parametrize("rate", [48000, 32000, 96000])
@pytest.mark.parametrize("kind", ["noise", "sparse", "short"])
def test_decimate_equals_resampy_bit_for_bit(rate, kind):
    import resampy

    rng = np.random.default_rng(rate)
    if kind == "noise":
        samples = rng.uniform(-1, 1, rate // 2)
    elif kind == "sparse":  # sound in silence, with exact zeros around it
        samples = np.zeros(rate)
        samples[rate // 3 : rate // 2] = np.round(rng.normal(0, 0.2, rate // 2 - rate // 3) * 32768) / 32768
    else:
        samples = rng.uniform(-1, 1, 1000)
    np.testing.assert_array_equal(decimate(samples, from_hz=rate, to_hz=16000),
                                  resampy.resample(samples, rate, 16000, filter="kaiser_best"))


def test_decimate_equals_resampy_at_every_tile_boundary():
    """Lengths around where full filter wings begin and end and tiles of outputs are cut."""
    import resampy

    from ravdess_prep.audio.resample import TILE_OUTPUTS, reach_samples

    reach = reach_samples(48000, 16000)
    rng = np.random.default_rng(3)
    lengths = {3, 4, 5, 2 * reach - 1, 2 * reach, 2 * reach + 1}
    lengths |= {2 * reach + 3 * (TILE_OUTPUTS * count) + extra for count in (1, 2) for extra in range(-4, 12)}
    for length in sorted(lengths):
        samples = rng.uniform(-1, 1, length)
        np.testing.assert_array_equal(decimate(samples, from_hz=48000, to_hz=16000),
                                      resampy.resample(samples, 48000, 16000, filter="kaiser_best"), err_msg=str(length))


def test_decimate_refuses_inexact_steps():
    from ravdess_prep.exceptions import ParameterError

    with pytest.raises(ParameterError, match="44100 Hz"):
        decimate(np.zeros(100), from_hz=44100, to_hz=16000)


@pytest.mark.slow
def test_fast_examples_equal_the_straightforward_ones_for_every_clip(ravdess_dir, tmp_path):
    """Every clip of the corpus, at the original's target: the fast front-end path (edge-scan
    offsets, the trimmed part decoded, only the sound resampled, only its STFT frames
    transformed) gives the straightforward path's examples bit for bit."""
    from ravdess_prep import pipeline
    from ravdess_prep.build.inference import prepare_clip
    from ravdess_prep.build.parallel import map_calls

    config = pipeline.Config()
    clips = pipeline.source(ravdess_dir)
    measurement = pipeline.measure(clips, config, jobs=2)
    assert measurement.target.length_samples == 259431
    silent_example = vggish.silent_example()

    def compare(offsets):
        kwargs = dict(offsets=offsets, target_length_samples=259431, embedder=config.embedder)
        fast, plain = prepare_clip(fast=True, **kwargs), prepare_clip(fast=False, **kwargs)
        rows = np.empty_like(plain.examples)
        rows[~fast.silent], rows[fast.silent] = fast.examples, silent_example
        plain_silent = np.all(plain.examples == silent_example, axis=(1, 2))
        same = np.array_equal(rows, plain.examples) and np.array_equal(fast.silent, plain_silent)
        return offsets.name, same, int(fast.silent.sum())

    results = list(map_calls(compare, [{"offsets": clip} for clip in measurement.kept], jobs=2))
    assert len(results) == 2452
    assert [name for name, equal, _ in results if not equal] == []
    silent = sum(count for _, _, count in results)
    assert 0.15 < silent / (2452 * 20) < 0.22  # the issue counts 18% of the examples in the padding
