"""Loading and writing clips: formats, channels, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from conftest import write_audio
from ravdess_prep.audio.io import load_clip, read_audio, to_int16, write_wav
from ravdess_prep.exceptions import AudioError


@pytest.mark.parametrize(
    "suffix, subtype, scale",
    [(".wav", "PCM_16", 2**15), (".wav", "PCM_24", 2**23), (".wav", "PCM_32", 2**31), (".wav", "FLOAT", None),
     (".wav", "DOUBLE", None), (".flac", "PCM_16", 2**15), (".flac", "PCM_24", 2**23)],
)
def test_formats_load_as_scaled_floats(tmp_path, suffix, subtype, scale):
    rng = np.random.default_rng(0)
    if scale is None:
        data = rng.uniform(-1, 1, 1000).astype(np.float32 if subtype == "FLOAT" else np.float64)
        expected = data.astype(np.float64)
    else:
        bits = {2**15: 16, 2**23: 24, 2**31: 32}[scale]
        integers = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), 1000)
        # soundfile writes int32 containers; 24-bit values live in the top 24 bits
        data = (integers << (32 - bits)).astype(np.int32)
        expected = integers / scale
    path = tmp_path / f"clip{suffix}"
    soundfile.write(str(path), data, 16000, subtype=subtype)
    samples, rate = load_clip(path)
    assert rate == 16000 and samples.dtype == np.float64
    np.testing.assert_array_equal(samples, expected)


def test_first_channel_is_kept(tmp_path):
    left = np.linspace(-0.5, 0.5, 480)
    right = np.full(480, 0.25)
    path = write_audio(tmp_path / "stereo.wav", np.stack([left, right], axis=1))
    samples, _ = load_clip(path)
    np.testing.assert_array_equal(to_int16(samples), to_int16(left))
    both, _ = read_audio(path)
    assert both.shape == (480, 2)


@pytest.mark.parametrize(
    "case, expected",
    [
        ("empty", "holds no samples"),
        ("text", "not a readable audio file"),
        ("missing", "no such file"),
        ("nan", r"2 samples are NaN or infinite \(the first at sample 3\)"),
        ("inf", r"1 samples are NaN or infinite \(the first at sample 7\)"),
    ],
)
def test_bad_files_are_errors_naming_the_file(tmp_path, case, expected):
    path = tmp_path / f"{case}.wav"
    if case == "empty":
        write_audio(path, np.zeros(0))
    elif case == "text":
        path.write_text("hello")
    elif case in ("nan", "inf"):
        data = np.zeros(20, dtype=np.float32)
        if case == "nan":
            data[[3, 9]] = np.nan
        else:
            data[7] = -np.inf
        soundfile.write(str(path), data, 48000, subtype="FLOAT")
    with pytest.raises(AudioError, match=expected) as caught:
        load_clip(path)
    assert str(path) in str(caught.value)


def test_write_wav_round_trips_16_bit_exactly(tmp_path):
    integers = np.array([-32768, -1, 0, 1, 32767, 12345], dtype=np.int16)
    path = write_wav(tmp_path / "out" / "x.wav", integers / 32768.0, sample_rate_hz=48000)
    back, rate = soundfile.read(str(path), dtype="int16")
    assert rate == 48000 and soundfile.info(str(path)).subtype == "PCM_16"
    np.testing.assert_array_equal(back, integers)
    assert [p.name for p in path.parent.iterdir()] == ["x.wav"]  # no temporary file left
