"""Self-supervised speech encoders of Transformers (wav2vec 2.0, HuBERT, WavLM, data2vec-audio):
small random models made here from configs, built into bundles from real clips; every row
equals Transformers' own forward pass on that clip alone, pooled per layer; batches, windows,
rebuilds, Beam, new files and damaged files."""

from __future__ import annotations

import json
import sys
import subprocess

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from commands import executor  # noqa: E402
from conftest import SONG, SPEECH  # noqa: E402
from ravdess_prep.evaluation import classifier  # noqa: E402
from ravdess_prep import cli, pipeline  # noqa: E402
from ravdess_prep.dataset.bundles import read_bundles  # noqa: E402
from ravdess_prep.embedders import HFEmbedder, HFFiles  # noqa: E402
from ravdess_prep.embedders.hf import windows  # noqa: E402
from ravdess_prep.exceptions import ClipTooLongError, ModelFileError, ParameterError  # noqa: E402
from ravdess_prep.dataset.manifest import Manifest  # noqa: E402
from ravdess_prep.audio.resample import resample  # noqa: E402
from whisper_models import random_whisper  # noqa: E402

#: Model types with their normalisation and mask, as the published base models have them.
KINDS = {
    "wav2vec2": ("Wav2Vec2Config", "Wav2Vec2Model", {"feat_extract_norm": "group"}, False),
    "hubert": ("HubertConfig", "HubertModel", {"feat_extract_norm": "group"}, False),
    "wavlm": ("WavLMConfig", "WavLMModel", {"feat_extract_norm": "layer"}, True),
    "data2vec-audio": ("Data2VecAudioConfig", "Data2VecAudioModel", {}, True),
}
#: As WavLM base-plus: group-normalised, yet its feature extractor returns a mask.
KINDS["wavlm-group"] = ("WavLMConfig", "WavLMModel", {"feat_extract_norm": "group"}, True)
TYPES = ["data2vec-audio", "hubert", "wav2vec2", "wavlm"]


def random_model(folder, kind: str, seed: int = 0):
    """A model of ``kind`` with random weights: two blocks 32 wide, the standard feature encoder."""
    config_name, model_name, extra, masked = KINDS[kind]
    torch.manual_seed(seed)
    config = getattr(transformers, config_name)(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                                intermediate_size=64, conv_dim=(16,) * 7, num_conv_pos_embeddings=16,
                                                num_conv_pos_embedding_groups=2, **extra)
    getattr(transformers, model_name)(config).eval().save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=masked).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tree(encoder_tree):
    return encoder_tree


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf-models")
    return {kind: random_model(root / kind, kind, seed=index) for index, kind in enumerate(KINDS)}


def _config(**settings):
    return pipeline.Config(embedder=HFEmbedder(**settings), dev_speakers=(8,), test_speakers=(11,))


def _build(tree, model, out, cache, runner="local", **settings):
    options = ("direct_running_mode=multi_threading", "direct_num_workers=2") if runner == "beam" else ()
    return pipeline.build(_config(**settings), out=out, source=tree, files=HFFiles(model),
                          run=pipeline.Run(cache_dir=cache, jobs=2, progress=False, runner=executor(runner, options)))


def _path(tree, name):
    channel, actor, stem = name.split("/")
    return tree / (SPEECH if channel == "speech" else SONG) / actor / stem.replace(".wav", ".flac")


def _reference(model, tree, name, *, window=None):
    """Transformers on the trimmed clip at 16 kHz alone (each window alone), every hidden state
    averaged over the clip's frames in float64."""
    trimmed, _ = pipeline.trim(_path(tree, name))
    signal = resample(trimmed, from_hz=48000, to_hz=16000).astype(np.float32)
    extractor = transformers.AutoFeatureExtractor.from_pretrained(model)
    network = transformers.AutoModel.from_pretrained(model).eval()
    states = []
    for piece in windows(signal, None if window is None else int(window * 16000)):
        inputs = extractor(piece, sampling_rate=16000, return_tensors="pt")
        with torch.no_grad():
            hidden = network(**inputs, output_hidden_states=True).hidden_states
        states.append(np.stack([state[0].numpy() for state in hidden]))
    return np.concatenate(states, axis=1).astype(np.float64).mean(axis=1)


@pytest.mark.parametrize("kind", TYPES)
def test_bundle_rows_are_the_models_forward_pass_on_the_clip_alone(kind, models, tree, tmp_path):
    built = _build(tree, models[kind], tmp_path / "out", tmp_path / "cache")
    manifest = Manifest.read(built.out)
    assert manifest.output["kind"] == "layers" and manifest.output["row_shape"] == [3, 32]
    assert manifest.output["model"]["model_type"] == kind
    assert sorted(manifest.embedder["files"]) == ["config.json", "model.safetensors", "preprocessor_config.json"]
    for split, bundle in read_bundles(built.out).items():
        for row, name in enumerate(bundle.names):
            np.testing.assert_allclose(bundle.embeddings[row], _reference(models[kind], tree, name), rtol=1e-5,
                                       atol=1e-5)


