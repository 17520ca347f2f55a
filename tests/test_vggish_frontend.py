"""The VGGish front-end, checked against the specification re-derived here."""

from __future__ import annotations

import numpy as np
import pytest
import resampy

from conftest import write_audio
from vggish import mel, params
from vggish.frontend import wavfile_to_examples, waveform_to_examples


def _spec_mel_edges_hz():
    """Band edges of the spec: 66 points equally spaced in HTK mel between 125 and 7500 Hz."""
    to_mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)  # noqa: E731
    edges_mel = np.linspace(to_mel(125.0), to_mel(7500.0), 66)
    return 700.0 * (np.exp(edges_mel / 1127.0) - 1.0)


def _spec_num_examples(num_samples_16k, hop_seconds):
    frames = 1 + (num_samples_16k - 400) // 160
    hop = int(round(hop_seconds * 100))
    return max(0, 1 + (frames - 96) // hop) if frames >= 96 else 0


def test_original_clip_length_gives_20_examples():
    data = np.random.default_rng(0).uniform(-0.5, 0.5, 259431)
    examples = waveform_to_examples(data, 48000, hop_seconds=0.23)
    assert examples.shape == (20, 96, 64) and examples.dtype == np.float32


@pytest.mark.parametrize("seconds, hop_seconds", [(0.975, 0.96), (0.97, 0.96), (3.0, 0.96), (3.0, 0.23), (5.0, 0.5)])
def test_example_count_follows_the_spec(seconds, hop_seconds):
    n = int(seconds * 16000)
    examples = waveform_to_examples(np.zeros(n), 16000, hop_seconds=hop_seconds)
    assert examples.shape == (_spec_num_examples(n, hop_seconds), 96, 64)


def test_short_clip_gives_zero_examples():
    examples = waveform_to_examples(np.ones(int(0.9 * 48000)) * 0.1, 48000)
    assert examples.shape == (0, 96, 64) and examples.dtype == np.float32


def test_digital_silence_is_log_offset_everywhere():
    examples = waveform_to_examples(np.zeros(48000 * 2), 48000)
    assert examples.shape[0] == 2
    assert np.all(examples == np.float32(np.log(0.01)))


@pytest.mark.parametrize("band", [8, 20, 35, 50, 60])
def test_pure_tone_lands_in_its_band(band):
    edges = _spec_mel_edges_hz()
    frequency = edges[band + 1]  # the band's center
    t = np.arange(16000 * 2) / 16000
    examples = waveform_to_examples(0.5 * np.sin(2 * np.pi * frequency * t), 16000)
    energy = examples.mean(axis=(0, 1))
    assert int(np.argmax(energy)) == band
    assert edges[band] < frequency < edges[band + 2]


def test_stereo_is_the_mean_of_its_channels():
    rng = np.random.default_rng(1)
    left, right = rng.uniform(-0.5, 0.5, (2, 48000))
    stereo = waveform_to_examples(np.stack([left, right], axis=1), 48000)
    mono = waveform_to_examples((left + right) / 2, 48000)
    np.testing.assert_array_equal(stereo, mono)


def test_resampling_is_resampy_kaiser_best():
    data = np.random.default_rng(2).uniform(-0.5, 0.5, 48000 * 2)
    direct = waveform_to_examples(resampy.resample(data, 48000, 16000, filter="kaiser_best"), 16000)
    np.testing.assert_array_equal(waveform_to_examples(data, 48000), direct)


def test_log_mel_matches_the_spec_written_out():
    """STFT with a periodic Hann window, |rfft| of 512, the spec's mel matrix, ln(x + 0.01)."""
    data = np.random.default_rng(3).uniform(-0.5, 0.5, 16000)
    n = np.arange(400)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / 400)
    num_frames = 1 + (16000 - 400) // 160
    frames = np.stack([data[i * 160 : i * 160 + 400] for i in range(num_frames)])
    magnitude = np.abs(np.fft.rfft(frames * window, 512))
    to_mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)  # noqa: E731
    bins = to_mel(np.linspace(0, 8000, 257))
    edges = np.linspace(to_mel(125.0), to_mel(7500.0), 66)
    matrix = np.zeros((257, 64))
    for i in range(64):
        up = (bins - edges[i]) / (edges[i + 1] - edges[i])
        down = (edges[i + 2] - bins) / (edges[i + 2] - edges[i + 1])
        matrix[:, i] = np.clip(np.minimum(up, down), 0, None)
    matrix[0] = 0
    expected = np.log(magnitude @ matrix + 0.01)
    ours = mel.log_mel_spectrogram(
        data, audio_sample_rate_hz=16000, log_offset=0.01, window_length_seconds=0.025,
        hop_length_seconds=0.010, num_mel_bins=64, lower_edge_hertz=125.0, upper_edge_hertz=7500.0,
    )
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)


