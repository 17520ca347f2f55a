"""Nothing lost, nothing silent, for the newer commands: ``--config``, ``--from-manifest``,
``export``, presets, ``crossval``, ``tag``, ``embed``, ``predict``, and full disks. Each case
makes the damage on copies of real clips and checks the outcome: one line naming the file or
the option, and the user's files, the sources and the outputs intact, byte for byte."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands import error_line as _error_line
from commands import run_command as _run
from conftest import SPEECH, copy_clips, require_opensmile, write_audio
from ravdess_prep import cli

ACTORS = (1, 8, 11)  # train, dev, test


def _bytes(folder: Path) -> dict:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file()}


@pytest.fixture(scope="module")
def tree(ravdess_dir, tmp_path_factory):
    """Nine real clips: actors 01, 08, 11, two speech clips and one song each, all neutral (a head
    needs two training clips of every class the data holds)."""
    return copy_clips(ravdess_dir, tmp_path_factory.mktemp("commands-tree"), ACTORS, speech=2, song=1,
                      pick=slice(None, None, 2))


@pytest.fixture(scope="module")
def files_args(vggish_files):
    return ["--checkpoint", vggish_files.checkpoint, "--pca-params", vggish_files.pca_params, "--custom-checkpoint"]


@pytest.fixture(scope="module")
def built(tree, files_args, tmp_path_factory):
    """A VGGish dataset of the tree, built from the command line."""
    root = tmp_path_factory.mktemp("commands-built")
    status = cli.main(["build", "--source", str(tree), "--out", str(root / "data"), "--cache-dir", str(root / "cache"),
                       "--allow-missing-speakers", "--no-progress", *map(str, files_args)])
    assert status == 0
    return root / "data"


@pytest.fixture(scope="module")
def trained(built, tmp_path_factory):
    model = tmp_path_factory.mktemp("commands-model") / "model"
    assert cli.main(["train", "--data", str(built), "--model-dir", str(model), "--epochs", "2"]) == 0
    return model


def _clip(tree) -> Path:
    return sorted((tree / SPEECH).rglob("*.flac"))[0]


# 1 ---------------------------------------------------------------------------------------------


def test_the_command_lines_source_replaces_the_config_files(tree, built, files_args, tmp_path, capsys):
    config = tmp_path / "build.toml"
    config.write_text(f'source = ["{tmp_path / "no-such-folder"}"]\njobs = 1\nprogress = false\n'
                      "allow_missing_speakers = true\n")
    status, out, _ = _run(capsys, "build", "--config", config, "--source", tree, "--out", tmp_path / "out",
                          "--cache-dir", built.parent / "cache", *files_args)
    assert status == 0 and "from the cache: 9" in out  # the file's missing folder was not read


# 2 and 6 ---------------------------------------------------------------------------------------


def test_nothing_writes_into_a_dataset_folder_and_a_build_keeps_files_it_did_not_write(built, trained, tree,
                                                                                        files_args, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(built, data)
    before = _bytes(data)
    for args, flag in ((["train", "--data", data, "--model-dir", data / "model"], "--model-dir"),
                       (["export", data, "--format", "parquet", "--out", data / "x.parquet"], "--out"),
                       (["embed", _clip(tree), "--dataset", data, "--out", data / "train" / "train_embeddings.npy"],
                        "--out")):
        status, _, err = _run(capsys, *args)
        assert status in (1, 2) and str(data) in _error_line(err) and flag in _error_line(err)
    assert _bytes(data) == before
    (data / "notes.txt").write_text("my notes")
    status, _, err = _run(capsys, "build", "--source", tree, "--out", data, "--cache-dir", built.parent / "cache",
                          "--allow-missing-speakers", "--no-progress", *files_args)
    assert status == 1 and "notes.txt" in _error_line(err) and "did not write" in _error_line(err)
    assert _bytes(data) == {**before, "notes.txt": b"my notes"}


# 3 and 11 --------------------------------------------------------------------------------------


def test_tag_refuses_bad_audio_before_any_model_is_loaded(tree, tmp_path, capsys):
    noisy = tmp_path / "nan.wav"
    samples = np.full(16000, 0.1, np.float32)
    samples[100] = np.nan
    soundfile.write(str(noisy), samples, 16000, subtype="FLOAT")
    for path, message in ((noisy, "NaN or infinite"), (tmp_path / "missing.wav", "no such file")):
        # the model folder does not exist: the files are read, and refused, before it is looked at
        status, out, err = _run(capsys, "tag", _clip(tree), path, "--yamnet-model", tmp_path / "no-model")
        assert status == 1 and f"{path}: " in _error_line(err) and message in _error_line(err) and out == ""


# 4, 11 and 13 ----------------------------------------------------------------------------------


def test_predict_refuses_a_dataset_other_than_the_models(built, trained, tree, files_args, tmp_path, capsys):
    other = tmp_path / "other"
    assert cli.main(["build", "--source", str(tree), "--out", str(other), "--cache-dir", str(tmp_path / "cache"),
                     "--allow-missing-speakers", "--no-progress", "--fc2-activation", "none",
                     *map(str, files_args)]) == 0
    capsys.readouterr()
    status, out, err = _run(capsys, "predict", _clip(tree), "--dataset", other, "--model-dir", trained)
    line = _error_line(err)
    assert status == 1 and str(trained) in line and str(other) in line and "fc2_activation" in line and out == ""
    status, _, err = _run(capsys, "predict", tmp_path / "missing.wav", "--dataset", built, "--model-dir", trained)
    assert status == 1 and "missing.wav: no such file" in _error_line(err)


def test_predict_with_another_embedders_model_is_refused_before_embedding(built, tree, tmp_path, capsys):
    require_opensmile()
    egemaps = tmp_path / "egemaps"
    assert cli.main(["build", "--source", str(tree), "--out", str(egemaps), "--embedder", "egemaps", "--cache-dir",
                     str(tmp_path / "cache"), "--allow-missing-speakers", "--no-progress"]) == 0
    assert cli.main(["train", "--data", str(egemaps), "--model-dir", str(tmp_path / "model"), "--epochs", "2"]) == 0
    capsys.readouterr()
    status, _, err = _run(capsys, "predict", _clip(tree), "--dataset", built, "--model-dir", tmp_path / "model")
    assert status == 1 and "row_shape differs" in _error_line(err)


# 5 -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def egemaps_data(tree, tmp_path_factory):
    """An eGeMAPS dataset of the tree, built in a process of its own (openSMILE before TensorFlow)."""
    require_opensmile()
    root = tmp_path_factory.mktemp("egemaps")
    args = ["build", "--source", tree, "--out", root / "egemaps", "--embedder", "egemaps", "--cache-dir",
            root / "cache", "--allow-missing-speakers", "--no-progress"]
    assert subprocess.run([sys.executable, "-m", "ravdess_prep.cli", *map(str, args)], capture_output=True,
                          timeout=600).returncode == 0
    return root / "egemaps"


def test_predict_with_an_egemaps_model_after_keras_is_loaded(egemaps_data, tree, tmp_path, capsys):
    """openSMILE after TensorFlow in one process (predict loads the model before it embeds), for a
    model with and one without speaker normalisation, both predicted in one such process."""
    data, models = egemaps_data, {"plain": tmp_path / "plain", "norm": tmp_path / "norm"}
    for name, extra in (("plain", []), ("norm", ["--speaker-norm"])):
        assert cli.main(["train", "--data", str(data), "--model-dir", str(models[name]), "--epochs", "2", *extra]) == 0
    clips = [str(path) for path in sorted((tree / SPEECH / "Actor_11").glob("*.flac"))]
    code = textwrap.dedent(f"""
        import tensorflow  # noqa: F401  (loaded first, as Keras loads it before openSMILE runs)
        from ravdess_prep import predict
        for model in {[str(path) for path in models.values()]!r}:
            probabilities, names = predict.predict_files({clips!r}, dataset={str(data)!r}, model_dir=model)
            print(probabilities.shape)
    """)
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.count(f"({len(clips)}, 8)") == 2


# 7 ---------------------------------------------------------------------------------------------


def test_a_config_file_takes_natural_toml_types(built, tree, files_args, tmp_path, capsys):
    config = tmp_path / "build.toml"
    config.write_text(f'source = ["{tree}"]\ncache_dir = "{built.parent / "cache"}"\njobs = 1\nprogress = false\n'
                      "speakers = [1, 8, 11]\nallow_missing_speakers = true\nshuffle_seed = 3\n"
                      "[embedder]\nname = \"vggish\"\nhop_seconds = 0.23\nbatch_size = 128\n"
                      f'[files]\ncheckpoint = "{files_args[1]}"\npca_params = "{files_args[3]}"\n'
                      "allow_custom_checkpoint = true\n")
    status, out, _ = _run(capsys, "build", "--config", config, "--out", tmp_path / "out")
    assert status == 0 and "from the cache: 9" in out


SETTING_KEYS = ["trim_method", "trim_window_samples", "trim_threshold", "on_silent", "sample_rate_hz", "channel",
                "target_length_samples", "on_too_long", "speakers", "split_preset", "fold", "dev_speakers",
                "shuffle_seed", "allow_missing_speakers", "jobs", "runner", "source"]
WRONG = st.one_of(st.text(alphabet="abcxyz ", min_size=1, max_size=6), st.floats(allow_nan=False, allow_infinity=False, width=32),
                  st.integers(-3, 0), st.booleans(), st.lists(st.text(alphabet="ab", min_size=1), max_size=2),
                  st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=2))


def _toml(value) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(SETTING_KEYS), value=WRONG)
def test_any_toml_value_is_taken_or_refused_in_one_line_naming_the_key(key, value, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("toml")
    config = folder / "build.toml"
    config.write_text(f"{key} = {_toml(value)}\n")
    status, out, err = _run(capsys, "build", "--config", config, "--out", folder / "out", "--source",
                            folder / "no-source", "--cache-dir", folder / "cache")
    assert status in (1, 2) and out == ""
    line = _error_line(err)
    assert key in line or "no-source" in line  # refused naming the key, or taken and the missing source named
    assert not (folder / "out").exists()


# 8 and 16 --------------------------------------------------------------------------------------


def test_from_manifest_refuses_any_setting_given_and_records_absolute_model_paths(built, tree, files_args, tmp_path,
                                                                                 capsys, monkeypatch):
    manifest = built / "manifest.json"
    for extra, named in ((["--hop", "0.23"], "--hop"), (["--config", manifest], "--config")):  # 0.23 is the default
        status, _, err = _run(capsys, "build", "--from-manifest", manifest, "--source", tree, "--out",
                              tmp_path / "never", *extra)
        assert status == 2 and f"drop {named}" in _error_line(err)
    copy = built / "other.json"
    shutil.copyfile(manifest, copy)
    try:
        monkeypatch.chdir(Path(files_args[1]).parent)
        status, _, err = _run(capsys, "build", "--from-manifest", copy, "--source", tree, "--out", tmp_path / "again",
                              "--cache-dir", built.parent / "cache", "--checkpoint", Path(files_args[1]).name,
                              "--no-progress")
    finally:
        copy.unlink()
    assert status == 0, err
    recorded = json.loads((tmp_path / "again" / "manifest.json").read_text())["embedder"]["files"]
    assert all(Path(entry["path"]).is_absolute() for entry in recorded.values())
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["config"]["embedder"].update(name="wav2vec"), "config: key 'embedder'"),
    (lambda m: m.pop("splits"), "the key 'splits' is missing"),
    (lambda m: m["config"].update(split_preset="folds6", fold=9), "needs a fold from 1 to 6 (fold K), not 9"),
    (lambda m: m["config"]["embedder"].update(hop_seconds=0.5), "examples per clip are recorded"),
    (lambda m: m.update(target_length_samples=m["target_length_samples"] - 10), "is not the longest kept clip"),
    (lambda m: m["config"]["embedder"].update(name="yamnet"), "the yamnet embedder: unknown key 'fc2_activation'"),
])
def test_an_edited_manifest_is_refused_naming_it(edit, message, built, tree, tmp_path, capsys):
    """Each edit is refused for what it breaks, as in a manifest that records no digest of its
    own values (one written before they were recorded, or one whose digest was deleted too)."""
    data = tmp_path / "data"
    shutil.copytree(built, data)
    values = json.loads((data / "manifest.json").read_text())
    edit(values)
    values.pop("manifest_sha256")
    (data / "manifest.json").write_text(json.dumps(values))
    for args in (["embed", _clip(tree), "--dataset", data, "--out", tmp_path / "e.npy"],
                 ["build", "--from-manifest", data / "manifest.json", "--source", tree, "--out", tmp_path / "out"]):
        status, _, err = _run(capsys, *args)
        line = _error_line(err)
        assert status in (1, 2) and str(data / "manifest.json") in line and message in line, line
        assert "--fold" not in line
    assert not (tmp_path / "e.npy").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("edit", [
    lambda m: m["config"].update(dev_speakers=None),  # would silently take the default split
    lambda m: m["config"].update(shuffle_seed=3),
    lambda m: m["embedder"]["files"]["checkpoint"].update(path="/elsewhere/vggish_model.ckpt"),
    lambda m: m["splits"]["dev"].update(speakers=[2]),
])
def test_any_edit_of_a_manifest_that_records_its_digest_is_refused(edit, built, tree, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(built, data)
    values = json.loads((data / "manifest.json").read_text())
    assert len(values["manifest_sha256"]) == 64
    edit(values)
    (data / "manifest.json").write_text(json.dumps(values, indent=1))
    for args in (["embed", _clip(tree), "--dataset", data, "--out", tmp_path / "e.npy"],
                 ["build", "--from-manifest", data / "manifest.json", "--source", tree, "--out", tmp_path / "out"],
                 ["export", data, "--format", "parquet", "--out", tmp_path / "x.parquet"],
                 ["train", "--data", data, "--model-dir", tmp_path / "model", "--epochs", "1"],
                 ["check", data]):
        status, out, err = _run(capsys, *args)
        line = _error_line(err) if args[0] != "check" else out.splitlines()[0]
        assert status in (1, 2) and f"{data / 'manifest.json'}: edited since it was written" in line, (args[0], out, err)
    assert not any((tmp_path / name).exists() for name in ("e.npy", "out", "x.parquet", "model"))
    # the same values in another spelling (indent, key order) are the same manifest
    values = json.loads((built / "manifest.json").read_text())
    (data / "manifest.json").write_text(json.dumps(dict(reversed(values.items())), indent=4))
    assert _run(capsys, "check", data)[0] == 0


_REFERENCE: dict = {}  # the embedding through the unedited manifest
MANIFEST_KEYS = ["format", "config", "corpus", "embedder", "output", "target_length_samples", "sample_rate_hz",
                 "splits", "examples_per_clip", "handled_by_policy"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(MANIFEST_KEYS),
       value=st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                       st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
def test_any_broken_manifest_field_is_one_line_naming_the_manifest(key, value, built, tree, tmp_path_factory, capsys):
    data = tmp_path_factory.mktemp("manifest") / "data"
    shutil.copytree(built, data)
    values = json.loads((data / "manifest.json").read_text())
    values[key] = value
    (data / "manifest.json").write_text(json.dumps(values))
    status, out, err = _run(capsys, "embed", _clip(tree), "--dataset", data, "--out", data.parent / "e.npy")
    if status == 0:  # a field the embedding does not read, or a config of the defaults it was built with
        reference = _REFERENCE.get("e.npy")
        if reference is None:
            path = tmp_path_factory.mktemp("reference") / "e.npy"
            assert _run(capsys, "embed", _clip(tree), "--dataset", built, "--out", path)[0] == 0
            reference = _REFERENCE.setdefault("e.npy", np.load(path))
        np.testing.assert_array_equal(np.load(data.parent / "e.npy"), reference)
        return
    assert status == 1 and "manifest.json" in _error_line(err)
    assert not (data.parent / "e.npy").exists()


# 9 ---------------------------------------------------------------------------------------------


def test_a_truncated_bundle_file_is_named(built, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(built, data)
    damaged = data / "dev" / "dev_embeddings.npy"
    damaged.write_bytes(damaged.read_bytes()[:-100])
    for args in (["export", data, "--format", "parquet", "--out", tmp_path / "x.parquet"],
                 ["train", "--data", data, "--model-dir", tmp_path / "model", "--epochs", "1"]):
        status, _, err = _run(capsys, *args)
        assert status == 1 and f"{damaged}: a damaged bundle file" in _error_line(err)
    assert not (tmp_path / "x.parquet").exists()


# 10 --------------------------------------------------------------------------------------------


def test_a_preset_folds_missing_speakers_are_named_and_crossval_says_what_it_leaves_out(built, tree, files_args,
                                                                                         tmp_path, capsys):
    status, _, err = _run(capsys, "build", "--source", tree, "--out", tmp_path / "never", "--split-preset", "folds6",
                          "--fold", "3", "--actors", "1,8,11", *files_args)
    assert status in (1, 2) and "the dev split is empty (its speakers dev: 13, 14, 15, 16)" in _error_line(err)
    status, out, err = _run(capsys, "crossval", "--data", built, "--folds", "folds6", "--epochs", "1")
    assert status == 0
    assert "folds6 fold 4 left out: the bundles hold no clip of its test speakers 13, 14, 15, 16" in err
    assert "folds6 fold 3: the bundles hold no clip of its dev speakers 13, 14, 15, 16" in err
    assert len([line for line in out.splitlines() if line[:2].isdigit()]) == 3  # folds 1 to 3
    # only one of each fold's four test speakers is in the data: no interval is quoted
    assert "interval (95%): none (one test speaker per fold: the interval has no width" in out


# 12 --------------------------------------------------------------------------------------------


def test_paths_and_values_that_cannot_work_are_named_before_any_work(built, tree, tmp_path, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    cases = [
        (["build", "--source", tree, "--out", tmp_path / "o", "--embedder", "yamnet", "--yamnet-model", a_file,
          "--allow-missing-speakers"], "a file, not a YAMNet SavedModel folder"),
        (["build", "--source", tree, "--out", tmp_path / "o", "--hop", "0.004"], "shorter than one spectrogram frame"),
        (["train", "--data", built, "--model-dir", a_file], "a file, not a folder; choose another --model-dir"),
        (["build", "--source", tree, "--out", a_file / "sub"], f"{a_file} is a file, not a folder"),
        (["embed", _clip(tree), "--dataset", built, "--out", a_file], "already exists"),
    ]
    for args, message in cases:
        status, _, err = _run(capsys, *args)
        assert status in (1, 2) and message in _error_line(err), (args, err)
    assert a_file.read_text() == "x" and not (tmp_path / "o").exists()


# 14 --------------------------------------------------------------------------------------------


def test_speaker_normalisation_refuses_a_speaker_with_one_clip(built, tmp_path, capsys):
    from ravdess_prep.dataset.bundles import read_bundles

    bundles = read_bundles(built)
    first = bundles["dev"]
    one = {name: bundle for name, bundle in bundles.items()}
    import dataclasses

    one["dev"] = dataclasses.replace(first, names=first.names[:1], embeddings=first.embeddings[:1],
                                     labels=first.labels[:1], speakers=first.speakers[:1],
                                     facets={key: value[:1] for key, value in first.facets.items()})
    from ravdess_prep.evaluation import classifier
    from ravdess_prep.exceptions import SourceError

    with pytest.raises(SourceError, match="at least two clips of every speaker; speaker 08 has one .in dev."):
        classifier.train(one, tmp_path / "model", classifier.TrainConfig(epochs=1, speaker_norm=True))
    assert not (tmp_path / "model" / "model.keras").exists()


# 15 --------------------------------------------------------------------------------------------


def test_a_full_disk_names_the_file_and_keeps_the_old_folder(built, tree, files_args, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(built, data)
    before = _bytes(data)
    code = textwrap.dedent(f"""
        import resource, sys
        from ravdess_prep import cli
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))  # as a nearly full disk or a quota would
        sys.exit(cli.main({["build", "--source", str(tree), "--out", str(data), "--cache-dir",
                            str(built.parent / "cache"), "--allow-missing-speakers", "--no-progress",
                            *map(str, files_args)]!r}))
    """)
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert finished.returncode == 1, finished.stderr[-2000:]
    line = _error_line(finished.stderr)
    assert "cannot be written (the file is larger than the system allows)" in line and str(data) in line
    assert _bytes(data) == before


@pytest.mark.parametrize("command", ["cache", "parquet", "hf"])
def test_a_full_disk_under_the_cache_or_an_export_names_the_file(command, built, tree, files_args, tmp_path):
    if command == "hf":
        pytest.importorskip("datasets")
    args = {"cache": ["build", "--source", tree, "--out", tmp_path / "out", "--cache-dir", tmp_path / "cache",
                      "--allow-missing-speakers", "--no-progress", *files_args],
            "parquet": ["export", built, "--format", "parquet", "--out", tmp_path / "out"],
            "hf": ["export", built, "--format", "hf", "--out", tmp_path / "out", "--no-progress"]}[command]
    code = textwrap.dedent(f"""
        import resource, sys
        from ravdess_prep import cli
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))  # as a full disk or a quota would
        sys.exit(cli.main({list(map(str, args))!r}))
    """)
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert finished.returncode == 1, finished.stderr[-2000:]
    line = _error_line(finished.stderr)
    named = tmp_path / ("cache" if command == "cache" else "out")
    assert f"{named}" in line and "cannot be written (the file is larger than the system allows)" in line, line
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))
    assert not [path for path in (tmp_path / "cache").rglob("*.npy")] if command == "cache" else True


def test_an_output_that_cannot_be_written_is_refused_before_any_work(built, tree, files_args, tmp_path, capsys,
                                                                       monkeypatch):
    """A read-only folder (what a user who is not root meets; os.access answers for them)."""
    import os

    import ravdess_prep.evaluation.classifier

    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path) != locked and real_access(path, mode, **kw))
    monkeypatch.setattr(ravdess_prep.evaluation.classifier, "read_data", lambda *a, **k: pytest.fail("training started"))
    for args, flag in ((["train", "--data", built, "--model-dir", locked / "model", "--epochs", "1"], "--model-dir"),
                       (["train", "--data", built, "--model-dir", locked, "--epochs", "1"], "--model-dir"),
                       (["export", built, "--format", "parquet", "--out", locked / "x.parquet"], "--out"),
                       (["build", "--source", tree, "--out", locked / "data", *files_args], "--out"),
                       (["build", "--source", tree, "--out", tmp_path / "data", "--cache-dir", locked / "cache",
                         *files_args], "--cache-dir")):
        status, _, err = _run(capsys, *args)
        line = _error_line(err)
        assert status == 1 and f"{locked} cannot be written in (read-only, or no permission); choose another {flag}" \
            in line, line
    assert list(locked.iterdir()) == [] and not (tmp_path / "data").exists()


def test_an_export_says_what_its_embeddings_are(built, tmp_path, capsys):
    pq = pytest.importorskip("pyarrow.parquet")
    assert _run(capsys, "export", built, "--format", "parquet", "--out", tmp_path / "x.parquet")[0] == 0
    metadata = {key.decode(): value.decode() for key, value in pq.read_schema(tmp_path / "x.parquet").metadata.items()}
    manifest = json.loads((built / "manifest.json").read_text())
    assert metadata["ravdess_prep.axes"] == ",".join(manifest["output"]["axes"][1:]) == "examples,dim"
    assert metadata["ravdess_prep.embeddings"] == manifest["embeddings"]
    assert "ravdess_prep.layers" not in metadata  # VGGish rows are no stack of layers


def test_no_progress_holds_tensorflows_warnings_back_and_puts_them_back(caplog):
    import logging

    from ravdess_prep.quiet import quiet_libraries

    logger = logging.getLogger("tensorflow")
    with caplog.at_level(logging.WARNING):
        with quiet_libraries():
            logger.warning("5 out of the last 5 calls to <function> triggered tf.function retracing")
            logger.error("an error still shows")
        logger.warning("after the command")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["an error still shows", "after the command"], messages


# 16 --------------------------------------------------------------------------------------------


def test_actors_without_clips_are_noted_and_existing_outputs_are_never_replaced(built, tree, files_args, tmp_path,
                                                                              capsys):
    status, _, err = _run(capsys, "build", "--source", tree, "--out", tmp_path / "out", "--actors", "1,8,11,30",
                          "--cache-dir", built.parent / "cache", "--allow-missing-speakers", "--no-progress",
                          *files_args)
    assert status == 0 and "the speakers 30 of --actors have no clip in the source" in err
    existing = tmp_path / "e.npy"
    existing.write_bytes(b"mine")
    for args in (["embed", _clip(tree), "--dataset", built, "--out", existing],
                 ["export", built, "--format", "parquet", "--out", existing]):
        status, _, err = _run(capsys, *args)
        assert status == 1 and "already exists" in _error_line(err)
    assert existing.read_bytes() == b"mine"


# 17 --------------------------------------------------------------------------------------------


def test_the_stereo_hint_names_the_option_on_the_command_line(tree, files_args, tmp_path, capsys):
    source = tmp_path / "tree"
    shutil.copytree(tree, source)
    samples, rate = soundfile.read(str(_clip(tree)), dtype="float64")
    write_audio(source / SPEECH / "Actor_01" / "03-01-08-02-02-02-01.wav",
                np.stack([np.zeros_like(samples), samples], axis=1), sample_rate_hz=rate)
    status, out, _ = _run(capsys, "build", "--source", source, "--out", tmp_path / "out", "--cache-dir",
                          tmp_path / "cache", "--allow-missing-speakers", "--no-progress", *files_args)
    assert status == 0
    assert "silent in channel 1 but not in channel 2 (--channel mean takes every channel)" in out
    assert "channel='mean'" not in out


# option combinations ---------------------------------------------------------------------------

OPTIONS = {"--pool": ["none", "mean", "mean-std", "max"], "--hop": ["0.48", "0", "-1"], "--batch-size": ["4", "0"],
           "--fc2-activation": ["none", "relu", "tanh"], "--egemaps-level": ["lld", "functionals"],
           "--whisper-input": ["30s"], "--layers": ["0", "all", "x"], "--target-length": ["1000", "0"],
           "--on-too-long": ["crop"], "--fold": ["2"], "--split-preset": ["loso", "thirds"]}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(embedder=st.sampled_from(["vggish", "yamnet", "egemaps", "whisper", "hf"]),
       chosen=st.lists(st.sampled_from(sorted(OPTIONS)), max_size=3, unique=True), data=st.data())
def test_any_combination_of_options_is_refused_in_one_line_or_reaches_the_source(embedder, chosen, data,
                                                                                tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("options")
    args = ["build", "--source", folder / "no-source", "--out", folder / "out", "--embedder", embedder,
            "--cache-dir", folder / "cache"]
    for option in chosen:
        args += [option, data.draw(st.sampled_from(OPTIONS[option]))]
    status, out, err = _run(capsys, *args)
    assert status in (1, 2) and out == ""
    line = _error_line(err)
    assert "no-source" in line or any(option in line for option in chosen) or "model" in line or "target" in line
    assert not (folder / "out").exists()


# datasets checked before use ---------------------------------------------------------------------


def _damaged(built, tmp_path, damage) -> Path:
    data = tmp_path / "data"
    shutil.copytree(built, data)
    damage(data)
    return data


def _nan_rows(data: Path) -> None:
    """Overwrite the values of the train embeddings (not the .npy header) with NaN bytes."""
    path = data / "train" / "train_embeddings.npy"
    array = np.load(path)
    raw = bytearray(path.read_bytes())
    header = len(raw) - array.nbytes
    raw[header : header + 64] = np.full(16, np.nan, np.float32).tobytes()
    path.write_bytes(bytes(raw))


def _one_speaker(data: Path) -> None:
    """Every clip's speaker set to actor 01 in metadata.csv (speaker normalisation and the
    per-facet scores read it)."""
    path = data / "metadata.csv"
    table = pd.read_csv(path, keep_default_na=False)
    table["actor"] = 1
    table.to_csv(path, index=False, lineterminator="\n")


def _swapped_splits(data: Path) -> None:
    """The train and test embeddings exchanged (finite values, the right shapes)."""
    train, test = data / "train" / "train_embeddings.npy", data / "test" / "test_embeddings.npy"
    first, second = train.read_bytes(), test.read_bytes()
    assert first != second
    train.write_bytes(second)
    test.write_bytes(first)


def test_check_finds_an_intact_dataset_intact(built, capsys):
    recorded = json.loads((built / "manifest.json").read_text())["bundle_sha256"]
    assert sorted(recorded) == sorted([f"{split}/{split}_{part}.npy" for split in ("train", "dev", "test")
                                       for part in ("embeddings", "filenames", "labels")] + ["metadata.csv"])
    for name, digest in recorded.items():
        assert hashlib.sha256((built / name).read_bytes()).hexdigest() == digest
    status, out, _ = _run(capsys, "check", built)
    assert status == 0 and f"{built}: intact (3 splits, 9 clips, the SHA-256 of 10 files as recorded)" in out


@pytest.mark.parametrize("damage, named, expected", [
    (lambda data: shutil.rmtree(data / "test"), "test/test_embeddings.npy",
     ["test_embeddings.npy: missing (the manifest lists split 'test')"]),
    (_nan_rows, "train/train_embeddings.npy",
     ["train_embeddings.npy: SHA-256", "but the manifest recorded", "train_embeddings.npy: 16 NaN or infinite values"]),
    (lambda data: np.save(data / "dev" / "dev_embeddings.npy", np.zeros((3, 2, 64), np.float32)),
     "dev/dev_embeddings.npy", ["dev_embeddings.npy: rows of shape (2, 64), but the manifest records (16, 128)"]),
    (_one_speaker, "metadata.csv", ["metadata.csv: SHA-256", "changed since the build wrote it"]),
    (_swapped_splits, "test/test_embeddings.npy", ["train_embeddings.npy: SHA-256", "test_embeddings.npy: SHA-256"]),
])
def test_a_damaged_dataset_is_named_by_check_and_refused_by_every_reader(damage, named, expected, built, tree,
                                                                        tmp_path, capsys):
    data = _damaged(built, tmp_path, damage)
    status, out, _ = _run(capsys, "check", data)
    assert status == 1 and all(part in out for part in expected), out
    assert out.strip().splitlines()[-1].endswith("problems") or out.strip().splitlines()[-1].endswith("problem")
    folder = named.split("/")[0]
    for args in (["export", data, "--format", "parquet", "--out", tmp_path / "out.parquet"],
                 ["train", "--data", data, "--model-dir", tmp_path / "model", "--epochs", "1"],
                 ["crossval", "--data", data, "--epochs", "1"],
                 ["embed", _clip(tree), "--dataset", data, "--out", tmp_path / "e.npy"]):
        status, _, err = _run(capsys, *args)
        line = _error_line(err)
        assert status == 1 and str(data / folder) in line, (args[0], line)
    assert not any((tmp_path / name).exists() for name in ("out.parquet", "model", "e.npy"))
