"""The whisper embedder: bundles of real clips equal Transformers' own Whisper on the trimmed,
resampled clip (pooled per layer), in every mode; rebuilt, on Beam, embedded again and predicted
as the dataset was; weights from a folder or fetched from a Hub (a local server here)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import ravdess_prep  # noqa: E402
import whisper_encoder  # noqa: E402
from conftest import SONG, SPEECH, copy_clips  # noqa: E402
from http_server import FileServer  # noqa: E402
from ravdess_prep import predict  # noqa: E402
from ravdess_prep.evaluation import classifier, fitting, model_folder  # noqa: E402
from ravdess_prep import cli, pipeline  # noqa: E402
from ravdess_prep.dataset.bundles import read_bundles  # noqa: E402
from ravdess_prep.embedders import WhisperEmbedder, WhisperFiles  # noqa: E402
from ravdess_prep.exceptions import (AudioError, ManifestError, ModelFileError, ModelOutputError,  # noqa: E402
                                     ParameterError)
from ravdess_prep.dataset.manifest import Manifest  # noqa: E402
from ravdess_prep.audio.resample import resample  # noqa: E402
from whisper_models import random_whisper, reference_states  # noqa: E402


@pytest.fixture(scope="module")
def tree(ravdess_dir, tmp_path_factory):
    """Actors 08 (dev), 11 (test), 12 (train): two speech clips and one song each, all neutral (a
    head needs two training clips of every class the data holds)."""
    return copy_clips(ravdess_dir, tmp_path_factory.mktemp("whisper-tree"), (8, 11, 12), speech=2, song=1,
                      pick=slice(1, None, 1))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return random_whisper(tmp_path_factory.mktemp("whisper-model") / "tiny", seed=1)


def _config(**settings):
    return pipeline.Config(embedder=WhisperEmbedder(**settings), dev_speakers=(8,), test_speakers=(11,))


def _build(tree, model, out, cache, **settings):
    return pipeline.build(_config(**settings), out=out, source=tree, files=WhisperFiles(model),
                          run=pipeline.Run(cache_dir=cache, jobs=2, progress=False))


@pytest.fixture(scope="module")
def built(tree, model, tmp_path_factory):
    root = tmp_path_factory.mktemp("whisper-build")
    return _build(tree, model, root / "out", root / "cache")


def _path(tree, name):
    channel, actor, stem = name.split("/")
    return tree / (SPEECH if channel == "speech" else SONG) / actor / stem.replace(".wav", ".flac")


def _reference(model, tree, name, *, input="clip", pool="mean", target=None):
    """Transformers' Whisper on the trimmed clip resampled to 16 kHz (centre-padded to the
    target first for pool none), pooled per layer over the clip's frames in float64."""
    trimmed, _ = pipeline.trim(_path(tree, name))
    if target is not None:
        trimmed = pipeline.pad(trimmed, target)
    signal = resample(trimmed, from_hz=48000, to_hz=16000)
    extractor = transformers.WhisperFeatureExtractor.from_pretrained(model)
    features = extractor(signal, sampling_rate=16000, return_tensors="np",
                         **({} if input == "30s" else {"padding": "longest"})).input_features[0]
    frames = whisper_encoder.encoder_frames(signal.size // 160)
    states = np.stack([state[:frames] for state in reference_states(model, features, cut=input == "clip")])
    values = states.astype(np.float64)
    if pool == "none":
        return states
    parts = [values.mean(axis=1)] + ([values.std(axis=1)] if pool == "mean-std" else [])
    return np.concatenate(parts, axis=-1)



def test_the_embedding_object_without_a_model_names_its_keyword():
    with pytest.raises(ParameterError, match=r"^the whisper embedder needs a model: whisper_model DIR or a Hub id"):
        ravdess_prep.embedder("whisper")


def test_a_file_too_short_to_resample_is_named(model, tmp_path):
    """One sample at 48 kHz is less than one at Whisper's 16 kHz (resampy's own error escaped)."""
    short = tmp_path / "one-sample.wav"
    soundfile.write(short, np.full(1, 0.5), 48000)
    with ravdess_prep.embedder("whisper", whisper_model=model) as embedding:
        with pytest.raises(AudioError, match=rf"^{short}: 1 sample at 48000 Hz is too few to resample to 16000 Hz"):
            embedding.process_file(short)

def test_bundle_rows_are_transformers_whisper_pooled_per_layer(built, tree, model):
    manifest = Manifest.read(built.out)
    assert manifest.output["kind"] == "layers" and manifest.output["axes"] == ["clips", "layers", "dim"]
    assert manifest.output["row_shape"] == [3, 64] and manifest.output["layers"] == [0, 1, 2]
    assert "the last: after the final LayerNorm" in manifest.output["layer_meaning"]
    # batch_size auto: 8 clips (1 GiB of activations allows more; 8 is the most on a CPU)
    assert manifest.embedder["settings"] == {"pool": "mean", "input": "clip", "layers": None, "batch_size": 8,
                                             "precision": "fp32"}
    assert manifest.embedder["resolved_from"] == {"batch_size": "auto"}
    assert sorted(manifest.embedder["files"]) == ["config.json", "model.safetensors"]
    bundles = read_bundles(built.out)
    assert bundles["train"].axes == ("layers", "dim") and bundles["train"].layer_numbers == (0, 1, 2)
    for split in ("train", "test"):
        for row, name in enumerate(bundles[split].names):
            expected = _reference(model, tree, name)
            np.testing.assert_allclose(bundles[split].embeddings[row], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("settings", [{"pool": "mean-std"}, {"input": "30s", "layers": (0, 2)}, {"pool": "none"}])
def test_every_mode_is_transformers_whisper(settings, built, tree, model, tmp_path):
    result = _build(tree, model, tmp_path / "out", built.out.parent / "cache", **settings)
    dev = read_bundles(result.out)["dev"]
    target = Manifest.read(result.out).target.length_samples
    expected = _reference(model, tree, dev.names[0], input=settings.get("input", "clip"),
                          pool=settings.get("pool", "mean"), target=target if settings.get("pool") == "none" else None)
    expected = expected[list(settings["layers"])] if "layers" in settings else expected
    assert dev.embeddings.shape[1:] == expected.shape
    np.testing.assert_allclose(dev.embeddings[0], expected, rtol=1e-5, atol=1e-4)
    if settings.get("pool") == "none":
        assert dev.axes == ("layers", "examples", "dim")
        assert dev.embeddings.shape[2] == Manifest.read(result.out).examples_per_clip


def test_rebuild_cache_and_beam_give_the_same_bytes(built, tree, model, tmp_path):
    pytest.importorskip("apache_beam")
    original = {path.relative_to(built.out): path.read_bytes() for path in sorted(built.out.rglob("*.npy"))}
    again = _build(tree, model, tmp_path / "again", built.out.parent / "cache")
    assert again.computed == 0 and again.cached == 9
    run = pipeline.Run(cache_dir=tmp_path / "beam-cache", progress=False, runner=pipeline.BeamExecutor(
        beam_options=("direct_running_mode=multi_threading", "direct_num_workers=2")))
    on_beam = pipeline.build(_config(), out=tmp_path / "beam", source=tree, files=WhisperFiles(model), run=run)
    for result in (again, on_beam):
        assert {path.relative_to(result.out): path.read_bytes() for path in sorted(result.out.rglob("*.npy"))} == original


def test_bf16_rows_are_the_fp32_rows_to_rounding_and_rebuild_to_the_same_bytes(built, tree, model, tmp_path):
    """``--precision bf16``: its own cache entries (none of fp32's reused), float32 rows within
    bfloat16 rounding of fp32's, recorded in the manifest, and rebuilt byte for byte."""
    half = _build(tree, model, tmp_path / "bf16", built.out.parent / "cache", precision="bf16")
    assert half.computed == 9 and half.cached == 0
    manifest = Manifest.read(half.out)
    assert manifest.config.embedder.precision == "bf16" and manifest.embedder["settings"]["precision"] == "bf16"
    for split, bundle in read_bundles(half.out).items():
        full = read_bundles(built.out)[split].embeddings.astype(np.float64)
        found = bundle.embeddings.astype(np.float64)
        assert bundle.embeddings.dtype == np.float32 and not np.array_equal(found, full)
        cosine = (found * full).sum(-1) / np.linalg.norm(found, axis=-1) / np.linalg.norm(full, axis=-1)
        assert cosine.min() >= 0.999, (split, cosine.min())
    again = pipeline.rebuild(half.out, out=tmp_path / "again", source=tree,
                             run=pipeline.Run(cache_dir=tmp_path / "empty-cache", progress=False))
    assert again.computed == 9
    assert {path.relative_to(again.out): path.read_bytes() for path in sorted(again.out.rglob("*.npy"))} == {
        path.relative_to(half.out): path.read_bytes() for path in sorted(half.out.rglob("*.npy"))}
    values = json.loads((half.out / "manifest.json").read_text())
    values["config"]["embedder"]["precision"] = "fp8"
    (half.out / "manifest.json").write_text(json.dumps(values))
    with pytest.raises(ManifestError, match=rf"{half.out / 'manifest.json'}: .*precision.* one of 'fp32', 'bf16', "
                                            "not 'fp8'"):
        Manifest.read(half.out)


def test_a_model_of_128_mel_bins_gets_128_from_the_front_end(tree, tmp_path):
    """The large-v3 layout: the front-end follows the config's num_mel_bins."""
    wide = random_whisper(tmp_path / "wide", seed=2, mel_bins=128)
    result = _build(tree, wide, tmp_path / "out", tmp_path / "cache")
    dev = read_bundles(result.out)["dev"]
    np.testing.assert_allclose(dev.embeddings[0], _reference(wide, tree, dev.names[0]), rtol=1e-5, atol=1e-5)


def test_the_fast_path_gives_the_same_bytes(built, tree, model, tmp_path):
    """``fast`` resamples 48 to 16 kHz with the exact decimation, resampy's filter bit for bit."""
    slow = pipeline.build(_config(), out=tmp_path / "slow", source=tree, files=WhisperFiles(model),
                          run=pipeline.Run(cache_dir=tmp_path / "cache", jobs=2, progress=False, fast=False))
    for split in ("train", "dev", "test"):
        name = f"{split}/{split}_embeddings.npy"
        assert (slow.out / name).read_bytes() == (built.out / name).read_bytes(), split


def test_batched_clips_equal_clips_alone(built, tree, model, tmp_path):
    """The default batch (auto: 8, clips of one padded length together) against each clip alone
    on its own frames: cosine at least 0.99999 for every clip and layer."""
    alone = _build(tree, model, tmp_path / "out", tmp_path / "cache", batch_size=1)
    for split, bundle in read_bundles(built.out).items():
        batched = bundle.embeddings.astype(np.float64)
        single = read_bundles(alone.out)[split].embeddings.astype(np.float64)
        np.testing.assert_allclose(batched, single, rtol=1e-4, atol=1e-4)
        cosine = (batched * single).sum(-1) / np.linalg.norm(batched, axis=-1) / np.linalg.norm(single, axis=-1)
        assert cosine.shape == (len(bundle), 3) and cosine.min() >= 0.99999, split


def test_a_speaker_normalised_model_predicts_with_an_enrolment(built, tree, tmp_path, capsys, monkeypatch):
    """The model is given the files standardised with the enrolment's statistics alone (or,
    without one, with the files' own), computed here from the rows embed_files gives."""
    bundles = read_bundles(built.out)
    files = [str(_path(tree, name)) for name in bundles["test"].names]  # actor 11
    enrol = [str(_path(tree, name)) for name in bundles["dev"].names]  # actor 08: the statistics are what is tested
    model_dir = tmp_path / "norm"
    classifier.train(built.out, model_dir, classifier.TrainConfig(head="lda", speaker_norm=True, layers=(1, 2),
                                                                  shrinkage=0.5))
    given = []
    scored = predict.predict_probabilities
    monkeypatch.setattr(predict, "predict_probabilities",
                        lambda model, embeddings, **kw: given.append(embeddings) or scored(model, embeddings, **kw))
    positions = [list(bundles["test"].layer_numbers).index(number) for number in (1, 2)]
    rows = np.stack(pipeline.embed_files(files + enrol, built.out)).astype(np.float64)[:, positions]

    def standardised(values, reference):
        scale = reference.std(axis=0)
        return ((values - reference.mean(axis=0)) / np.where(scale > 0, scale, 1)).reshape(len(values), -1)

    predict.predict_files(files[:1], dataset=built.out, model_dir=model_dir, enrol=enrol)
    np.testing.assert_allclose(given[-1], standardised(rows[:1], rows[3:]), rtol=1e-4, atol=1e-4)
    predict.predict_files(files, dataset=built.out, model_dir=model_dir)
    np.testing.assert_allclose(given[-1], standardised(rows[:3], rows[:3]), rtol=1e-4, atol=1e-4)
    assert not np.allclose(given[-1][:1], given[-2], atol=1e-2)
    # the command says which statistics it took
    assert cli.main(["predict", *files, "--dataset", str(built.out), "--model-dir", str(model_dir), "--json"]) == 0
    assert "the 3 files given are taken as clips of one speaker and standardised with each other" in \
        capsys.readouterr().err
    folder = tree / SPEECH / "Actor_08"  # an enrolment folder: its two speech clips
    assert cli.main(["predict", files[0], "--dataset", str(built.out), "--model-dir", str(model_dir), "--enrol",
                     str(folder), "--json"]) == 0
    captured = capsys.readouterr()
    assert "the statistics of the 2 enrolment recordings given, none of them predicted (the model was trained " \
           "in mode all)" in captured.err and len(json.loads(captured.out)) == 1
    plain = tmp_path / "plain"
    classifier.train(built.out, plain, classifier.TrainConfig(head="lda", layers=(1, 2), shrinkage=0.5))
    with pytest.raises(ParameterError, match="trained without speaker normalisation; an enrolment"):
        predict.predict_files(files, dataset=built.out, model_dir=plain, enrol=enrol)
    with pytest.raises(ParameterError, match="give an enrolment of the speaker"):
        predict.predict_files(files[:1], dataset=built.out, model_dir=model_dir)
    with pytest.raises(ParameterError, match="at least two recordings"):
        predict.predict_files(files, dataset=built.out, model_dir=model_dir, enrol=enrol[:1])


def test_new_files_embedded_and_predicted_as_the_dataset(built, tree, tmp_path, capsys):
    test = read_bundles(built.out)["test"]
    again = pipeline.embed_files([_path(tree, test.names[1])], built.out)
    np.testing.assert_array_equal(again[0], test.embeddings[1])
    trained = classifier.train(built.out, tmp_path / "model", classifier.TrainConfig(head="linear", epochs=5))
    assert set(trained.metrics["layer_weights"]) == {"0", "1", "2"}
    assert abs(sum(trained.metrics["layer_weights"].values()) - 1) < 1e-5
    assert (tmp_path / "model" / "layer_weights.png").is_file()
    files = [str(_path(tree, name)) for name in test.names]
    assert cli.main(["predict", *files, "--dataset", str(built.out), "--model-dir", str(tmp_path / "model"),
                     "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3
    one = classifier.train(built.out, tmp_path / "layer", classifier.TrainConfig(head="linear", epochs=5, layer=2))
    assert one.metrics["axes"] == ["dim"] and "layer_weights" not in one.metrics
    # the lda head: its layers and shrinkage chosen on dev; predict takes its layers
    chosen = classifier.train(built.out, tmp_path / "lda", classifier.TrainConfig(head="lda"))
    assert chosen.metrics["config"]["head"] == "lda" and chosen.metrics["choices"]["chosen_on"] == "dev"
    assert chosen.metrics["config"]["layers"] == chosen.metrics["choices"]["chosen"]["layers"]
    assert cli.main(["predict", *files, "--dataset", str(built.out), "--model-dir", str(tmp_path / "lda"),
                     "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    probabilities, _ = predict.predict_files(files, dataset=built.out, model_dir=tmp_path / "lda")
    assert [row["emotion"] for row in report] == [chosen.metrics["class_names"][index]
                                                  for index in probabilities.argmax(axis=1)]
    probabilities, _ = predict.predict_files(files[:1], dataset=built.out, model_dir=tmp_path / "layer")
    assert probabilities.shape == (1, 8)


def test_a_damaged_or_moved_model_file_is_named(built, model, tree, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(model, moved)
    clip = _path(tree, read_bundles(built.out)["dev"].names[0])
    with pytest.raises(ModelFileError, match="nowhere/config.json: the dataset's config.json cannot be read"):
        pipeline.embed_files([clip], built.out, files=WhisperFiles(tmp_path / "nowhere"))
    np.testing.assert_array_equal(pipeline.embed_files([clip], built.out, files=WhisperFiles(moved)),
                                  pipeline.embed_files([clip], built.out))
    weights = moved / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(ModelFileError, match=f"{weights}: the dataset's model.safetensors has SHA-256"):
        pipeline.embed_files([clip], built.out, files=WhisperFiles(moved))
    with pytest.raises(ModelFileError, match="no such Whisper model folder"):
        pipeline.model_files(_config(), WhisperFiles(tmp_path / "nowhere"))
    with pytest.raises(ParameterError, match="hidden states 0 to 2, not 5"):
        _build(tree, model, tmp_path / "never", tmp_path / "cache", layers=(0, 5))
    # finite weights whose output is not: the first clip is named, nothing is written
    from safetensors.torch import load_file, save_file

    overflowing = tmp_path / "overflowing"
    shutil.copytree(model, overflowing)
    tensors = load_file(model / "model.safetensors")
    tensors["encoder.layers.0.fc2.weight"][:, :] = 1.6e29
    save_file(tensors, overflowing / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelOutputError, match=r"(speech|song)/Actor_\d\d/.*\.wav: the whisper model gave \d+ "
                                               r"non-finite values \(NaN or infinity\)"):
        _build(tree, overflowing, tmp_path / "nan", tmp_path / "cache")
    assert not (tmp_path / "nan").exists()


def test_a_hub_model_is_fetched_once_and_verified(model, tree, tmp_path):
    import hashlib

    files = {}
    listing = []
    for path in sorted(model.iterdir()):
        data = path.read_bytes()
        files[f"/org/tiny/resolve/main/{path.name}"] = data
        entry = {"type": "file", "path": path.name, "size": len(data),
                 "oid": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}
        if path.suffix == ".safetensors":
            entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data)}
        listing.append(entry)
    files["/api/models/org/tiny/tree/main"] = json.dumps(listing).encode()
    with FileServer(files) as server:
        hub = WhisperFiles("org/tiny", endpoint=server.url)
        run = pipeline.Run(cache_dir=tmp_path / "cache", progress=False)
        first = pipeline.build(_config(), out=tmp_path / "first", source=tree, files=hub, run=run)
        fetched = len(server.requests)
        again = pipeline.build(_config(), out=tmp_path / "again", source=tree, files=hub, run=run)
        assert len(server.requests) == fetched and again.cached == 9  # no request the second time
        assert sorted(first.manifest.embedder["files"]) == ["config.json", "model.safetensors"]
        folder = tmp_path / "cache" / "whisper" / "org--tiny" / "main"
        (folder / "config.json").write_text((folder / "config.json").read_text() + " ")
        with pytest.raises(ModelFileError, match="changed since .* delete"):
            pipeline.build(_config(), out=tmp_path / "third", source=tree, files=hub, run=run)


def test_the_build_command_takes_the_whisper_options(built, tree, model, tmp_path, capsys):
    args = ["build", "--source", str(tree), "--out", str(tmp_path / "cli"), "--embedder", "whisper", "--whisper-model",
            str(model), "--layers", "1,2", "--pool", "mean-std", "--whisper-input", "30s", "--dev-actors", "8",
            "--test-actors", "11", "--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    assert cli.main(args) == 0
    assert "(clips, layers, dim) = (2, 128)" in capsys.readouterr().out
    manifest = Manifest.read(tmp_path / "cli")
    assert manifest.config.embedder == WhisperEmbedder(pool="mean-std", input="30s", layers=(1, 2), batch_size=8)
    with pytest.raises(SystemExit):
        cli.main(args + ["--hop", "0.5"])
    assert "--hop is not a setting of the whisper embedder" in capsys.readouterr().err


def test_the_sequence_head_takes_the_mean_over_each_clips_own_frames(built, tree, model, tmp_path):
    """``--pool none`` keeps the frames of the centre-padded clip; the bundles know which are the
    clip's own, and the sequence head (Linear, ReLU, mean over those frames, Linear) averages
    only them."""
    result = _build(tree, model, tmp_path / "out", built.out.parent / "cache", pool="none")
    bundles = read_bundles(result.out)
    target = Manifest.read(result.out).target.length_samples
    for bundle in bundles.values():
        for name, (first, end) in zip(bundle.names, bundle.frames):
            trimmed, _ = pipeline.trim(_path(tree, name))
            left = -(-(target - trimmed.size) // 2)  # the padding in front, at 48 kHz
            own = whisper_encoder.encoder_frames(resample(trimmed, from_hz=48000, to_hz=16000).size // 160)
            assert abs((end - first) - own) <= 1, name
            assert abs(first - whisper_encoder.encoder_frames(left // 3 // 160)) <= 1, name
            assert 0 <= first < end <= bundle.embeddings.shape[2]
    trained = classifier.train(result.out, tmp_path / "model", classifier.TrainConfig(head="sequence", epochs=3,
                                                                                       hidden_units=16))
    assert trained.metrics["config"]["head"] == "sequence" and set(trained.metrics["splits"]) == {"train", "dev", "test"}
    keras_model = model_folder.load_model(tmp_path / "model")
    test = bundles["test"]
    logits = keras_model.predict(test.embeddings, verbose=0)  # the model masks what its input has zeroed: not these
    layer_logits = keras_model.get_layer("layer_weights").get_weights()[0]
    weights = np.exp(layer_logits) / np.exp(layer_logits).sum()
    hidden_kernel, hidden_bias = keras_model.get_layer("hidden").get_weights()
    out_kernel, out_bias = keras_model.get_layer("logits").get_weights()
    for row, (first, end) in enumerate(test.frames):
        frames = np.tensordot(weights, test.embeddings[row], axes=1)[first:end].astype(np.float64)
        expected = np.maximum(frames @ hidden_kernel + hidden_bias, 0).mean(axis=0) @ out_kernel + out_bias
        padded = fitting.model_inputs(test, classifier.TrainConfig(head="sequence")).embeddings[row:row + 1]
        np.testing.assert_allclose(keras_model.predict(padded, verbose=0)[0], expected, rtol=1e-4, atol=1e-4)
    masked = keras_model.predict(fitting.model_inputs(test, classifier.TrainConfig(head="sequence")).embeddings,
                                 verbose=0)
    assert not np.allclose(logits, masked, atol=1e-6)
    files = [str(_path(tree, name)) for name in test.names]  # new files get the frames of the dataset's clips
    probabilities, _ = predict.predict_files(files, dataset=result.out, model_dir=tmp_path / "model")
    np.testing.assert_allclose(probabilities, np.exp(masked) / np.exp(masked).sum(axis=1, keepdims=True), rtol=1e-4,
                               atol=1e-5)


def test_a_build_of_fewer_clips_takes_every_one_from_the_cache(tree, model, tmp_path):
    """Whisper does not pad: a clip's row does not depend on the measured target, so a build of
    fewer clips (another, shorter target) takes every one from the cache, rows unchanged."""
    cache = tmp_path / "cache"
    full = _build(tree, model, tmp_path / "full", cache)
    subset = tree.parent / f"{tree.name}-speech"
    if not subset.exists():
        shutil.copytree(tree / SPEECH, subset / SPEECH)
    speech = _build(subset, model, tmp_path / "speech", cache)
    assert speech.manifest.target.length_samples < full.manifest.target.length_samples
    assert speech.computed == 0 and speech.cached == 6
    for split, bundle in read_bundles(speech.out).items():
        rows = dict(zip(read_bundles(full.out)[split].names, read_bundles(full.out)[split].embeddings))
        for name, row in zip(bundle.names, bundle.embeddings):
            np.testing.assert_array_equal(row, rows[name])
