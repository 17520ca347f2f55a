"""What the bundles are worth: the README's accuracy rows, on the full RAVDESS set with the
original split and the documented commands (fixed seeds). Slow (minutes each): run with
``python -m pytest -m slow tests/test_accuracy.py``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from conftest import require_opensmile
from ravdess_prep import cli
from whisper_models import real_whisper

ROOT = Path(__file__).resolve().parent.parent


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


@pytest.fixture(scope="module")
def whisper_base(ravdess_dir, cache, tmp_path_factory):
    """The full set embedded by the real Whisper base (every layer, the mean over frames)."""
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("whisper") / "whisper-base"
    _build(ravdess_dir, out, cache, "--embedder", "whisper", "--whisper-model", str(real_whisper("base")))
    return out


@pytest.mark.slow
def test_whisper_base_layers_reach_070_and_078_with_speaker_normalisation(whisper_base, tmp_path):
    assert _test_accuracy(whisper_base, tmp_path / "plain", "--head", "linear") >= 0.70  # layer-weighted
    assert _test_accuracy(whisper_base, tmp_path / "normalised", "--head", "linear", "--speaker-norm") >= 0.78
    assert _test_accuracy(whisper_base, tmp_path / "lda") >= 0.74  # the default head of a stack
    assert _test_accuracy(whisper_base, tmp_path / "lda-normalised", "--speaker-norm") >= 0.80


def _records_module():
    spec = importlib.util.spec_from_file_location("accuracy_records", ROOT / "scripts" / "accuracy_records.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The floors of the cross-validated figures (UA, mean over the folds).
FLOORS = {"emobox-published": 0.73, "emobox-auto": 0.75, "emobox-lda": 0.74, "emobox-enrol16": 0.80,
          "emobox-all": 0.83}


@pytest.mark.slow
def test_every_record_of_the_pages_is_regenerated(whisper_base, tmp_path):
    """Every record of ``docs/records`` run again on the build with its command: the figures the
    pages print (UA, WA, macro-F1 and UA's interval) within 0.2 points of the kept record (a
    different processor or BLAS may move a clip or two), and the floors of :data:`FLOORS`."""
    module = _records_module()
    module.run(str(whisper_base), list(module.RUNS), tmp_path)
    for name in module.RUNS:
        new, kept = module.read_record(name, tmp_path), module.read_record(name)
        assert [fold["test_speakers"] for fold in new["folds"]] == [fold["test_speakers"] for fold in kept["folds"]]
        for score in ("ua", "wa", "macro_f1"):
            assert new[score]["mean"] == pytest.approx(kept[score]["mean"], abs=0.002), (name, score)
        assert new["ua"]["ci95"] == pytest.approx(kept["ua"]["ci95"], abs=0.002), name
    for name, floor in FLOORS.items():
        assert module.read_record(name, tmp_path)["ua"]["mean"] >= floor, name


@pytest.mark.slow
def test_whisper_base_on_pepino2021_has_seven_classes(whisper_base, tmp_path):
    assert cli.main(["crossval", "--data", str(whisper_base), "--protocol", "pepino2021", "--speaker-norm",
                     "--model-root", str(tmp_path / "folds"), "--json", str(tmp_path / "pepino.json")]) == 0
    metrics = json.loads((tmp_path / "folds" / "fold-23-24" / "metrics.json").read_text())
    assert len(metrics["class_names"]) == 7 and "calm" not in metrics["class_names"]
    assert json.loads((tmp_path / "pepino.json").read_text())["ua"]["mean"] >= 0.80