def test_mel_matrix_properties():
    matrix = mel.mel_matrix(num_mel_bins=64, num_spectrogram_bins=257, audio_sample_rate_hz=16000,
                            lower_edge_hertz=125.0, upper_edge_hertz=7500.0)
    assert matrix.shape == (257, 64)
    assert np.all(matrix[0] == 0)  # the DC row
    assert np.all((matrix >= 0) & (matrix <= 1))
    edges = _spec_mel_edges_hz()
    bins_hz = np.linspace(0, 8000, 257)
    for band in range(64):
        support = bins_hz[matrix[:, band] > 0]
        assert support.min() > edges[band] and support.max() < edges[band + 2]
    # On a fine grid every triangle reaches 1 at its center.
    fine = mel.mel_matrix(num_mel_bins=64, num_spectrogram_bins=2**16 + 1, audio_sample_rate_hz=16000,
                          lower_edge_hertz=125.0, upper_edge_hertz=7500.0)
    fine_hz = np.linspace(0, 8000, 2**16 + 1)
    peaks = fine_hz[np.argmax(fine, axis=0)]
    np.testing.assert_allclose(fine.max(axis=0), 1.0, atol=2e-3)
    np.testing.assert_allclose(peaks, edges[1:-1], atol=8000 / 2**16 + 1e-9)
    with pytest.raises(ValueError, match="mel edges"):
        mel.mel_matrix(num_mel_bins=64, num_spectrogram_bins=257, audio_sample_rate_hz=16000,
                       lower_edge_hertz=7500.0, upper_edge_hertz=125.0)


def test_frame_is_strided_without_padding():
    data = np.arange(10)
    framed = mel.frame(data, window_length_samples=4, hop_length_samples=3)
    np.testing.assert_array_equal(framed, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])
    assert mel.frame(data, window_length_samples=11, hop_length_samples=1).shape == (0, 11)
    two_d = mel.frame(np.arange(20).reshape(10, 2), window_length_samples=4, hop_length_samples=5)
    np.testing.assert_array_equal(two_d[1], np.arange(10, 18).reshape(4, 2))


def test_wavfile_to_examples_reads_16_bit_as_int_over_32768(tmp_path):
    integers = np.random.default_rng(4).integers(-20000, 20000, 48000).astype(np.int16)
    path = write_audio(tmp_path / "x.wav", integers / 32768.0)
    np.testing.assert_array_equal(wavfile_to_examples(path, hop_seconds=0.23),
                                  waveform_to_examples(integers, 48000, hop_seconds=0.23))


@pytest.mark.parametrize("data, rate, hop, message", [
    (np.zeros((10, 2, 2)), 16000, 0.96, "shape"),
    (np.zeros(100), 0, 0.96, "sample_rate"),
    (np.zeros(100), 16000, 0.0, "hop_seconds"),
])
def test_invalid_front_end_input(data, rate, hop, message):
    with pytest.raises(ValueError, match=message):
        waveform_to_examples(data, rate, hop_seconds=hop)


def test_constants_are_the_spec():
    assert (params.SAMPLE_RATE_HZ, params.NUM_FRAMES, params.NUM_BANDS, params.EMBEDDING_SIZE) == (16000, 96, 64, 128)
    assert (params.MEL_MIN_HZ, params.MEL_MAX_HZ, params.LOG_OFFSET) == (125.0, 7500.0, 0.01)
    assert sum(int(np.prod(shape)) for shape in params.VARIABLE_SHAPES.values()) == 72_141_184


def test_log_mel_examples_skipping_silent_frames_equals_the_whole_transform():
    from vggish.frontend import log_mel_examples

    rng = np.random.default_rng(11)
    length = 16000 * 3
    cases = [(0, length), (0, 1), (length - 1, length), (5000, 5001), (400, 560), (399, 561), (12345, 30000)]
    cases += [tuple(sorted(rng.integers(0, length, 2))) for _ in range(20)]
    for start, stop in cases:
        data = np.zeros(length)
        data[start:stop] = rng.uniform(-0.5, 0.5, stop - start)
        whole = log_mel_examples(data, hop_seconds=0.23)
        assert whole.shape[0] > 0
        np.testing.assert_array_equal(log_mel_examples(data, hop_seconds=0.23, sound=(start, stop)), whole,
                                      err_msg=str((start, stop)))
    silent = np.zeros(length)
    np.testing.assert_array_equal(log_mel_examples(silent, hop_seconds=0.23, sound=(0, 0)),
                                  log_mel_examples(silent, hop_seconds=0.23))
    short = np.ones(300)
    assert log_mel_examples(short, sound=(0, 300)).shape == (0, 96, 64)
