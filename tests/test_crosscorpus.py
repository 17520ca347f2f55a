"""Cross-corpus evaluation: a model trained on RAVDESS scored on CREMA-D and EmoDB datasets of
the same embedder and settings, over the emotions they share (``ravdess-prep evaluate``).

The RAVDESS clips are real (one per emotion of four actors); the CREMA-D and EmoDB trees hold
audio the tests make under the corpora's real file names. The expected scores are computed
here from the model's own outputs on the bundles' arrays, with the corpora's label orders
written out by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from commands import error_line, run_command
from conftest import copy_clips, require_opensmile, write_audio
from ravdess_prep import cli, corpora
from ravdess_prep.dataset.bundles import read_bundles
from ravdess_prep.evaluation.model_folder import load_model
from ravdess_prep.corpora import Corpus

require_opensmile()

#: RAVDESS's label order, and where each emotion of the other corpora is in it.
RAVDESS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
CREMAD = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
EMODB = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fearful", "F": "happy", "T": "sad", "N": "neutral"}
#: The order the scores list the shared emotions in (the vocabulary's).
SHARED = ("neutral", "happy", "sad", "angry", "fearful", "disgust")
SETTINGS = ("--embedder", "egemaps", "--sample-rate", "16000", "--no-progress")


def _tone(index: int, seconds: float) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    return np.concatenate([np.zeros(400), 0.3 * np.sin(2 * np.pi * (150 + 30 * index) * t) * np.hanning(t.size),
                           np.zeros(400)])


@pytest.fixture(scope="module")
def made(ravdess_dir, tmp_path_factory):
    """A RAVDESS eGeMAPS dataset (actors 01 and 02 train, 08 dev, 11 test; one clip per
    emotion each), its lda model, and CREMA-D and EmoDB datasets of the same settings."""
    root = tmp_path_factory.mktemp("crosscorpus")
    cache = root / "cache"
    tree = copy_clips(ravdess_dir, root / "ravdess", (1, 2, 8, 11), speech=8, song=0, pick=slice(3, None, 8))
    cremad = root / "cremad" / "AudioWAV"
    for index, actor in enumerate(range(1001, 1025)):
        code = tuple(CREMAD)[index % 6]
        write_audio(cremad / f"{actor}_DFA_{code}_XX.wav", _tone(index % 6, 0.4 + 0.01 * index), sample_rate_hz=16000)
    emodb = root / "emodb" / "wav"
    for index, speaker in enumerate((3, 8, 9, 10)):
        for number, letter in enumerate(EMODB):
            write_audio(emodb / f"{speaker:02d}a0{1 + number % 2}{letter}a.wav",
                        _tone(number, 0.45 + 0.01 * index), sample_rate_hz=16000)
    return {"root": root, "cache": cache, "ravdess": tree, "cremad": cremad, "emodb": emodb}


def _build(made, corpus, source, out, *extra):
    status = cli.main([str(arg) for arg in ("build", "--corpus", corpus, "--source", source, "--out", out,
                                            "--cache-dir", made["cache"], *SETTINGS, *extra)])
    assert status == 0
    return out


@pytest.fixture(scope="module")
def found(made):
    """The three datasets and the model trained on RAVDESS's (the lda head)."""
    root = made["root"]
    datasets = {"ravdess": _build(made, "ravdess", made["ravdess"], root / "ravdess-egemaps", "--dev-speakers", "8",
                                  "--test-speakers", "11"),
                "cremad": _build(made, "cremad", made["cremad"], root / "cremad-egemaps", "--dev-speakers", "1002",
                                 "--test-speakers", "1003"),
                "emodb": _build(made, "emodb", made["emodb"], root / "emodb-egemaps", "--dev-speakers", "9",
                                "--test-speakers", "3"),
                "model": root / "model"}
    assert cli.main(["train", "--data", str(datasets["ravdess"]), "--model-dir", str(root / "model"),
                     "--head", "lda"]) == 0
    return datasets


