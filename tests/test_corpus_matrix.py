"""``crosscorpus``: RAVDESS speech and RAVDESS song as two corpora of one embedder and settings;
each cell of the matrix against a model fitted here on the standardised rows, the diagonal on
each dataset's own test split, and what the command refuses."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import SONG, SPEECH
from ravdess_prep import cli, pipeline
from ravdess_prep.dataset.bundles import read_bundles
from ravdess_prep.evaluation import classifier, corpus_matrix
from ravdess_prep.evaluation.shrinkage_lda import fit_shrinkage_lda
from ravdess_prep.exceptions import ParameterError

pytest.importorskip("torch")

from ravdess_prep.embedders import WhisperEmbedder, WhisperFiles  # noqa: E402
from whisper_models import random_whisper  # noqa: E402

ACTORS = (8, 11, 12, 13)  # 08 dev, 11 test, 12 and 13 train
# neutral and happy, two takes of each, as speech (channel 01) and as song (02)
STEMS = ("03-{channel}-01-01-01-01-{actor:02d}", "03-{channel}-01-01-02-01-{actor:02d}",
         "03-{channel}-03-01-01-01-{actor:02d}", "03-{channel}-03-02-01-01-{actor:02d}")
CONFIG = classifier.TrainConfig(head="lda", layers=(1, 2), shrinkage=0.5)


def _tree(ravdess_dir, folder, channel: str):
    top = SPEECH if channel == "01" else SONG
    for actor in ACTORS:
        for stem in STEMS:
            name = stem.format(channel=channel, actor=actor) + ".flac"
            target = folder / top / f"Actor_{actor:02d}" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ravdess_dir / top / f"Actor_{actor:02d}" / name, target)
    return folder


@pytest.fixture(scope="module")
def corpora(ravdess_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("matrix")
    model = random_whisper(root / "model", seed=2)
    built = {}
    for name, channel, settings in (("speech", "01", {}), ("song", "02", {}), ("other", "02", {"input": "30s"})):
        tree = _tree(ravdess_dir, root / f"tree-{name}", channel)
        config = pipeline.Config(embedder=WhisperEmbedder(**settings), dev_speakers=(8,), test_speakers=(11,))
        pipeline.build(config, out=root / name, source=tree, files=WhisperFiles(model),
                       run=pipeline.Run(cache_dir=root / "cache", jobs=1, progress=False))
        built[name] = root / name
    return built


def _standardised(folder):
    """Every split's rows of neutral (0) and happy (2), relabelled 0 and 1, standardised with
    the statistics of all of them, as float64, layers 1 and 2 side by side."""
    bundles = read_bundles(folder)
    kept = {}
    for split, bundle in bundles.items():
        keep = np.isin(bundle.labels, [0, 2])
        kept[split] = (bundle.embeddings[keep][:, [1, 2]].astype(np.float64), (bundle.labels[keep] == 2).astype(int))
    every = np.concatenate([rows for rows, _ in kept.values()])
    mean, std = every.mean(axis=0), every.std(axis=0)
    return {split: (((rows - mean) / np.where(std > 0, std, 1)).reshape(len(rows), -1), labels)
            for split, (rows, labels) in kept.items()}


def _ua(labels, predicted) -> float:
    return float(np.mean([np.mean(predicted[labels == label] == label) for label in np.unique(labels)]))


def test_every_cell_is_a_model_trained_on_its_row_and_scored_on_its_column(corpora):
    record = corpus_matrix.corpus_matrix([corpora["speech"], corpora["song"]], CONFIG, emotions=["happy", "neutral"])
    assert record["emotions"] == ["neutral", "happy"] and record["corpus_norm"] is True
    data = [_standardised(corpora["speech"]), _standardised(corpora["song"])]
    for row in range(2):
        train = np.concatenate([data[row][split][0] for split in ("train", "dev")])
        labels = np.concatenate([data[row][split][1] for split in ("train", "dev")])
        fitted, = fit_shrinkage_lda(train, labels, num_classes=2, shrinkages=[0.5])
        for column in range(2):
            splits = ("test",) if row == column else ("train", "dev", "test")
            rows = np.concatenate([data[column][split][0] for split in splits])
            truth = np.concatenate([data[column][split][1] for split in splits])
            predicted = fitted.predict(rows)
            assert record["clips"][row][column] == len(truth)
            assert record["ua"][row][column] == pytest.approx(_ua(truth, predicted), abs=1e-9), (row, column)
            assert record["wa"][row][column] == pytest.approx(np.mean(truth == predicted), abs=1e-9), (row, column)
    assert [item["clips"] for item in record["datasets"]] == [16, 16]


def test_the_command_prints_writes_and_draws(corpora, tmp_path, capsys):
    out, plot = tmp_path / "matrix.json", tmp_path / "matrix.png"
    assert cli.main(["crosscorpus", "--data", str(corpora["speech"]), "--data", str(corpora["song"]), "--emotions",
                     "neutral,happy", "--head", "lda", "--layers", "1-2", "--shrinkage", "0.5", "--no-corpus-norm",
                     "--json", str(out), "--plot", str(plot), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "UA (WA) over neutral, happy; rows trained on, columns scored on (rows as they are)" in printed
    record = json.loads(out.read_text())
    assert record["corpus_norm"] is False and len(record["ua"]) == 2
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and corpus_matrix.FIGURE_TITLE.encode() in plot.read_bytes()
    other = tmp_path / "notes.json"
    other.write_text("{}")
    with pytest.raises(Exception, match="a file that crosscorpus did not write"):
        corpus_matrix.check_report_paths(json_path=other, plot_path=None)


@pytest.mark.parametrize("arguments, message", [
    (("speech",), "the matrix takes two datasets or more, not 1"),
    (("speech", "other"), "not of .*'s embedder and settings \\(config differs: embedder.input: 'clip' against '30s'"),
])
def test_refusals_name_the_dataset_and_the_difference(corpora, arguments, message):
    with pytest.raises(ParameterError, match=message):
        corpus_matrix.corpus_matrix([corpora[name] for name in arguments], CONFIG)


def test_an_emotion_not_every_dataset_holds_is_named(corpora):
    with pytest.raises(ParameterError, match="emotions: 'boredom' is not an emotion of"):
        corpus_matrix.corpus_matrix([corpora["speech"], corpora["song"]], CONFIG, emotions=["boredom"])
    with pytest.raises(ParameterError, match="speaker_norm"):
        corpus_matrix.corpus_matrix([corpora["speech"], corpora["song"]], classifier.TrainConfig(speaker_norm=True))
