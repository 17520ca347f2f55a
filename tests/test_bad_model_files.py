"""Damaged, incomplete or misnamed model files and model options of the PyTorch embedders
(Whisper, Transformers' encoders), on small random models made here: each is one line naming
the file or the option and what is wrong with it, before any clip is embedded, and nothing is
written; a moved model folder can be given to ``embed`` and ``predict``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from commands import error_line as _error_line  # noqa: E402
from commands import run_command as _run  # noqa: E402
from conftest import SPEECH, write_audio  # noqa: E402
from ravdess_prep.dataset.bundles import read_bundles  # noqa: E402
from test_embedders_hf import random_model  # noqa: E402
from whisper_models import random_whisper  # noqa: E402


@pytest.fixture(scope="module")
def tree(encoder_tree):
    return encoder_tree


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("model-files-models")
    return {"whisper": random_whisper(root / "whisper"), "hf": random_model(root / "hubert", "hubert")}


def _build_args(tree, tmp_path, embedder: str, model, *extra):
    return ["build", "--source", tree, "--out", tmp_path / "out", "--cache-dir", tmp_path / "cache", "--embedder",
            embedder, f"--{embedder}-model", model, "--dev-actors", "8", "--test-actors", "11", "--no-progress",
            *extra]


def _copy(models, tmp_path, kind: str, edit) -> Path:
    folder = tmp_path / f"edited-{kind}"
    shutil.copytree(models[kind], folder)
    edit(folder)
    return folder


def _json_edit(name, change):
    def edit(folder):
        values = json.loads((folder / name).read_text())
        (folder / name).write_text(json.dumps(change(values)))
    return edit


def _bytes_edit(name, change):
    def edit(folder):
        (folder / name).write_bytes(change((folder / name).read_bytes()))
    return edit


def _damaged_header(data: bytes) -> bytes:
    return data[:8] + b"{" + b"x" * 20 + data[29:]  # the header's JSON broken, the length kept


@pytest.mark.parametrize("kind, edit, named, message", [
    ("whisper", _json_edit("config.json", lambda c: {**c, "encoder_attention_heads": 3}), "config.json",
     "d_model 64 is not a multiple of encoder_attention_heads 3"),
    ("whisper", _json_edit("config.json", lambda c: {**c, "encoder_layers": -1}), "config.json",
     "the encoder's layers is -1"),
    ("whisper", _bytes_edit("model.safetensors", lambda data: data[: len(data) // 2]), "model.safetensors",
     "not a safetensors file, or a damaged one"),
    ("hf", _bytes_edit("model.safetensors", lambda data: data[: len(data) // 2]), "model.safetensors",
     "not a safetensors file, or a damaged one"),
    ("hf", _bytes_edit("model.safetensors", _damaged_header), "model.safetensors",
     "not a safetensors file, or a damaged one"),
    ("hf", _json_edit("preprocessor_config.json", lambda c: [c]), "preprocessor_config.json",
     "has to be a JSON object of the feature extractor's settings, not list"),
    ("hf", _json_edit("preprocessor_config.json", lambda c: {**c, "sampling_rate": 8000}), "preprocessor_config.json",
     "sampling_rate is 8000, not 16000"),
    ("hf", _json_edit("preprocessor_config.json", lambda c: {**c, "feature_extractor_type": "WhisperFeatureExtractor"}),
     "preprocessor_config.json", "feature_extractor_type is 'WhisperFeatureExtractor', not 'Wav2Vec2FeatureExtractor'"),
    ("hf", _bytes_edit("preprocessor_config.json", lambda data: data[:10]), "preprocessor_config.json",
     "not a readable feature extractor config"),
    ("hf", lambda folder: (folder / "model.safetensors").unlink(), "",
     "no weights: none of model.safetensors, model.safetensors.index.json, pytorch_model.bin"),
    ("hf", lambda folder: (folder / "model.safetensors").rename(folder / "pytorch_model.bin"), "",
     "the model cannot be loaded"),
])
def test_a_damaged_model_folder_is_named_before_any_clip(kind, edit, named, message, models, tree, tmp_path, capsys):
    folder = _copy(models, tmp_path, kind, edit)
    status, out, err = _run(capsys, *_build_args(tree, tmp_path, kind, folder))
    line = _error_line(err)
    assert status == 1 and f"{folder / named}: " in line and message in line, line
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache" / "clips").exists()


def test_model_options_that_name_nothing_usable_are_named(models, tree, tmp_path, capsys):
    for kind in ("whisper", "hf"):
        for value in ("", " "):
            status, _, err = _run(capsys, *_build_args(tree, tmp_path, kind, value))
            assert status == 2 and f"--{kind}-model is empty: name a" in _error_line(err)
        config = models[kind] / "config.json"
        status, _, err = _run(capsys, *_build_args(tree, tmp_path, kind, config))
        assert status == 1 and f"{config}: a file, not a" in _error_line(err) and "folder" in _error_line(err)
    assert not (tmp_path / "out").exists()


def test_a_too_long_clip_names_the_options_that_handle_it(models, tree, tmp_path, capsys):
    # hf: the limit and the windows, as flags
    status, _, err = _run(capsys, *_build_args(tree, tmp_path, "hf", models["hf"], "--hf-max-seconds", "1"))
    line = _error_line(err)
    assert status == 1 and "s is longer than --hf-max-seconds 1.0 (run it in windows with --hf-window" in line, line
    # whisper: a clip over 30 s, and the options that cut it
    long_tree = tmp_path / "long-tree"
    shutil.copytree(tree, long_tree)
    clip = sorted((long_tree / SPEECH / "Actor_12").glob("*.flac"))[0]
    clip.unlink()
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, 31 * 48000)
    write_audio(clip, noise)
    status, _, err = _run(capsys, *_build_args(long_tree, tmp_path, "whisper", models["whisper"]))
    line = _error_line(err)
    assert status == 1 and f"Actor_12/{clip.stem}.wav: " in line and "longer than Whisper's 30 s" in line, line
    assert "--target-length" in line and "--on-too-long crop" in line
    status, _, err = _run(capsys, *_build_args(long_tree, tmp_path, "whisper", models["whisper"], "--target-length",
                                               str(30 * 48000), "--on-too-long", "crop"))
    assert status == 0, err


@pytest.mark.parametrize("kind", ["whisper", "hf"])
def test_embed_and_predict_take_a_moved_model_folder(kind, models, tree, tmp_path, capsys):
    original = tmp_path / "model"
    shutil.copytree(models[kind], original)
    assert _run(capsys, *_build_args(tree, tmp_path, kind, original))[0] == 0
    assert _run(capsys, "train", "--data", tmp_path / "out", "--model-dir", tmp_path / "trained", "--head", "linear",
                "--epochs", "1")[0] == 0
    moved = tmp_path / "moved"
    original.rename(moved)
    test = read_bundles(tmp_path / "out")["test"]
    clip = tree / test.names[0].replace("speech", SPEECH).replace("song", "Audio_Song_Actors_01-24").replace(
        ".wav", ".flac")
    status, _, err = _run(capsys, "embed", clip, "--dataset", tmp_path / "out", "--out", tmp_path / "lost.npy")
    line = _error_line(err)
    assert status == 1 and f"{original}/config.json: the dataset's config.json cannot be read" in line
    assert line.endswith(f"if it moved, give its new place: --{kind}-model")
    status, _, err = _run(capsys, "embed", clip, "--dataset", tmp_path / "out", "--out", tmp_path / "e.npy",
                          f"--{kind}-model", moved, "--no-progress")
    assert status == 0, err
    np.testing.assert_array_equal(np.load(tmp_path / "e.npy")[0], test.embeddings[0])
    status, out, err = _run(capsys, "predict", clip, "--dataset", tmp_path / "out", "--model-dir",
                            tmp_path / "trained", f"--{kind}-model", moved, "--json")
    assert status == 0 and json.loads(out)[0]["file"] == str(clip), err
    other = "hf" if kind == "whisper" else "whisper"
    status, _, err = _run(capsys, "embed", clip, "--dataset", tmp_path / "out", "--out", tmp_path / "x.npy",
                          f"--{other}-model", moved)
    assert status == 2 and f"--{other}-model is not a setting of the dataset's embedder ({kind})" in err
    assert not (tmp_path / "lost.npy").exists() and not (tmp_path / "x.npy").exists()


def test_no_progress_silences_the_libraries_bars(models, tree, tmp_path, capsys):
    status, _, err = _run(capsys, *_build_args(tree, tmp_path, "hf", models["hf"]))
    assert status == 0 and "Loading weights" not in err and "%|" not in err, err
    pytest.importorskip("datasets")
    status, _, err = _run(capsys, "export", tmp_path / "out", "--format", "hf", "--out", tmp_path / "hf",
                          "--no-progress")
    assert status == 0 and "Saving the dataset" not in err and "%|" not in err, err
    import datasets

    exported = datasets.load_from_disk(str(tmp_path / "hf"))
    facts = json.loads(exported["train"].info.description)
    assert facts["layers"] == "0,1,2" and facts["axes"] == "layers,dim"
    assert datasets.is_progress_bar_enabled()  # put back after the command


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["config"]["embedder"].update(pool="mean-std"), "edited since it was written"),
    (lambda m: m["config"]["embedder"].update(input="30s"), "edited since it was written"),
    (lambda m: m["config"]["embedder"].update(layers=[1]) or m.pop("manifest_sha256"),
     "the bundles hold layers [0, 1, 2], but the config's whisper settings give [1]"),
])
def test_from_manifest_refuses_an_edited_whisper_manifest(edit, message, models, tree, tmp_path, capsys):
    assert _run(capsys, *_build_args(tree, tmp_path, "whisper", models["whisper"]))[0] == 0
    manifest = tmp_path / "out" / "manifest.json"
    values = json.loads(manifest.read_text())
    edit(values)
    manifest.write_text(json.dumps(values))
    status, _, err = _run(capsys, "build", "--from-manifest", manifest, "--source", tree, "--out", tmp_path / "again",
                          "--no-progress")
    line = _error_line(err)
    assert status in (1, 2) and f"{manifest}: {message}" in line, line
    assert not (tmp_path / "again").exists()