@pytest.mark.parametrize("kind", ["wav2vec2", "wavlm", "wavlm-group", "data2vec-audio"])  # no mask, a mask, group norm, conv positions
def test_batching_does_not_change_a_clips_output(kind, models, tree, tmp_path):
    alone = _build(tree, models[kind], tmp_path / "alone", tmp_path / "cache-1")
    batched = _build(tree, models[kind], tmp_path / "batched", tmp_path / "cache-3", batch_size=3)
    for split, bundle in read_bundles(batched.out).items():
        np.testing.assert_allclose(bundle.embeddings, read_bundles(alone.out)[split].embeddings, rtol=1e-4, atol=1e-4)


def test_bf16_rows_are_the_fp32_rows_to_rounding(models, tree, tmp_path):
    """``--precision bf16``: float32 rows within bfloat16 rounding of fp32's, recorded in the
    manifest, none of fp32's cache entries reused."""
    full = _build(tree, models["wavlm"], tmp_path / "fp32", tmp_path / "cache")
    half = _build(tree, models["wavlm"], tmp_path / "bf16", tmp_path / "cache", precision="bf16")
    assert half.computed == 9 and Manifest.read(half.out).embedder["settings"]["precision"] == "bf16"
    for split, bundle in read_bundles(half.out).items():
        found = bundle.embeddings.astype(np.float64)
        expected = read_bundles(full.out)[split].embeddings.astype(np.float64)
        assert bundle.embeddings.dtype == np.float32 and not np.array_equal(found, expected)
        cosine = (found * expected).sum(-1) / np.linalg.norm(found, axis=-1) / np.linalg.norm(expected, axis=-1)
        assert cosine.min() >= 0.999, (split, cosine.min())


