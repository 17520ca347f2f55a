"""YAMNet as the library's second embedder: builds, the model folder (local, or fetched from a
local server), `embed` for new files, and `tag` with the real weights."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
import soundfile

import yamnet_model
from commands import executor
from conftest import SONG, SPEECH, copy_clips
from http_server import FileServer
from ravdess_prep.dataset.manifest import Manifest
from ravdess_prep import cli, pipeline
from ravdess_prep.dataset.bundles import read_bundles
from ravdess_prep.embedders import YAMNetEmbedder, YAMNetFiles
from ravdess_prep.embedders import yamnet as adapter
from ravdess_prep.exceptions import ModelFileError
from ravdess_prep.audio.pad import pad_center
from ravdess_prep.audio.resample import resample



@pytest.fixture(scope="module")
def tree(ravdess_dir, tmp_path_factory):
    """Actors 08 (dev), 11 (test), 12 (train): three speech and two song clips each."""
    return copy_clips(ravdess_dir, tmp_path_factory.mktemp("yamnet-tree"), (8, 11, 12), speech=3, song=2,
                      pick=slice(None, None, 5))


@pytest.fixture(scope="module")
def built(tree, yamnet_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("yamnet-build")
    config = pipeline.Config(embedder=YAMNetEmbedder(), dev_speakers=(8,), test_speakers=(11,))
    return pipeline.build(config, out=root / "out", source=tree, files=YAMNetFiles(yamnet_dir),
                          run=pipeline.Run(cache_dir=root / "cache", jobs=2, progress=False))


def test_bundle_rows_are_the_network_on_the_trimmed_padded_resampled_clip(built, tree, yamnet_dir):
    manifest = Manifest.read(built.out)
    target = manifest["target_length_samples"]
    examples = manifest["examples_per_clip"]
    assert examples == yamnet_model.num_patches(int(target / 3))
    assert manifest["embedder"]["name"] == "yamnet" and manifest["embedder"]["settings"] == {
        "pool": "none", "hop_seconds": 0.48, "batch_size": 128}
    assert manifest["embedder"]["files"]["model_dir"]["sha256"] == pipeline.model_files(
        pipeline.Config(embedder=YAMNetEmbedder()), YAMNetFiles(yamnet_dir))["model_dir"].sha256
    bundles = read_bundles(built.out)
    assert {name: bundle.embeddings.shape for name, bundle in bundles.items()} == {
        name: (5, examples, 1024) for name in ("train", "dev", "test")}
    with yamnet_model.YAMNet(yamnet_dir, batch_size=128) as network:
        for split in ("train", "test"):
            for row, name in enumerate(bundles[split].names[:3]):
                channel, actor, stem = name.split("/")
                path = tree / (SPEECH if channel == "speech" else SONG) / actor / stem.replace(".wav", ".flac")
                trimmed, _ = pipeline.trim(path)
                padded, _ = pad_center(trimmed, target_length_samples=target)
                patches = yamnet_model.waveform_to_patches(resample(padded, from_hz=48000, to_hz=16000))
                np.testing.assert_array_equal(bundles[split].embeddings[row], network.embed(patches))


def test_rebuild_and_beam_are_byte_identical(built, tree, yamnet_dir, tmp_path):
    files = {}
    for runner in ("local", "beam"):
        if runner == "beam":
            pytest.importorskip("apache_beam")
        threads = ("direct_running_mode=multi_threading",) if runner == "beam" else ()  # processes: test_beam.py
        run = pipeline.Run(cache_dir=tmp_path / runner, jobs=2, progress=False, runner=executor(runner, threads))
        config = pipeline.Config(embedder=YAMNetEmbedder(), dev_speakers=(8,), test_speakers=(11,))
        out = pipeline.build(config, out=tmp_path / runner / "out", source=tree, files=YAMNetFiles(yamnet_dir),
                             run=run).out
        files[runner] = {path.relative_to(out): path.read_bytes() for path in sorted(out.rglob("*.npy"))}
    original = {path.relative_to(built.out): path.read_bytes() for path in sorted(built.out.rglob("*.npy"))}
    assert files["local"] == original == files["beam"]


def test_pooled_build_and_embed_of_new_files(tree, yamnet_dir, built, tmp_path):
    config = pipeline.Config(embedder=YAMNetEmbedder(pool="mean-std"), dev_speakers=(8,), test_speakers=(11,))
    out = pipeline.build(config, out=tmp_path / "pooled", source=tree, files=YAMNetFiles(yamnet_dir),
                         run=pipeline.Run(cache_dir=built.out.parent / "cache", jobs=2, progress=False))
    assert out.cached == 15 and out.computed == 0  # pooling does not change a clip's cached embeddings
    pooled = read_bundles(out.out)["dev"]
    sequences = read_bundles(built.out)["dev"]
    values = sequences.embeddings.astype(np.float64)
    expected = np.concatenate([values.mean(axis=1), values.std(axis=1)], axis=1).astype(np.float32)
    np.testing.assert_array_equal(pooled.embeddings, expected)
    name = pooled.names[1]
    channel, actor, stem = name.split("/")
    path = tree / (SPEECH if channel == "speech" else SONG) / actor / stem.replace(".wav", ".flac")
    np.testing.assert_array_equal(pipeline.embed_files([path], out.out)[0], pooled.embeddings[1])
    assert cli.main(["embed", str(path), "--dataset", str(out.out), "--out", str(tmp_path / "e.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "e.npy")[0], pooled.embeddings[1])


def test_build_command_with_yamnet_and_options_of_another_model(tree, yamnet_dir, built, tmp_path, capsys):
    args = ["build", "--source", str(tree), "--out", str(tmp_path / "cli"), "--embedder", "yamnet", "--yamnet-model",
            str(yamnet_dir), "--cache-dir", str(built.out.parent / "cache"), "--dev-actors", "8", "--test-actors", "11",
            "--no-progress"]
    assert cli.main(args) == 0
    assert "clips embedded: 0, from the cache: 15" in capsys.readouterr().out
    for extra, flag in ((["--fc2-activation", "none"], "--fc2-activation"), (["--checkpoint", "x.ckpt"], "--checkpoint")):
        with pytest.raises(SystemExit) as caught:
            cli.main(args + extra)
        assert caught.value.code == 2
        assert f"{flag} is not" in capsys.readouterr().err


def _official_archive(yamnet_dir, folder):
    """A compressed SavedModel in the official layout: the inner module saved on its own."""
    import tensorflow as tf

    root = tf.saved_model.load(str(yamnet_dir))
    tf.saved_model.save(getattr(root, "layer-1").layer._func, str(folder / "model"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for path in sorted((folder / "model").rglob("*")):
            bundle.add(path, arcname=str(path.relative_to(folder / "model")), recursive=False)
    return buffer.getvalue()


def test_the_official_model_is_fetched_once_and_checked_at_every_use(yamnet_dir, tmp_path):
    archive = _official_archive(yamnet_dir, tmp_path)
    cache = tmp_path / "cache"
    with FileServer({"/google/yamnet/1": archive}) as server:
        files = YAMNetFiles(url=server.url + "/google/yamnet/1")
        found = YAMNetEmbedder().model_files(files, cache_dir=cache, progress=False)
        folder = found["model_dir"].path
        assert folder == (cache / "yamnet_1").resolve() and found.official
        assert yamnet_model.weights_prefix(folder) == ""
        record = json.loads((cache / adapter.FETCH_RECORD).read_text())
        assert record["model_sha256"] == found["model_dir"].sha256 and len(record["archive_sha256"]) == 64
        assert sorted(path.name for path in cache.iterdir()) == [adapter.FETCH_RECORD, "yamnet_1"]
        server.requests.clear()
        assert YAMNetEmbedder().model_files(files, cache_dir=cache, progress=False) == found
        assert server.requests == []  # the recorded folder: no request
    (folder / "assets" / "yamnet_class_map.csv").write_text("changed")
    with pytest.raises(ModelFileError, match="changed since it was fetched") as caught:
        YAMNetEmbedder().model_files(files, cache_dir=cache, progress=False)
    assert str(cache) in str(caught.value)


def test_a_fetched_archive_that_is_not_yamnet_is_refused(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        data = b"not a model"
        info = tarfile.TarInfo("saved_model.pb")
        info.size = len(data)
        bundle.addfile(info, io.BytesIO(data))
    with FileServer({"/yamnet": buffer.getvalue(), "/garbage": b"\x1f\x8b garbage"}) as server:
        with pytest.raises(ModelFileError, match="its variables cannot be read"):
            YAMNetEmbedder().model_files(YAMNetFiles(url=server.url + "/yamnet"), cache_dir=tmp_path / "a",
                                         progress=False)
        with pytest.raises(ModelFileError, match="not a readable compressed SavedModel"):
            YAMNetEmbedder().model_files(YAMNetFiles(url=server.url + "/garbage"), cache_dir=tmp_path / "b",
                                         progress=False)
    assert not (tmp_path / "a" / "yamnet_1").exists() and not (tmp_path / "b" / "yamnet_1").exists()


def test_a_local_folder_that_is_not_yamnet_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="no such YAMNet model folder"):
        YAMNetEmbedder().model_files(YAMNetFiles(tmp_path / "missing"))
    with pytest.raises(ModelFileError, match="not a SavedModel folder"):
        YAMNetEmbedder().model_files(YAMNetFiles(tmp_path))


def _tag(paths, yamnet_dir, capsys):
    assert cli.main(["tag", *map(str, paths), "--yamnet-model", str(yamnet_dir), "--json", "--top", "10"]) == 0
    return {entry["file"]: [item["class"] for item in entry["top"]] for entry in json.loads(capsys.readouterr().out)}


def test_tag_says_what_the_real_weights_hear(ravdess_dir, yamnet_dir, tmp_path, capsys):
    speech = ravdess_dir / SPEECH / "Actor_01" / "03-01-01-01-01-01-01.flac"
    t = np.arange(32000) / 16000
    sounds = {
        "silence.wav": np.zeros(48000),
        "noise.wav": np.random.default_rng(0).uniform(-1, 1, 48000),
        "sine440.wav": 0.999 * np.sin(2 * np.pi * 440 * t),
        "sine1k.wav": 0.5 * np.sin(2 * np.pi * 1000 * t),
    }
    for name, samples in sounds.items():
        soundfile.write(str(tmp_path / name), samples, 16000, subtype="PCM_16")
    ranked = _tag([speech] + [tmp_path / name for name in sounds], yamnet_dir, capsys)
    assert ranked[str(speech)][0] == "Speech"
    assert ranked[str(tmp_path / "silence.wav")][0] == "Silence"
    assert ranked[str(tmp_path / "noise.wav")][0] == "White noise"
    assert "Sine wave" in ranked[str(tmp_path / "sine440.wav")]
    assert ranked[str(tmp_path / "sine1k.wav")][:2] == ["Beep, bleep", "Sine wave"]
    assert cli.main(["tag", str(speech), "--yamnet-model", str(yamnet_dir)]) == 0
    table = capsys.readouterr().out
    assert "1. Speech" in table and "(6 patches of 0.96 s)" in table


def test_tag_names_a_bad_file(yamnet_dir, tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not audio")
    assert cli.main(["tag", str(bad), "--yamnet-model", str(yamnet_dir)]) == 1
    assert f"{bad}: not a readable audio file" in capsys.readouterr().err
