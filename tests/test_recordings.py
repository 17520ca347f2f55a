"""Recordings of any length and jobs over folders: where windows fall, that they are read block
by block, that a window's row is the row of a file holding exactly its samples, voice marking,
speaker statistics of a file's own windows, the tables, plots, failures and resuming."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

import ravdess_prep
from ravdess_prep import cli
from ravdess_prep.audio import windows as windows_module
from ravdess_prep.audio.windows import read_windows, window_starts
from ravdess_prep.build.timeline import MIN_VOICE_S
from ravdess_prep.exceptions import AudioError, ParameterError
from ravdess_prep.predict import EmotionModel
from ravdess_prep.recordings import jobs
from ravdess_prep.recordings.emotion import _Moments, timeline

from commands import error_line, run_command
from conftest import tone, write_audio


@pytest.fixture(scope="module")
def trained(small_build, tmp_path_factory):
    """A model trained on the run's small VGGish build (random weights: the figures mean
    nothing, the plumbing is what is tested)."""
    model = tmp_path_factory.mktemp("recordings-model") / "model"
    assert cli.main(["train", "--data", str(small_build.out), "--model-dir", str(model), "--epochs", "2"]) == 0
    return model


@pytest.fixture(scope="module")
def normalised_model(small_build, tmp_path_factory):
    model = tmp_path_factory.mktemp("recordings-norm") / "model"
    assert cli.main(["train", "--data", str(small_build.out), "--model-dir", str(model), "--epochs", "2",
                     "--speaker-norm"]) == 0
    return model


@pytest.fixture(scope="module")
def recording(small_tree, tmp_path_factory):
    """Three real clips joined with 1.5 s of digital silence between them (48 kHz, 16 bits)."""
    clips = sorted(small_tree.rglob("*.flac"))[:3]
    parts = []
    for clip in clips:
        samples, rate = soundfile.read(clip, dtype="int16")
        parts += [samples, np.zeros(72000, np.int16)]
    path = tmp_path_factory.mktemp("recording") / "joined.wav"
    soundfile.write(path, np.concatenate(parts[:-1]), 48000, subtype="PCM_16")
    return path


# --- where windows fall -------------------------------------------------------------------


@pytest.mark.parametrize("num, window, hop, expected", [
    (10, 4, 3, [0, 3, 6]),          # the last window ends where the file does
    (11, 4, 3, [0, 3, 6, 7]),       # one more, aligned to the end
    (3, 4, 3, [0]),                 # shorter than a window: the whole file
    (4, 4, 1, [0]),
    (9, 2, 5, [0, 5, 7]),           # a hop longer than the window skips samples, the end is still read
])
def test_window_starts_by_hand(num, window, hop, expected):
    assert window_starts(num, window_samples=window, hop_samples=hop).tolist() == expected


@pytest.mark.parametrize("window, hop", [(0, 1), (4, 0), (4, -1)])
def test_window_starts_refuses_empty_windows_and_hops(window, hop):
    with pytest.raises(ParameterError, match="at least one sample"):
        window_starts(10, window_samples=window, hop_samples=hop)


def test_windows_are_read_block_by_block_and_equal_the_whole_file(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    samples = np.round(rng.uniform(-0.5, 0.5, 8000 * 7 + 123) * 32768) / 32768
    path = write_audio(tmp_path / "noise.wav", samples, 8000)
    spans = []
    real = windows_module.load_clip

    def spy(path, *, start, stop, channel):
        spans.append(stop - start)
        return real(path, start=start, stop=stop, channel=channel)

    monkeypatch.setattr(windows_module, "load_clip", spy)
    blocks = list(read_windows(path, window_s=0.5, hop_s=0.25, block_windows=4))
    whole, _ = soundfile.read(path)
    starts = np.concatenate([block.starts for block in blocks])
    assert starts.tolist() == window_starts(whole.size, window_samples=4000, hop_samples=2000).tolist()
    for block in blocks:
        for start, end, got in zip(block.starts, block.ends, block.samples):
            np.testing.assert_array_equal(got, whole[start:end])
    # no read holds more than one block: three hops and a window, never the whole file
    assert len(spans) == len(blocks) > 1 and max(spans) <= 3 * 2000 + 4000 < whole.size


def test_a_file_cut_short_is_named_before_any_window(tmp_path):
    path = write_audio(tmp_path / "cut.wav", tone(3.0, sample_rate_hz=16000), 16000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 10001])
    with pytest.raises(AudioError, match=r"cut\.wav: the audio file ends after .* \(truncated\)"):
        list(read_windows(path, window_s=1, hop_s=1))


def test_streamed_moments_equal_numpys():
    rng = np.random.default_rng(1)
    rows = rng.normal(3.0, 2.0, (50, 4, 6))
    moments = _Moments((0, 1))
    for block in np.array_split(rows, [7, 8, 30]):
        moments.add(block)
    moments.add(rows[:0])
    np.testing.assert_allclose(moments.mean, rows.mean(axis=(0, 1), keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(moments.std, rows.std(axis=(0, 1), keepdims=True), rtol=1e-12)


# --- rows and emotions of windows ---------------------------------------------------------


def test_a_windows_row_is_the_row_of_a_file_of_its_samples(small_build, recording):
    with ravdess_prep.embedder(dataset=small_build.out) as embedding:
        frame = embedding.process_file(recording, window_s=2.0, hop_s=1.5)
        assert list(frame.index.names) == ["file", "start", "end"]
        samples, rate = soundfile.read(recording, dtype="int16")
        voiced = frame[frame["voiced"]]
        assert 0 < len(voiced) < len(frame)  # the 1.5 s of silence hold windows without a voice
        for (_, start, end), row in list(voiced["embedding"].items())[:4]:
            first, last = round(start.total_seconds() * rate), round(end.total_seconds() * rate)
            np.testing.assert_allclose(row, embedding.process_signal(samples[first:last], rate), rtol=1e-5,
                                       atol=1e-5)
        for row in frame[~frame["voiced"]]["embedding"]:
            assert np.isnan(row).all()


def test_silent_windows_are_not_labelled_and_hours_of_silence_cost_no_model_run(small_build, trained, tmp_path):
    silence = tmp_path / "silence.wav"
    soundfile.write(silence, np.zeros(3 * 3600 * 1000, np.int16), 1000, subtype="PCM_16")  # three hours
    with EmotionModel(dataset=small_build.out, model_dir=trained) as model:
        found = timeline(silence, model, window_s=4.0, hop_s=2.0)
        assert len(found) == (3 * 3600 - 4) // 2 + 1 and not found.voiced.any() and np.isnan(found.probabilities).all()
        assert found.labels == [None] * len(found)
        assert model.embedding._session is None  # no window reached the model


def test_a_click_is_not_a_voice(small_build, trained, tmp_path):
    samples = np.zeros(48000 * 3)
    samples[50000:50000 + int(0.5 * MIN_VOICE_S * 48000)] = 0.5  # active for half the minimum
    path = write_audio(tmp_path / "click.wav", samples)
    with EmotionModel(dataset=small_build.out, model_dir=trained) as model:
        assert not timeline(path, model, window_s=1.0, hop_s=1.0).voiced.any()


def test_own_windows_standardise_a_speaker_normalised_model(small_build, normalised_model, recording):
    with EmotionModel(dataset=small_build.out, model_dir=normalised_model) as model:
        found = timeline(recording, model, window_s=2.0, hop_s=1.0)
        assert "the file's own" in found.normalised_by and f"own {int(found.voiced.sum())} voiced" in found.normalised_by
        with ravdess_prep.embedder(dataset=small_build.out) as embedding:
            frame = embedding.process_file(recording, window_s=2.0, hop_s=1.0)
        rows = model.inputs(np.stack(frame[frame["voiced"]]["embedding"]))
        axes = tuple(range(rows.ndim - 1))  # clips and examples: every axis but the features
        std = rows.std(axis=axes)
        assert (std == 0).any()  # VGGish's 8-bit values: features constant over the file, read as 1
        expected = model.probabilities(((rows - rows.mean(axis=axes)) / np.where(std > 0, std, 1)).astype(np.float32))
        np.testing.assert_allclose(found.probabilities[found.voiced], expected, atol=1e-4)


# --- the command line ---------------------------------------------------------------------


def test_predict_over_time_writes_each_format_and_a_plot(small_build, trained, recording, tmp_path, capsys):
    tables = {}
    for suffix in ("csv", "json", "parquet"):
        out = tmp_path / f"timeline.{suffix}"
        plots = ["--plot", tmp_path / "plots"] if suffix == "csv" else []
        status, _, err = run_command(capsys, "predict", recording, "--dataset", small_build.out, "--model-dir",
                                     trained, "--window", "2", "--hop", "1", "--out", out, "--no-progress", *plots)
        assert status == 0, err
        tables[suffix] = out
    import pandas as pd

    csv, parquet = pd.read_csv(tables["csv"]), pd.read_parquet(tables["parquet"])
    records = json.loads(tables["json"].read_text())
    duration = soundfile.info(recording).duration
    assert len(csv) == len(parquet) == len(records) == len(window_starts(round(duration * 48000),
                                                                         window_samples=96000, hop_samples=48000))
    probabilities = [name for name in csv.columns if name.startswith("p_")]
    assert probabilities and csv["voiced"].any() and not csv["voiced"].all()
    np.testing.assert_allclose(csv[probabilities].to_numpy(), parquet[probabilities].to_numpy(), atol=1e-6)
    voiced = csv[csv["voiced"]]
    assert (voiced["emotion"] == voiced[probabilities].idxmax(axis=1).str[2:]).all()
    assert csv[~csv["voiced"]]["emotion"].isna().all() and records[0]["file"] == str(recording)
    png = tmp_path / "plots" / next(iter(p.name for p in (tmp_path / "plots").iterdir()))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10000


def test_bad_windows_are_one_line_naming_the_option(small_build, trained, recording, tmp_path, capsys):
    base = ["predict", recording, "--dataset", small_build.out, "--model-dir", trained]
    target = soundfile.info(recording).samplerate  # any number: the message names the dataset's length
    cases = [(["--window", "2", "--hop", "0"], "--hop 0.0 has to be a positive number of seconds"),
             (["--window", "2", "--hop", "-1"], "--hop -1.0 has to be a positive number of seconds"),
             (["--window", "60"], "--window 60.0 is longer than"),
             (["--hop", "1"], "--hop without --window"),
             (["--window", "2", "--out", tmp_path / "x.txt"], "the extension says the format")]
    for extra, message in cases:
        status, _, err = run_command(capsys, *base, *extra)
        assert status in (1, 2) and message in error_line(err), (extra, err)
    assert target and not list(tmp_path.iterdir())


def test_a_window_shorter_than_the_embedder_is_refused_with_its_minimum(small_tree, vggish_files):
    with ravdess_prep.embedder("vggish", checkpoint=vggish_files.checkpoint, pca_params=vggish_files.pca_params,
                               allow_custom_checkpoint=True) as embedding:
        with pytest.raises(ParameterError, match=r"window_s=0\.5 is shorter than the 0\.9\d* s"):
            embedding.process_file(sorted(small_tree.rglob("*.flac"))[0], window_s=0.5)


def test_a_folder_with_bad_files_gives_the_good_ones_and_resumes(small_build, trained, small_tree, tmp_path, capsys):
    folder = tmp_path / "many"
    clips = sorted(small_tree.rglob("*.flac"))[:4]
    for index, clip in enumerate(clips):
        (folder / f"d{index % 2}").mkdir(parents=True, exist_ok=True)
        (folder / f"d{index % 2}" / clip.name).write_bytes(clip.read_bytes())
    bad = folder / "d1" / "zz-broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio")
    out = tmp_path / "emotions.csv"
    args = ["predict", folder, "--dataset", small_build.out, "--model-dir", trained, "--out", out, "--no-progress"]
    status, _, err = run_command(capsys, *args)
    assert status == 1 and f"{bad}: not a readable audio file" in err and "1 of 5 files failed" in err
    import pandas as pd

    first = pd.read_csv(out)
    assert sorted(first["file"]) == sorted(str(path) for path in folder.rglob("*.flac"))
    parts = tmp_path / "emotions.csv.parts"
    assert parts.is_dir()
    # without --resume the job's leftovers are not overwritten, nor is the output
    status, _, err = run_command(capsys, *args)
    assert status == 1 and "rerun with --resume" in error_line(err)
    soundfile.write(bad, tone(1.0), 48000, subtype="PCM_16")
    status, _, err = run_command(capsys, *args, "--resume")
    assert status == 0 and "4 files were done already" in err and not parts.exists()
    again = pd.read_csv(out)
    assert len(again) == 5 and str(bad) in set(again["file"])
    pd.testing.assert_frame_equal(again[again["file"] != str(bad)].reset_index(drop=True), first)


def test_an_interrupted_job_resumes_where_it_stopped(small_build, small_tree, tmp_path, capsys, monkeypatch):
    clips = sorted(small_tree.rglob("*.flac"))[:5]
    out = tmp_path / "rows.npy"
    monkeypatch.setattr(jobs, "CHUNK_FILES", 2)
    from ravdess_prep.recordings import chunks

    real, seen = chunks.embed_clips, []

    def stop_after_two_chunks(embedding, chunk):
        if len(seen) == 2:
            raise KeyboardInterrupt
        seen.append([str(path) for path in chunk])
        return real(embedding, chunk)

    monkeypatch.setattr(chunks, "embed_clips", stop_after_two_chunks)
    args = ["embed", *clips, "--dataset", small_build.out, "--out", out, "--no-progress"]
    status, _, _ = run_command(capsys, *args)
    assert status == 130 and not out.exists() and len(list((tmp_path / "rows.npy.parts").glob("part-*"))) == 2
    seen.clear()
    monkeypatch.setattr(chunks, "embed_clips", lambda embedding, chunk: (seen.append(chunk), real(embedding, chunk))[1])
    status, _, err = run_command(capsys, *args, "--resume")
    assert status == 0 and "4 files were done already" in err and seen == [[clips[4]]]
    with ravdess_prep.embedder(dataset=small_build.out) as embedding:
        np.testing.assert_array_equal(np.load(out), embedding.process_paths(clips))


def test_an_output_of_another_job_is_never_replaced(small_build, small_tree, tmp_path, capsys):
    clip = sorted(small_tree.rglob("*.flac"))[0]
    out = tmp_path / "rows.csv"
    out.write_text("someone's table\n")
    status, _, err = run_command(capsys, "embed", clip, "--dataset", small_build.out, "--out", out, "--resume")
    assert status == 1 and "already exists and holds another job's results" in error_line(err)
    parts = tmp_path / "other.csv.parts"
    parts.mkdir()
    (parts / jobs.JOB_FILE).write_text(json.dumps({"settings": "another job"}))
    status, _, err = run_command(capsys, "embed", clip, "--dataset", small_build.out, "--out", tmp_path / "other.csv",
                                 "--resume")
    assert status == 1 and "holds the results of another job" in error_line(err)
    assert out.read_text() == "someone's table\n" and (parts / jobs.JOB_FILE).exists()


def test_a_window_longer_than_the_file_is_one_window_with_a_note(small_build, trained, small_tree, tmp_path, capsys):
    clip = min(small_tree.rglob("*.flac"), key=lambda path: soundfile.info(path).duration)
    duration = soundfile.info(clip).duration
    assert duration < 4.4 < 4.51  # shorter than the window, which is shorter than the dataset's target
    out = tmp_path / "one.json"
    status, _, err = run_command(capsys, "predict", clip, "--dataset", small_build.out, "--model-dir", trained,
                                 "--window", "4.4", "--hop", "1", "--out", out)
    assert status == 0 and f"{clip}: {duration:.2f} s long, shorter than the 4.4 s window: one window" in err
    (only,) = json.loads(out.read_text())
    assert only["start_s"] == 0 and abs(only["end_s"] - duration) < 1e-6 and only["voiced"] is True


def test_embed_over_time_keeps_each_rows_shape_in_every_format(small_build, recording, tmp_path, capsys):
    with ravdess_prep.embedder(dataset=small_build.out) as embedding:
        frame = embedding.process_file(recording, window_s=3.0, hop_s=3.0)
        signal, rate = soundfile.read(recording, dtype="int16")
        from_signal = embedding.process_signal(signal, rate, window_s=3.0, hop_s=3.0)
    assert set(from_signal.index.get_level_values("file")) == {"signal"}
    np.testing.assert_array_equal(np.stack(from_signal["embedding"]), np.stack(frame["embedding"]))
    rows = np.stack(frame["embedding"])
    outputs = {suffix: tmp_path / f"rows.{suffix}" for suffix in ("csv", "json", "parquet")}
    for out in outputs.values():
        status, printed, err = run_command(capsys, "embed", recording, "--dataset", small_build.out, "--window", "3",
                                           "--hop", "3", "--out", out, "--no-progress")
        assert status == 0 and f"{len(frame)} windows of 1 files" in printed, err
    import pandas as pd
    import pyarrow.parquet

    csv = pd.read_csv(outputs["csv"])
    flat = csv[[f"e{index}" for index in range(int(np.prod(rows.shape[1:])))]].to_numpy()
    np.testing.assert_allclose(flat, rows.reshape(len(rows), -1), rtol=1e-6, equal_nan=True)
    records = json.loads(outputs["json"].read_text())
    voiced = [index for index, record in enumerate(records) if record["voiced"]]
    np.testing.assert_allclose(np.asarray(records[voiced[0]]["embedding"], np.float32), rows[voiced[0]], rtol=1e-6)
    table = pyarrow.parquet.read_table(outputs["parquet"])
    shape = json.loads(table.schema.metadata[b"ravdess_prep.embedding_shape"])
    assert tuple(shape) == rows.shape[1:]
    np.testing.assert_array_equal(np.stack(table.column("embedding").to_pylist()).reshape(-1, *shape), rows)
    assert csv["start_s"].tolist() == frame.index.get_level_values("start").total_seconds().tolist()


def test_an_enrolment_standardises_every_window_of_a_file(small_build, normalised_model, small_tree, recording):
    enrolment = sorted((small_tree / "Audio_Speech_Actors_01-24" / "Actor_01").glob("*.flac"))[:3]
    with EmotionModel(dataset=small_build.out, model_dir=normalised_model, enrol=enrolment) as model:
        found = timeline(recording, model, window_s=2.0, hop_s=1.0)
        assert found.normalised_by == "the enrolment of 3 recordings of the speaker"
        with ravdess_prep.embedder(dataset=small_build.out) as embedding:
            frame = embedding.process_file(recording, window_s=2.0, hop_s=1.0)
            reference = model.inputs(embedding.process_paths(enrolment)).astype(np.float64)
        rows = model.inputs(np.stack(frame[frame["voiced"]]["embedding"]))
        axes = tuple(range(rows.ndim - 1))
        std = reference.std(axis=axes)
        expected = model.probabilities(((rows - reference.mean(axis=axes)) / np.where(std > 0, std, 1))
                                       .astype(np.float32))
        np.testing.assert_allclose(found.probabilities[found.voiced], expected, atol=1e-4)
