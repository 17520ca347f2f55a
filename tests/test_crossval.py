"""Cross-validation on published protocols, scored as the field scores, from Python and from the
command line; choices made on dev; fusion of datasets of the same clips."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ravdess_prep.evaluation import classifier, crossval, model_folder
from ravdess_prep import cli
from ravdess_prep.exceptions import ParameterError, SourceError
from ravdess_prep.evaluation.shrinkage_lda import fit_shrinkage_lda
from ravdess_prep.evaluation.training_data import fuse, subset

from protocol_data import INFORMATIVE, stack_bundle, write_original_format
from test_protocols import EMOBOX_TEST


@pytest.fixture(scope="module")
def stacks(ravdess_dir):
    return stack_bundle(ravdess_dir)


@pytest.fixture(scope="module")
def emobox_models(tmp_path_factory):
    return tmp_path_factory.mktemp("emobox-models")


@pytest.fixture(scope="module")
def emobox(stacks, emobox_models):
    return crossval.cross_validate({"train": stacks}, classifier.TrainConfig(head="lda"), protocol="emobox",
                                   model_root=emobox_models)


def _hand_scores(labels: np.ndarray, predicted: np.ndarray, classes: int) -> dict:
    """UA, WA and macro-F1 counted here, from the labels and predictions alone."""
    recalls, f1s = [], []
    for label in range(classes):
        truth, said = labels == label, predicted == label
        if not truth.any():
            continue
        hits = np.sum(truth & said)
        recalls.append(hits / truth.sum())
        precision = hits / said.sum() if said.any() else 0.0
        f1s.append(0.0 if hits == 0 else 2 * precision * recalls[-1] / (precision + recalls[-1]))
    return {"ua": np.mean(recalls), "wa": np.mean(labels == predicted), "macro_f1": np.mean(f1s)}


def test_emobox_folds_scores_and_choices(emobox, emobox_models, stacks):
    folds = emobox["folds"]
    assert [fold["test_speakers"] for fold in folds] == EMOBOX_TEST
    assert [fold["dev_speakers"] for fold in folds] == EMOBOX_TEST[1:] + EMOBOX_TEST[:1]
    assert [fold["clips"] for fold in folds] == [240] * 6  # speech only: 60 clips of each of four actors
    speech = subset(stacks, np.flatnonzero(stacks.facets["vocal_channel"] == "speech"))
    for fold in folds:  # each fold's scores, counted here from its saved model's predictions on its test clips
        folder = emobox_models / ("fold-" + "-".join(f"{speaker:02d}" for speaker in fold["test_speakers"]))
        metrics = json.loads((folder / "metrics.json").read_text())
        test = subset(speech, np.flatnonzero(np.isin(speech.speakers, fold["test_speakers"])))
        span = metrics["config"]["layers"]
        logits = model_folder.load_model(folder).predict(test.embeddings[:, span].reshape(len(test), -1), verbose=0)
        counted = _hand_scores(test.labels, np.argmax(logits, axis=1), 8)
        for name in ("ua", "wa", "macro_f1"):
            assert fold[name] == pytest.approx(counted[name], abs=1e-9), (fold["test_speakers"], name)
    for name in ("ua", "wa", "macro_f1"):
        values = [fold[name] for fold in folds]
        assert emobox[name]["mean"] == pytest.approx(np.mean(values)) and emobox[name]["std"] == pytest.approx(np.std(values))
        low, high = emobox[name]["ci95"]
        assert low <= emobox[name]["mean"] <= high
    assert emobox["ua"]["mean"] >= 0.9  # layer 2 separates the emotions
    for fold in folds:  # the lda head: the 5 best layers and shrinkages on dev averaged
        chosen = fold["chosen"]
        assert chosen["head"] == "lda" and INFORMATIVE in chosen["layers"] and len(chosen["members"]) == 5
        assert all(set(layers) <= set(chosen["layers"]) and shrinkage in (0.1, 0.3, 0.5, 0.7, 0.9)
                   for layers, shrinkage in chosen["members"])
        assert fold["trained_on"] == ["train", "dev"]
    assert emobox["protocol"] == "emobox" and emobox["refit"] is True and emobox["regime"]["name"] == "library"


def _fold(stacks):
    speech = subset(stacks, np.flatnonzero(stacks.facets["vocal_channel"] == "speech"))
    return {split: subset(speech, np.flatnonzero(np.isin(speech.speakers, speakers)))
            for split, speakers in (("train", range(1, 17)), ("dev", range(17, 21)), ("test", range(21, 25)))}


def test_choices_are_made_on_dev_not_test(stacks, tmp_path):
    """The choice is the candidate of best dev UA, whatever test says."""
    fold = _fold(stacks)
    result = classifier.train(fold, tmp_path / "model", classifier.TrainConfig(head="lda", ensemble=1))
    choices = result.metrics["choices"]
    assert len(choices["candidates"]) == 10 * 5  # 10 ranges of 4 layers, 5 shrinkages
    best = max(choices["candidates"], key=lambda choice: choice["dev_ua"])
    assert choices["chosen"] == best and choices["members"] == [best]
    assert (result.metrics["config"]["layers"], result.metrics["config"]["shrinkage"]) == (best["layers"],
                                                                                          best["shrinkage"])
    assert result.metrics["trained_on"] == ["train"]
    assert result.metrics["splits"]["dev"]["ua"] == pytest.approx(best["dev_ua"])


def test_the_ensemble_averages_the_best_candidates_scores(stacks, tmp_path):
    fold = _fold(stacks)
    result = classifier.train(fold, tmp_path / "model", classifier.TrainConfig(head="lda", ensemble=3))
    members = result.metrics["choices"]["members"]
    ranked = sorted(result.metrics["choices"]["candidates"], key=lambda choice: -choice["dev_ua"])
    assert members == ranked[:3]
    expected = 0
    for member in members:  # each member fitted alone on its layers, on train
        layers = [stacks.layer_numbers.index(number) for number in member["layers"]]
        flat = lambda bundle: bundle.embeddings[:, layers].reshape(len(bundle), -1)  # noqa: E731
        alone, = fit_shrinkage_lda(flat(fold["train"]), fold["train"].labels, num_classes=8,
                                   shrinkages=[member["shrinkage"]])
        expected = expected + alone.scores(flat(fold["test"])) / 3
    span = result.metrics["config"]["layers"]
    model = model_folder.load_model(tmp_path / "model")
    logits = model.predict(fold["test"].embeddings[:, span].reshape(len(fold["test"]), -1), verbose=0)
    np.testing.assert_allclose(logits, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


def test_pepino2021_is_one_fold_of_seven_classes(stacks, tmp_path):
    record = crossval.cross_validate({"train": stacks}, classifier.TrainConfig(head="lda", layers=(INFORMATIVE,),
                                                                               shrinkage=0.5),
                                     protocol="pepino2021", model_root=tmp_path)
    fold, = record["folds"]
    assert (fold["test_speakers"], fold["dev_speakers"], fold["clips"]) == ([23, 24], [21, 22], 2 * 60 + 2 * 44)
    metrics = json.loads((tmp_path / "fold-23-24" / "metrics.json").read_text())
    assert len(metrics["class_names"]) == 7 and "calm" not in metrics["class_names"]


@pytest.mark.parametrize("settings, message", [
    ({"layers": (9,)}, "the stack has 4 layers, numbered 0 to 3 .not 9."),
    ({"layers": (1, 2), "layer": 2}, "do not go together"),
    ({"head": "linear", "shrinkage": 0.5}, "a setting of the lda head"),
    ({"shrinkage": 1.5}, r"in \(0, 1\]"),
])
def test_bad_head_settings_are_named(stacks, settings, message):
    with pytest.raises(ParameterError, match=message):
        crossval.cross_validate({"train": stacks}, classifier.TrainConfig(**settings), protocol="emobox")


def test_command_line_record(stacks, tmp_path, capsys):
    data = write_original_format(stacks, tmp_path / "flat")
    out = tmp_path / "emobox.json"
    assert cli.main(["crossval", "--data", str(data), "--protocol", "emobox", "--head", "lda", "--shrinkage", "0.5",
                     "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "over 6 folds of the emobox protocol: UA" in printed and "macro-F1" in printed
    record = json.loads(out.read_text())
    assert set(record) >= {"protocol", "folds", "ua", "wa", "macro_f1"} and record["protocol"] == "emobox"
    # the first fold's scores, from a shrinkage LDA fitted here on its 20 other actors' speech clips
    speech = subset(stacks, np.flatnonzero(stacks.facets["vocal_channel"] == "speech"))
    flat = speech.embeddings.reshape(len(speech), -1)
    held = np.isin(speech.speakers, EMOBOX_TEST[0])
    alone, = fit_shrinkage_lda(flat[~held], speech.labels[~held], num_classes=8, shrinkages=[0.5])
    counted = _hand_scores(speech.labels[held], alone.predict(flat[held]), 8)
    for name in ("ua", "wa", "macro_f1"):
        assert record["folds"][0][name] == pytest.approx(counted[name], abs=1e-9), name
    assert [fold["test_speakers"] for fold in record["folds"]] == EMOBOX_TEST
    assert all(isinstance(speaker, int) for fold in record["folds"] for speaker in fold["dev_speakers"])
    assert all(0 <= record[name]["mean"] <= 1 and record[name]["std"] >= 0 for name in ("ua", "wa", "macro_f1"))
    # a 95 % interval by a bootstrap over the four test speakers of each fold, printed and recorded
    for name in ("ua", "wa", "macro_f1"):
        low, high = record[name]["ci95"]
        assert low < record[name]["mean"] < high and high - low > 0.005, name
    assert record["interval"]["seed"] == record["config"]["seed"] and "note" not in record["interval"]
    low, high = record["ua"]["ci95"]
    assert f"interval of the mean (95%, a bootstrap over test speakers): UA {low:.1%} to {high:.1%}" in printed
    # the record may be written again; a file crossval did not write may not be replaced
    assert cli.main(["crossval", "--data", str(data), "--protocol", "emobox", "--head", "lda", "--shrinkage", "0.5",
                     "--json", str(out), "--no-progress"]) == 0
    assert "WARNING" not in capsys.readouterr().err  # TensorFlow's retracing warnings kept quiet
    other = tmp_path / "notes.json"
    other.write_text('{"mine": 1}')
    emobox = ["--data", str(data), "--protocol", "emobox"]
    for arguments, message in ((emobox + ["--json", str(other)], "a file that crossval did not write"),
                               (emobox + ["--json", str(tmp_path / "missing" / "r.json")], "does not exist"),
                               (["--data", str(data), "--protocol", "emobax"], "its protocols: emobox, pepino2021, "
                                                                               "luna2022"),
                               (emobox + ["--folds", "folds6"], "give --protocol or --folds, not both"),
                               (emobox + ["--data", str(data)], f"{data}: the same dataset given twice"),
                               (emobox + ["--model-root", str(other)], "choose another --model-root")):
        assert _status(["crossval", *arguments]) != 0, arguments
        assert message in capsys.readouterr().err, arguments
    assert other.read_text() == '{"mine": 1}'


def test_a_fifo_or_a_device_as_a_report_is_refused_at_once(stacks, tmp_path):
    """Reading such a path to know whether the command wrote it would wait forever (a FIFO) or
    read without end (/dev/full): crossval's and evaluate's reports refuse them before any work."""
    data = write_original_format(stacks, tmp_path / "flat")
    classifier.train(data, tmp_path / "model", classifier.TrainConfig(head="lda", shrinkage=0.5))
    fifo = tmp_path / "record.json"
    os.mkfifo(fifo)
    for arguments, path in ((["crossval", "--data", str(data), "--protocol", "emobox", "--json", str(fifo)], fifo),
                            (["crossval", "--data", str(data), "--json", "/dev/full"], "/dev/full"),
                            (["evaluate", "--model-dir", str(tmp_path / "model"), "--data", str(data), "--json",
                              str(fifo)], fifo),
                            (["evaluate", "--model-dir", str(tmp_path / "model"), "--data", str(data), "--plot",
                              "/dev/full"], "/dev/full")):
        done = subprocess.run([sys.executable, "-m", "ravdess_prep.cli", *arguments], capture_output=True, text=True,
                              timeout=120)
        lines = done.stderr.strip().splitlines()
        assert done.returncode != 0 and len(lines) == 1 and f"{path}: not a regular file" in lines[0], done.stderr


def test_fusion_puts_datasets_of_the_same_clips_side_by_side(stacks, tmp_path, capsys):
    emotion = write_original_format(_layers(stacks, [INFORMATIVE]), tmp_path / "emotion")
    noise = write_original_format(_layers(stacks, [0, 1, 3]), tmp_path / "noise")
    assert cli.main(["train", "--data", str(noise), "--data", str(emotion), "--model-dir", str(tmp_path / "model"),
                     "--head", "lda", "--shrinkage", "0.5"]) == 0
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert [record["folder"] for record in metrics["datasets"]] == [str(noise), str(emotion)]
    model = model_folder.load_model(tmp_path / "model")
    assert model.input_shape == (None, 4 * 12)  # 3 layers and 1 layer of 12 features, side by side
    assert metrics["splits"]["train"]["ua"] >= 0.9
    names = np.load(emotion / "train" / "train_filenames.npy")
    renamed = names.copy()
    renamed[7] = names[8]  # clip 7 is gone from one of the two
    np.save(emotion / "train" / "train_filenames.npy", renamed)
    assert cli.main(["train", "--data", str(noise), "--data", str(emotion), "--model-dir", str(tmp_path / "m2")]) != 0
    assert f"has clip {names[7]} in train" in capsys.readouterr().err


def test_fused_bundles_must_hold_the_same_clips_and_labels(stacks):
    first = {"train": subset(stacks, np.arange(100))}
    shifted = {"train": subset(stacks, np.arange(1, 101))}
    with pytest.raises(SourceError, match="the fused datasets hold other clips: a has clip .* in train, b has not"):
        fuse([first, shifted], names=["a", "b"])
    relabelled = {"train": dataclasses.replace(first["train"], labels=(first["train"].labels + 1) % 8)}
    with pytest.raises(SourceError, match="has another label than in a"):
        fuse([first, relabelled], names=["a", "b"])
    with pytest.raises(ParameterError, match="layers='auto'"):
        fuse([first, first], names=["a", "b"], layers="auto")


def _layers(bundle, layers):
    return dataclasses.replace(bundle, embeddings=bundle.embeddings[:, layers])


def _status(arguments) -> int:
    """A command's exit status, whether it returns it or exits (argparse's usage errors)."""
    try:
        return cli.main(arguments)
    except SystemExit as exit:
        return exit.code


def test_one_layer_s_best_shrinkages_are_averaged(stacks, tmp_path):
    """``--layer K`` with the lda head: the candidates are the shrinkages on that layer alone,
    the five best averaged into one scorer of that layer's features."""
    fold = _fold(stacks)
    result = classifier.train(fold, tmp_path / "model", classifier.TrainConfig(head="lda", layer=INFORMATIVE))
    assert result.metrics["config"]["layer"] == INFORMATIVE and result.metrics["config"]["ensemble"] == 5
    expected = 0
    flat = lambda bundle: bundle.embeddings[:, INFORMATIVE]  # noqa: E731
    for member in result.metrics["choices"]["members"]:
        alone, = fit_shrinkage_lda(flat(fold["train"]), fold["train"].labels, num_classes=8,
                                   shrinkages=[member["shrinkage"]])
        expected = expected + alone.scores(flat(fold["test"])) / 5
    logits = model_folder.load_model(tmp_path / "model").predict(flat(fold["test"]), verbose=0)
    np.testing.assert_allclose(logits, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