def _expected(model_dir, data, order: dict, *, speakers=None) -> dict:
    """UA, WA, macro-F1 and the confusion matrix over SHARED, from the model's scores of every
    clip of ``data`` restricted to the shared emotions' columns; with ``speakers`` (each clip's),
    the shared emotions' clips standardised per speaker with those clips alone."""
    model = load_model(model_dir)
    own = list(order.values())
    embeddings = np.concatenate([np.load(data / split / f"{split}_embeddings.npy") for split in ("train", "dev", "test")])
    labels = np.concatenate([np.load(data / split / f"{split}_labels.npy") for split in ("train", "dev", "test")])
    truth = np.asarray([own[label] for label in labels])
    keep = np.isin(truth, SHARED)
    inputs = embeddings[keep].astype(np.float64)
    if speakers is not None:
        kept_speakers = np.asarray(speakers)[keep]
        for speaker in np.unique(kept_speakers):
            rows = kept_speakers == speaker
            spread = inputs[rows].std(axis=0)
            inputs[rows] = (inputs[rows] - inputs[rows].mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    scores = np.asarray(model.predict(inputs.astype(np.float32), verbose=0))
    columns = [RAVDESS.index(name) for name in SHARED]
    predicted = np.asarray(SHARED)[np.argmax(scores[:, columns], axis=1)]
    truth = truth[keep]
    confusion = [[int(np.sum((truth == a) & (predicted == b))) for b in SHARED] for a in SHARED]
    recalls = [np.mean(predicted[truth == name] == name) for name in SHARED if np.any(truth == name)]
    f1s = []
    for name in SHARED:
        tp = np.sum((truth == name) & (predicted == name))
        if np.any(truth == name) or np.any(predicted == name):
            f1s.append(2 * tp / (np.sum(truth == name) + np.sum(predicted == name)))
    return {"ua": float(np.mean(recalls)), "wa": float(np.mean(predicted == truth)), "macro_f1": float(np.mean(f1s)),
            "clips": int(keep.sum()), "confusion_matrix": confusion, "left_out": int((~keep).sum())}


@pytest.mark.parametrize("corpus", ["cremad", "emodb"])
def test_a_ravdess_model_scored_on_another_corpus_over_the_six_shared_emotions(made, found, corpus, capsys):
    out = made["root"] / f"{corpus}.json"
    status, printed, err = run_command(capsys, "evaluate", "--model-dir", found["model"], "--data", found[corpus],
                                       "--json", out)
    assert status == 0, err
    result = json.loads(out.read_text())
    expected = _expected(found["model"], found[corpus], CREMAD if corpus == "cremad" else EMODB)
    assert result["shared_emotions"] == list(SHARED) and result["class_names"] == list(SHARED)
    assert result["clips"] == expected["clips"] == (24 if corpus == "cremad" else 24)
    assert result["confusion_matrix"] == expected["confusion_matrix"]
    for key in ("ua", "wa", "macro_f1"):
        assert result[key] == pytest.approx(expected[key], abs=1e-12), key
    assert result["left_out"] == ({} if corpus == "cremad" else {"boredom": 4}) and expected["left_out"] == (
        0 if corpus == "cremad" else 4)
    assert result["model"]["corpus"] == "ravdess" and result["data"]["corpus"] == corpus
    assert f"UA {result['ua']:.4f}  WA {result['wa']:.4f}  macro-F1 {result['macro_f1']:.4f}" in printed
    assert (corpus == "emodb") == ("left out: 4 clips of boredom" in printed)
    assert result["padded"] is False and "padded to" not in printed  # eGeMAPS functionals: the trimmed clip
    png = found["model"] / f"evaluate_{found[corpus].name}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the test split only
    status, _, _ = run_command(capsys, "evaluate", "--model-dir", found["model"], "--data", found[corpus],
                               "--json", out, "--splits", "test")
    assert status == 0 and json.loads(out.read_text())["splits"] == ["test"]


def test_a_speaker_normalised_model_takes_the_statistics_of_the_shared_emotions_alone(made, found, capsys):
    """EmoDB's boredom clips, which the RAVDESS model cannot score, are left out of each
    speaker's statistics too."""
    model = made["root"] / "model-norm"
    assert cli.main(["train", "--data", str(found["ravdess"]), "--model-dir", str(model), "--head", "lda",
                     "--speaker-norm"]) == 0
    out = made["root"] / "emodb-norm.json"
    status, _, err = run_command(capsys, "evaluate", "--model-dir", model, "--data", found["emodb"], "--json", out)
    assert status == 0, err
    result = json.loads(out.read_text())
    bundles = read_bundles(found["emodb"])
    speakers = np.concatenate([bundles[split].speakers for split in ("train", "dev", "test")])
    expected = _expected(model, found["emodb"], EMODB, speakers=speakers)
    assert result["confusion_matrix"] == expected["confusion_matrix"] and result["clips"] == 24
    assert result["ua"] == pytest.approx(expected["ua"], abs=1e-12)
    assert result["speaker_norm"]["mode"] == "all"
    assert result["speaker_norm"]["clips"] == "the clips of the shared emotions only"


def test_on_its_own_datasets_test_split_it_gives_the_scores_train_reported(found, capsys):
    """The same corpus, every emotion shared: evaluate's scores of the test split are those
    that train computed and recorded in metrics.json."""
    out = found["model"].parent / "own.json"
    status, _, err = run_command(capsys, "evaluate", "--model-dir", found["model"], "--data", found["ravdess"],
                                 "--splits", "test", "--json", out)
    assert status == 0, err
    result = json.loads(out.read_text())
    metrics = json.loads((found["model"] / "metrics.json").read_text())
    assert metrics["canonical_names"] == list(RAVDESS)  # the classes' canonical names, recorded by train
    recorded = metrics["splits"]["test"]
    assert result["shared_emotions"] == list(RAVDESS) and result["clips"] == 8
    assert result["confusion_matrix"] == recorded["confusion_matrix"]
    for key in ("ua", "wa", "macro_f1"):
        assert result[key] == pytest.approx(recorded[key], abs=1e-12), key


class _Bored(Corpus):
    """A corpus of one emotion RAVDESS lacks: clips ``b<speaker>_<take>.wav``."""

    name = "bored"
    title = "Bored speakers"
    columns = ("clip_name", "path", "speaker", "label", "sample_rate_hz", "channels", "num_samples")
    label_names = ("bored",)
    canonical_names = ("boredom",)
    speakers = (1, 2, 3)
    default_dev_speakers = (2,)
    default_test_speakers = (3,)

    def parse_name(self, path):
        stem = Path(path).stem
        return {"clip_name": f"{stem}.wav", "speaker": int(stem[1:3]), "label": 0}


def test_another_embedder_other_settings_and_no_shared_emotion_are_refused(made, found, small_build, capsys,
                                                                          tmp_path):
    # reports onto files evaluate did not write are refused before any work, and left as they are
    mine = tmp_path / "mine.json"
    mine.write_text('{"mine": 1}')
    for flag, path in (("--json", mine), ("--plot", found["model"] / "confusion_matrix.png")):
        before = path.read_bytes()
        status, _, err = run_command(capsys, "evaluate", "--model-dir", found["model"], "--data", found["cremad"],
                                     flag, path)
        assert status == 1 and f"{path}: a file that evaluate did not write; choose another {flag}" in error_line(err)
        assert path.read_bytes() == before
    status, _, err = run_command(capsys, "evaluate", "--model-dir", tmp_path / "no-model", "--data", found["cremad"])
    assert status == 1 and "metrics.json: no such file" in error_line(err)
    # a dataset given as the model folder is named as no model, not as the figure's folder
    status, _, err = run_command(capsys, "evaluate", "--model-dir", found["cremad"], "--data", found["cremad"])
    assert status == 1 and f"is {found['cremad']} a model folder written by ravdess-prep train?" in error_line(err)
    # a dataset folder given as the source of clips is named as a dataset
    status, _, err = run_command(capsys, "info", "--corpus", "cremad", "--source", found["cremad"])
    assert status == 1 and f"{found['cremad']}: a dataset folder ravdess-prep built" in error_line(err)
    status, _, err = run_command(capsys, "evaluate", "--model-dir", found["model"], "--data", small_build.out)
    line = error_line(err)
    assert status == 1 and "was trained on data other than" in line and "row_shape differs: [88] against" in line
    other = _build(made, "cremad", made["cremad"], tmp_path / "other", "--dev-speakers", "1002",
                   "--test-speakers", "1003", "--threshold", "0.02")
    status, _, err = run_command(capsys, "evaluate", "--model-dir", found["model"], "--data", other)
    assert status == 1 and "trim_threshold: 0.01 against 0.02" in error_line(err)
    corpora.CORPORA.register(_Bored.name, _Bored())
    try:
        for speaker in (1, 2, 3):
            for take in (1, 2):
                write_audio(tmp_path / "bored" / f"b{speaker:02d}_{take}.wav", _tone(take, 0.5 + 0.01 * speaker),
                            sample_rate_hz=16000)
        bored = _build(made, "bored", tmp_path / "bored", tmp_path / "bored-egemaps")
        _Bored.canonical_names = None  # the dataset's own record of its labels' canonical names is what counts
        status, _, err = run_command(capsys, "evaluate", "--model-dir", found["model"], "--data", bored)
        no_download = run_command(capsys, "download", "--corpus", "bored", "--dest", tmp_path / "nowhere")
        _Bored.download = lambda self, *, cache_dir=None, progress=True: []  # an earlier version's signature
        earlier = run_command(capsys, "download", "--corpus", "bored", "--dest", tmp_path / "nowhere")
    finally:
        corpora.CORPORA.unregister(_Bored.name)
    line = error_line(err)
    assert status == 1 and "share no emotion" in line
    assert "neutral, calm, happy, sad, angry, fearful, disgust, surprised" in line and "the dataset's boredom" in line
    assert no_download[0] == 1 and "the bored corpus has no download" in error_line(no_download[2])
    assert earlier[0] == 1 and "the bored corpus's download takes no destination" in error_line(earlier[2])
