"""The measure pass: offsets, the global length, every policy, and the commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from conftest import tone, write_audio
from ravdess_prep import cli
from ravdess_prep.config import Config
from ravdess_prep.exceptions import AudioError, ClipTooLongError, ParameterError, SampleRateError, SilentClipError, SourceError
from ravdess_prep.corpora.ravdess import inventory
from ravdess_prep.audio.pad import CROPPED
from ravdess_prep.pipeline import measure
from ravdess_prep.audio.trim import DROPPED_SILENT, KEPT_SILENT


def _clips(tmp_path, specs, sample_rate_hz=48000):
    """Write clips named by RAVDESS scheme; specs: {name: samples}."""
    for name, samples in specs.items():
        write_audio(tmp_path / name, samples, sample_rate_hz=sample_rate_hz)
    return inventory(tmp_path)


@pytest.fixture
def three_clips(tmp_path):
    return _clips(tmp_path, {
        "03-01-03-01-01-01-02.wav": tone(0.10, silence_seconds=0.05),
        "03-01-04-01-01-01-02.wav": tone(0.20, silence_seconds=0.02),
        "03-01-05-01-01-01-02.wav": tone(0.15, silence_seconds=0.30),
    })


@pytest.mark.parametrize("jobs", [1, 2])
def test_target_is_the_longest_trimmed_clip(three_clips, jobs):
    result = measure(three_clips, jobs=jobs)
    lengths = [clip.trimmed_length_samples for clip in result.clips]
    # tones of 0.1/0.2/0.15 s at 48 kHz; the cut ends up to two windows past the tone (slice end b + 50)
    assert all(expected <= length <= expected + 100 for length, expected in zip(lengths, (4800, 9600, 7200)))
    assert result.target.length_samples == max(lengths)
    assert result.target.longest == "speech/Actor_02/03-01-04-01-01-01-02.wav"
    assert [clip.name for clip in result.clips] == list(three_clips["clip_name"])
    assert result.handled == ()


def test_one_and_two_jobs_agree(three_clips):
    assert measure(three_clips, jobs=1) == measure(three_clips, jobs=2)


@pytest.mark.parametrize(
    "on_silent, expected",
    [("keep", KEPT_SILENT), ("drop", DROPPED_SILENT), ("error", SilentClipError)],
)
def test_silent_clip_policies(tmp_path, on_silent, expected):
    clips = _clips(tmp_path, {
        "03-01-03-01-01-01-02.wav": tone(0.1, silence_seconds=0.05),
        "03-01-04-01-01-01-02.wav": np.zeros(48000),  # one second of digital silence
    })
    silent_name = "speech/Actor_02/03-01-04-01-01-01-02.wav"
    config = Config(on_silent=on_silent)
    if isinstance(expected, type):
        with pytest.raises(expected, match=f"{silent_name}: no active sample"):
            measure(clips, config, jobs=2)
        return
    result = measure(clips, config, jobs=1)
    handled = {clip.name: clip.handled for clip in result.handled}
    assert handled == {silent_name: expected}
    silent = [clip for clip in result.clips if clip.name == silent_name][0]
    assert (silent.start, silent.end) == (0, 48000)
    if on_silent == "keep":  # kept whole, so it sets the target
        assert result.target.length_samples == 48000 and result.target.longest == silent_name
        assert len(result.kept) == 2
    else:
        assert result.target.length_samples < 48000 and len(result.kept) == 1


def test_all_silent_and_dropped_is_an_error(tmp_path):
    clips = _clips(tmp_path, {"03-01-04-01-01-01-02.wav": np.zeros(4800)})
    with pytest.raises(SourceError, match="every one of the 1 clips was dropped"):
        measure(clips, Config(on_silent="drop"), jobs=1)


@pytest.mark.parametrize("on_too_long", ["error", "crop"])
def test_fixed_target_shorter_than_a_clip(three_clips, on_too_long):
    config = Config(target_length_samples=6000, on_too_long=on_too_long)
    if on_too_long == "error":
        with pytest.raises(ClipTooLongError, match=r"03-01-04-01-01-01-02\.wav: trimmed length 96\d\d samples"):
            measure(three_clips, config, jobs=1)
        return
    result = measure(three_clips, config, jobs=1)
    assert result.target.length_samples == 6000 and result.target.longest is None
    assert {clip.name: clip.handled for clip in result.handled} == {
        "speech/Actor_02/03-01-04-01-01-01-02.wav": CROPPED,
        "speech/Actor_02/03-01-05-01-01-01-02.wav": CROPPED,
    }


def test_different_sample_rates_are_an_error_unless_resampling(tmp_path):
    write_audio(tmp_path / "03-01-03-01-01-01-02.wav", tone(0.1, silence_seconds=0.05), sample_rate_hz=48000)
    write_audio(tmp_path / "03-01-04-01-01-01-02.wav",
                tone(0.2, sample_rate_hz=16000, silence_seconds=0.05), sample_rate_hz=16000)
    clips = inventory(tmp_path)
    with pytest.raises(SampleRateError, match=r"03-01-04-01-01-01-02\.wav: sample rate 16000 Hz differs from 48000 Hz"):
        measure(clips, jobs=1)
    result = measure(clips, Config(sample_rate_hz=48000), jobs=1)
    assert result.target.sample_rate_hz == 48000
    resampled = result.clips[1]
    assert resampled.source_sample_rate_hz == 16000 and resampled.sample_rate_hz == 48000
    assert resampled.num_samples == 0.3 * 48000
    assert 9600 <= resampled.trimmed_length_samples <= 9600 + 150  # the 0.2 s tone (and filter ringing) at 48 kHz
    assert result.target.longest == resampled.name


@pytest.mark.parametrize("case, message", [
    ("nan", "NaN or infinite"), ("empty", "holds no samples"), ("unreadable", "not a readable audio file"),
])
def test_bad_audio_in_a_collection_names_the_file(tmp_path, case, message):
    good = write_audio(tmp_path / "03-01-03-01-01-01-02.wav", tone(0.1))
    bad = tmp_path / "03-01-04-01-01-01-02.wav"
    if case == "nan":
        data = np.full(4800, 0.1, dtype=np.float32)
        data[100] = np.nan
        soundfile.write(str(bad), data, 48000, subtype="FLOAT")
    elif case == "empty":
        write_audio(bad, np.zeros(0))
    else:
        bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(AudioError, match=message) as caught:
        measure([good, bad], jobs=2)
    assert str(bad) in str(caught.value)


@pytest.mark.parametrize("field, value", [
    ("trim_method", "median"), ("on_silent", "ignore"), ("on_too_long", "squash"), ("trim_window_samples", 0),
    ("trim_threshold", -0.1), ("sample_rate_hz", 0), ("target_length_samples", 2.5), ("trim_top_db", 0),
])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ParameterError, match=field):
        Config(**{field: value})


def test_measure_command_json(three_clips, tmp_path, capsys):
    status = cli.main(["measure", "--source", str(tmp_path), "--json", "--jobs", "1"])
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert report["longest"] == "speech/Actor_02/03-01-04-01-01-01-02.wav"
    assert report["target_length_samples"] == measure(three_clips, jobs=1).target.length_samples
    assert report["handled"] == []


def test_preprocess_command_reproduces_the_golden_files(seed_dir, tmp_path, capsys):
    status = cli.main([
        "preprocess", str(seed_dir / "example.wav"), "--target-length", "259431",
        "--out", str(tmp_path / "padded.wav"), "--trimmed", str(tmp_path / "cut.wav"),
    ])
    assert status == 0
    for ours, golden in (("padded.wav", "preprocessed_example.wav"), ("cut.wav", "cut_example.wav")):
        mine, rate = soundfile.read(str(tmp_path / ours), dtype="int16")
        theirs, golden_rate = soundfile.read(str(seed_dir / golden), dtype="int16")
        assert rate == golden_rate == 48000
        np.testing.assert_array_equal(mine, theirs)


def test_preprocess_command_refuses_a_too_short_target(seed_dir, tmp_path, capsys):
    status = cli.main([
        "preprocess", str(seed_dir / "example.wav"), "--target-length", "1000", "--out", str(tmp_path / "p.wav"),
    ])
    assert status == 1
    assert "trimmed length 112168 samples is longer than the target length of 1000" in capsys.readouterr().err
    assert not (tmp_path / "p.wav").exists()


def test_full_set_target_length(ravdess_dir):
    """FACTS.md: the maximum trimmed length of the 2452 clips is 259431 samples."""
    result = measure(inventory(ravdess_dir), jobs=2)
    assert result.target.length_samples == 259431
    assert result.target.longest == "song/Actor_01/03-02-05-02-01-01-01.wav"
    assert result.target.sample_rate_hz == 48000 and len(result.clips) == 2452
    assert result.handled == ()


def _offsets(name, length, *, rate=48000, dropped=False):
    from ravdess_prep.audio.measure import ClipOffsets

    return ClipOffsets(name=name, path=name, source_sample_rate_hz=rate, sample_rate_hz=rate, num_samples=length + 10,
                       start=5, end=5 + length, silent="dropped" if dropped else None)


def test_length_tallies_merge_in_any_order_and_grouping():
    """The Beam runner's combine merges tallies of arbitrary parts: the result must not depend
    on how the clips were grouped. Ties go to the first clip in input order."""
    from ravdess_prep.audio.measure import LengthTally, Target

    clips = [_offsets("a", 300), _offsets("b", 700), _offsets("c", 100, dropped=True), _offsets("d", 700),
             _offsets("e", 900, dropped=True), _offsets("f", 650)]
    singles = [LengthTally.of(clip, position=position) for position, clip in enumerate(clips)]
    in_order = LengthTally()
    for single in singles:
        in_order = in_order + single
    assert in_order.target() == Target(700, 48000, "b")  # "d" is as long but later; "e" is dropped
    assert (in_order.clips, in_order.kept) == (6, 4)
    rng = np.random.default_rng(0)
    for _ in range(20):
        order = rng.permutation(len(singles))
        cut = int(rng.integers(1, len(singles)))
        left, right = LengthTally(), LengthTally()
        for index in order[:cut]:
            left = left + singles[index]
        for index in order[cut:]:
            right = right + singles[index]
        assert right + left == in_order == left + right
    assert in_order.target(target_length_samples=800) == Target(800, 48000, None)
    assert in_order.target(target_length_samples=700) == Target(700, 48000, "b")


def test_length_tally_names_the_first_clip_of_another_rate():
    from ravdess_prep.audio.measure import LengthTally

    clips = [_offsets("x", 10), _offsets("y", 10, rate=16000), _offsets("z", 10, rate=22050)]
    tally = LengthTally()
    for position in (2, 0, 1):  # merged out of order
        tally = tally + LengthTally.of(clips[position], position=position)
    with pytest.raises(SampleRateError, match="^y: sample rate 16000 Hz differs from 48000 Hz of x"):
        tally.target()
    assert tally.target(sample_rate_hz=48000).length_samples == 10
    with pytest.raises(SourceError, match="every one of the 2 clips"):
        (LengthTally.of(_offsets("p", 5, dropped=True), position=0)
         + LengthTally.of(_offsets("q", 5, dropped=True), position=1)).target()


# --- the edge scan: offsets from the clip's edges equal those from the whole clip --------


def _whole_clip_offsets(path, config=Config()):
    from ravdess_prep.audio.io import load_clip
    from ravdess_prep.audio.trim import rolling_trim_offsets

    samples, _ = load_clip(path)
    return rolling_trim_offsets(samples, window_samples=config.trim_window_samples, threshold=config.trim_threshold)


def _scan(path, config=Config(), **kwargs):
    from ravdess_prep.audio.trim import scan_rolling_offsets

    return scan_rolling_offsets(path, window_samples=config.trim_window_samples, threshold=config.trim_threshold,
                                resample_to_hz=config.sample_rate_hz, **kwargs)


def test_edge_scan_of_real_clips_equals_the_whole_clip_rule(ravdess_dir):
    paths = sorted(ravdess_dir.rglob("*.flac"))[::97]
    assert len(paths) >= 20
    for path in paths:
        for block in (100, 4096, 16384):
            offsets, num_samples, rate = _scan(path, block_samples=block)
            assert offsets == _whole_clip_offsets(path), (path.name, block)
            assert (num_samples, rate) == (soundfile.info(str(path)).frames, 48000)


def test_edge_scan_on_the_golden_example(seed_dir):
    offsets, _, _ = _scan(seed_dir / "example.wav", block_samples=1000)
    assert offsets == _whole_clip_offsets(seed_dir / "example.wav")


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
def test_edge_scan_finds_windows_across_block_boundaries(tmp_path, subtype):
    """Short bursts placed around the seams of 200-sample blocks, with windows of 50."""
    rng = np.random.default_rng(7)
    for trial in range(40):
        samples = np.zeros(int(rng.integers(300, 3000)))
        for _ in range(int(rng.integers(1, 4))):
            at = int(rng.integers(0, samples.size))
            samples[at : at + int(rng.integers(1, 60))] = rng.choice([-1, 1]) * rng.uniform(0.0003, 0.01)
        path = write_audio(tmp_path / f"{trial}.wav", samples, subtype=subtype)
        for block in (100, 151, 200):
            offsets, num_samples, _ = _scan(path, block_samples=block)
            assert offsets == _whole_clip_offsets(path), (trial, block)
            assert num_samples == samples.size


def test_edge_scan_of_silent_short_and_stereo_clips(tmp_path):
    assert _scan(write_audio(tmp_path / "silent.wav", np.zeros(5000)))[0] is None
    assert _scan(write_audio(tmp_path / "short.wav", np.full(40, 0.5)))[0] is None
    stereo = np.zeros((4000, 2))
    stereo[1000:1500, 1] = 0.5  # sound only in the second channel: the first channel is silent
    stereo[2000:2100, 0] = 0.25
    path = write_audio(tmp_path / "stereo.wav", stereo)
    assert _scan(path, block_samples=300)[0] == _whole_clip_offsets(path) == (2000, 2198)


def test_edge_scan_declines_float_files_and_resampling(tmp_path):
    path = tmp_path / "float.wav"
    soundfile.write(str(path), tone(0.1, silence_seconds=0.1).astype(np.float32), 48000, subtype="FLOAT")
    assert _scan(path) is None
    pcm = write_audio(tmp_path / "pcm.wav", tone(0.1, silence_seconds=0.1))
    assert _scan(pcm, Config(sample_rate_hz=16000)) is None
    assert _scan(pcm, Config(sample_rate_hz=48000)) is not None


@pytest.mark.parametrize("kept", [200, 0.5])
def test_edge_scan_names_a_flac_file_cut_short(ravdess_dir, tmp_path, kept):
    data = sorted(ravdess_dir.rglob("*.flac"))[5].read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data[: kept if isinstance(kept, int) else int(len(data) * kept)])
    with pytest.raises(AudioError, match=r"cut\.flac: not a readable audio file"):
        _scan(cut)