def test_rebuild_and_beam_give_the_same_bytes_and_new_files_their_rows(models, tree, tmp_path, capsys):
    pytest.importorskip("apache_beam")
    first = _build(tree, models["wavlm"], tmp_path / "first", tmp_path / "cache")
    outputs = []
    for name, runner in (("again", "local"), ("beam", "beam")):
        result = _build(tree, models["wavlm"], tmp_path / name, tmp_path / f"cache-{name}", runner=runner)
        outputs.append({path.relative_to(result.out): path.read_bytes() for path in sorted(result.out.rglob("*.npy"))})
    assert outputs[0] == outputs[1] == {path.relative_to(first.out): path.read_bytes()
                                        for path in sorted(first.out.rglob("*.npy"))}
    test = read_bundles(first.out)["test"]
    np.testing.assert_array_equal(pipeline.embed_files([_path(tree, test.names[0])], first.out)[0], test.embeddings[0])
    classifier.train(first.out, tmp_path / "model", classifier.TrainConfig(epochs=3))
    files = [str(_path(tree, name)) for name in test.names]
    assert cli.main(["predict", *files, "--dataset", str(first.out), "--model-dir", str(tmp_path / "model"),
                     "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3


def test_long_clips_are_refused_or_run_in_windows(models, tree, tmp_path):
    with pytest.raises(ClipTooLongError, match=r"\.wav: .* s is longer than max_seconds=1\.0 .*window_seconds"):
        _build(tree, models["wavlm"], tmp_path / "never", tmp_path / "cache", max_seconds=1.0)
    assert not (tmp_path / "never").exists()
    windowed = _build(tree, models["wavlm"], tmp_path / "windows", tmp_path / "cache", max_seconds=1.0,
                      window_seconds=1.0)
    dev = read_bundles(windowed.out)["dev"]
    np.testing.assert_allclose(dev.embeddings[0], _reference(models["wavlm"], tree, dev.names[0], window=1.0),
                               rtol=1e-5, atol=1e-5)
    # limits that would turn the check off or give no frame are refused before any work
    for name, value, message in (("max_seconds", float("nan"), "max_seconds has to be a positive, finite number"),
                                 ("window_seconds", float("inf"), "window_seconds has to be a positive, finite"),
                                 ("window_seconds", 0.001, r"window_seconds=0\.001 is too short: .*at least 0\.05 s")):
        with pytest.raises(ParameterError, match=message):
            HFEmbedder(**{name: value})


def test_bad_models_are_named(models, tree, tmp_path):
    import shutil

    built = _build(tree, models["hubert"], tmp_path / "out", tmp_path / "cache")
    moved = tmp_path / "moved"
    shutil.copytree(models["hubert"], moved)
    weights = moved / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    clip = _path(tree, read_bundles(built.out)["dev"].names[0])
    with pytest.raises(ModelFileError, match=f"{weights}: the dataset's model.safetensors has SHA-256"):
        pipeline.embed_files([clip], built.out, files=HFFiles(moved))
    whisper_folder = random_whisper(tmp_path / "whisper")
    with pytest.raises(ParameterError, match="a Whisper model: build it with embedder='whisper'"):
        pipeline.model_files(_config(), HFFiles(whisper_folder))
    (moved / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelFileError, match="model_type 'bert' is not one of wav2vec2"):
        pipeline.model_files(_config(), HFFiles(moved))


def _edited(models, tmp_path, name, *, config=None, weights=None):
    """A copy of the HuBERT model with its config and/or weights edited."""
    import shutil

    from safetensors.torch import load_file, save_file

    folder = tmp_path / name
    shutil.copytree(models["hubert"], folder)
    if config:
        values = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps(config(values) or values))
    if weights:
        tensors = load_file(folder / "model.safetensors")
        weights(tensors)
        save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


def _nan(tensors):
    tensors["encoder.layers.1.feed_forward.output_dense.weight"][0, 3] = float("nan")


@pytest.mark.parametrize("name, config, weights, message", [
    ("as-wavlm", lambda c: c.update(model_type="wavlm"), None,
     r"7 parameters the weights lack .* for a wavlm model of 2 layers"),
    ("deeper", lambda c: c.update(num_hidden_layers=3), None,
     r"16 parameters the weights lack .* of 3 layers, e.g. encoder\.layers\.2\."),
    ("cut", None, lambda t: t.pop("encoder.layers.0.attention.k_proj.weight"),
     r"1 parameters the weights lack .*e\.g\. encoder\.layers\.0\.attention\.k_proj\.weight"),
    ("nan", None, _nan, r"weight encoder\.layers\.1\.feed_forward\.output_dense\.weight holds 1 NaN"),
])
def test_weights_that_do_not_fill_the_model_exactly_are_refused(name, config, weights, message, models, tree,
                                                               tmp_path):
    folder = _edited(models, tmp_path, name, config=config, weights=weights)
    with pytest.raises(ModelFileError, match=rf"{folder / 'model.safetensors'}: {message}"):
        _build(tree, folder, tmp_path / "out", tmp_path / "cache")
    assert not (tmp_path / "out").exists()


def test_weights_that_do_not_fill_the_model_are_one_line_from_the_command_line(models, tree, tmp_path):
    """In a fresh process, with --no-progress, nothing of Transformers' own report (its LOAD
    REPORT table of missing weights) reaches stderr before the one-line error."""
    folder = _edited(models, tmp_path, "cut", weights=lambda t: t.pop("encoder.layers.0.attention.k_proj.weight"))
    done = subprocess.run([sys.executable, "-m", "ravdess_prep.cli", "build", "--source", str(tree), "--out",
                           str(tmp_path / "out"), "--embedder", "hf", "--hf-model", str(folder), "--dev-actors", "8",
                           "--test-actors", "11", "--cache-dir", str(tmp_path / "cache"), "--no-progress"],
                          capture_output=True, text=True, timeout=300)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr[-3000:]
    assert "1 parameters the weights lack" in lines[0] and "LOAD REPORT" not in done.stderr


def test_the_build_command_takes_the_hf_options(models, tree, tmp_path, capsys):
    args = ["build", "--source", str(tree), "--out", str(tmp_path / "cli"), "--embedder", "hf", "--hf-model",
            str(models["data2vec-audio"]), "--layers", "0,2", "--pool", "mean-std", "--dev-actors", "8",
            "--test-actors", "11", "--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "(clips, layers, dim) = (2, 64)" in printed
    # data2vec-audio's positional convolutions read padded frames: auto batches it one clip at a time
    assert "chosen for this build: --batch-size auto -> 1" in printed
    manifest = Manifest.read(tmp_path / "cli")
    assert manifest.config.embedder == HFEmbedder(pool="mean-std", layers=(0, 2), batch_size=1)
    assert manifest.embedder["resolved_from"] == {"batch_size": "auto"}
    whisper_folder = random_whisper(tmp_path / "whisper")
    args[args.index("--hf-model") + 1] = str(whisper_folder)
    args[args.index("--out") + 1] = str(tmp_path / "never")
    with pytest.raises(SystemExit) as caught:
        cli.main(args)
    assert caught.value.code == 2 and "build it with --embedder whisper" in capsys.readouterr().err
