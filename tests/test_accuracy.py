"""What the bundles are worth: the README's accuracy rows, on the full RAVDESS set with the
original split and the documented commands (fixed seeds). Slow (minutes each): run with
``python -m pytest -m slow tests/test_accuracy.py``."""

from __future__ import annotations

import json

import pytest

from conftest import require_opensmile
from ravdess_prep import cli
from whisper_models import real_whisper


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("accuracy-cache")


def _build(ravdess_dir, out, cache, *options):
    assert cli.main(["build", "--source", str(ravdess_dir), "--out", str(out), "--cache-dir", str(cache),
                     "--no-progress", *options]) == 0


def _test_accuracy(data, model_dir, *options) -> float:
    assert cli.main(["train", "--data", str(data), "--model-dir", str(model_dir), *options]) == 0
    return json.loads((model_dir / "metrics.json").read_text())["splits"]["test"]["accuracy"]


@pytest.mark.slow
def test_yamnet_bundles_reach_045_on_the_original_split(ravdess_dir, yamnet_dir, cache, tmp_path):
    _build(ravdess_dir, tmp_path / "yamnet", cache, "--embedder", "yamnet", "--yamnet-model", str(yamnet_dir))
    assert _test_accuracy(tmp_path / "yamnet", tmp_path / "model") >= 0.45


@pytest.mark.slow
def test_egemaps_functionals_reach_052_and_060_with_speaker_normalisation(ravdess_dir, cache, tmp_path):
    require_opensmile()
    _build(ravdess_dir, tmp_path / "egemaps", cache, "--embedder", "egemaps")
    assert _test_accuracy(tmp_path / "egemaps", tmp_path / "plain") >= 0.52  # the linear head
    assert _test_accuracy(tmp_path / "egemaps", tmp_path / "normalised", "--speaker-norm") >= 0.60


@pytest.mark.slow
def test_whisper_base_layers_reach_070_and_078_with_speaker_normalisation(ravdess_dir, cache, tmp_path):
    pytest.importorskip("torch")
    _build(ravdess_dir, tmp_path / "whisper", cache, "--embedder", "whisper", "--whisper-model",
           str(real_whisper("base")))
    assert _test_accuracy(tmp_path / "whisper", tmp_path / "plain") >= 0.70  # the layer-weighted linear head
    assert _test_accuracy(tmp_path / "whisper", tmp_path / "normalised", "--speaker-norm") >= 0.78

