"""Each paper's own regime (``crossval --as-published``), and the head's design chosen on dev
(``--head auto``): where each fold's choices are made, and that test never makes them."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from ravdess_prep import cli
from ravdess_prep.corpora import CORPORA
from ravdess_prep.corpora.emodb import EMOTION_NAMES as EMODB_NAMES
from ravdess_prep.corpora.emodb import EMOTIONS as EMODB_LETTERS
from ravdess_prep.corpora.emodb import emobox_folds as emodb_folds
from ravdess_prep.corpora.protocols import library_regime
from ravdess_prep.corpora.ravdess import EMOBOX, LUNA2022, PEPINO2021
from ravdess_prep.dataset.bundles import Bundle
from ravdess_prep.evaluation import audit, classifier, crossval
from ravdess_prep.evaluation.fitting import AUTO_ENSEMBLES
from ravdess_prep.evaluation.training_data import subset
from ravdess_prep.exceptions import ParameterError

from protocol_data import INFORMATIVE, stack_bundle, write_original_format

SPEAKERS = np.repeat(np.arange(1, 25), 60)


@pytest.fixture(scope="module")
def stacks(ravdess_dir):
    return stack_bundle(ravdess_dir)


def test_a_random_fifth_of_the_training_clips_is_emobox_s_dev():
    held, watched = crossval.fold_partition(SPEAKERS, test=(1, 11, 20, 21), dev=(4, 10, 12, 14),
                                            regime=EMOBOX.published, seed=[0, 0])
    assert held.sum() == 240 and watched.sum() == 240  # a fifth of the 1200 clips not tested
    assert not (held & watched).any()
    assert len(np.unique(SPEAKERS[watched])) == 20  # drawn whatever the speaker
    again = crossval.fold_partition(SPEAKERS, test=(1, 11, 20, 21), dev=(), regime=EMOBOX.published, seed=[0, 0])
    other = crossval.fold_partition(SPEAKERS, test=(1, 11, 20, 21), dev=(), regime=EMOBOX.published, seed=[0, 1])
    assert np.array_equal(again[1], watched) and not np.array_equal(other[1], watched)


@pytest.mark.parametrize("regime, dev_clips", [(library_regime(), 120), (PEPINO2021.published, 120),
                                               (LUNA2022.published, 0)])
def test_speaker_and_absent_devs(regime, dev_clips):
    held, watched = crossval.fold_partition(SPEAKERS, test=(23, 24), dev=(21, 22), regime=regime, seed=[0, 0])
    assert held.sum() == 120 and watched.sum() == dev_clips
    assert set(SPEAKERS[watched]) <= {21, 22}


def test_the_published_regimes_are_declared():
    assert (EMOBOX.published.dev, EMOBOX.published.dev_fraction, EMOBOX.published.refit) == ("random", 0.2, False)
    assert (PEPINO2021.published.dev, PEPINO2021.published.refit) == ("speakers", False)
    assert PEPINO2021.folds()[0].dev == (21, 22) and PEPINO2021.folds()[0].test == (23, 24)
    assert (LUNA2022.published.dev, LUNA2022.published.refit) == ("none", False)
    for protocol in (EMOBOX, PEPINO2021, LUNA2022):  # what the library does otherwise is written down
        assert "here" in protocol.differences and protocol.describe()["published_regime"]["name"] == "as published"


def test_emobox_as_published_trains_on_four_fifths_and_does_not_refit(stacks, tmp_path):
    config = classifier.TrainConfig(head="lda", layers=(INFORMATIVE,), shrinkage="auto", ensemble=1)
    record = crossval.cross_validate({"train": stacks}, config, protocol="emobox", as_published=True,
                                     model_root=tmp_path)
    assert record["regime"]["name"] == "as published" and record["regime"]["dev"] == "random"
    assert record["regime"]["seed"] == 0 and record["refit"] is False
    for fold in record["folds"]:
        assert fold["dev_speakers"] == [] and fold["dev_clips"] == 240 and fold["trained_on"] == ["train"]
    metrics = json.loads((tmp_path / "fold-01-11-20-21" / "metrics.json").read_text())
    assert metrics["splits"]["train"]["clips"] == 960 and metrics["splits"]["dev"]["clips"] == 240
    assert len(metrics["choices"]["candidates"]) == 5  # the shrinkages, scored on the random dev


def test_pepino_and_luna_as_published(stacks):
    config = classifier.TrainConfig(head="lda", layers=(INFORMATIVE,), shrinkage=0.5)
    pepino = crossval.cross_validate({"train": stacks}, config, protocol="pepino2021", as_published=True)
    fold, = pepino["folds"]
    assert (fold["dev_speakers"], fold["trained_on"], pepino["refit"]) == ([21, 22], ["train"], False)
    library = crossval.cross_validate({"train": stacks}, config, protocol="pepino2021")
    assert library["folds"][0]["trained_on"] == ["train", "dev"] and library["regime"]["name"] == "library"
    luna = crossval.cross_validate({"train": stacks}, classifier.TrainConfig(), protocol="luna2022",
                                   as_published=True)
    for fold in luna["folds"]:  # no dev: the auto head's fallbacks, every layer and shrinkage 0.5
        assert fold["dev_clips"] == 0 and fold["trained_on"] == ["train"]
        assert fold["chosen"]["head"] == "lda" and fold["chosen"]["layers"] == [0, 1, 2, 3]
        assert fold["chosen"]["shrinkage"] == 0.5


def test_as_published_needs_a_protocol(stacks, tmp_path, capsys):
    with pytest.raises(ParameterError, match="as_published runs a published protocol's own regime; give protocol"):
        crossval.cross_validate({"train": stacks}, classifier.TrainConfig(), as_published=True)
    data = write_original_format(stacks, tmp_path / "flat")
    with pytest.raises(SystemExit):  # a usage error
        cli.main(["crossval", "--data", str(data), "--as-published", "--no-progress"])
    assert "--as-published runs a published protocol's own regime; give --protocol" in capsys.readouterr().err
    assert cli.main(["crossval", "--data", str(data), "--protocol", "pepino2021", "--as-published", "--head", "lda",
                     "--shrinkage", "0.5", "--no-progress"]) == 0
    assert "regime: as published (Pepino et al.'s: trained on actors 01-20" in capsys.readouterr().out


def _misleading(*, seed: int = 0) -> Bundle:
    """24 speakers of 64 clips, 8 classes, 4 layers: in train (speakers 1-16) layers 1 and 3 both
    hold the class; in dev (17-20) layer 3 holds another class's mean, in test (21-24) layer
    1 does. Choices made on dev take layer 1 and leave out layer 3; made on test, the reverse."""
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(8), 24 * 8).astype(np.int32)
    speakers = np.repeat(np.arange(1, 25), 64)
    first, third = rng.normal(size=(2, 8, 6)) * 3
    wrong = np.roll(np.arange(8), 3)
    embeddings = rng.normal(size=(len(labels), 4, 6))
    embeddings[:, 1] += first[np.where(speakers > 20, wrong[labels], labels)]
    embeddings[:, 3] += third[np.where((speakers > 16) & (speakers <= 20), wrong[labels], labels)]
    names = np.asarray([f"clip{index:04d}" for index in range(len(labels))])
    return Bundle(names, embeddings.astype(np.float32), labels, speakers, {}, tuple("abcdefgh"), ("layers", "dim"),
                  (0, 1, 2, 3))


def _split(bundle: Bundle) -> dict:
    return {name: subset(bundle, np.flatnonzero(np.isin(bundle.speakers, list(speakers))))
            for name, speakers in (("train", range(1, 17)), ("dev", range(17, 21)), ("test", range(21, 25)))}


@pytest.mark.parametrize("config", [classifier.TrainConfig(head="lda", ensemble=1), classifier.TrainConfig(epochs=40)])
def test_choices_follow_dev_where_dev_and_test_disagree(config):
    fold = _split(_misleading())
    _, metrics = classifier.fit_and_score(fold, config)
    chosen = metrics["config"]
    layers = chosen["layers"] if chosen["layers"] is not None else []
    assert 1 in layers and 3 not in layers, chosen
    assert metrics["splits"]["dev"]["ua"] > 0.9 and metrics["splits"]["test"]["ua"] < 0.5
    scrambled = dict(fold, test=dataclasses.replace(fold["test"], labels=np.random.default_rng(1).permutation(
        fold["test"].labels)))
    _, again = classifier.fit_and_score(scrambled, config)
    assert again["config"] == metrics["config"] and again.get("choices") == metrics.get("choices")
    assert again.get("design") == metrics.get("design")


def test_head_auto_scores_every_design_on_dev_and_keeps_the_best(ravdess_dir):
    stacks = stack_bundle(ravdess_dir, separation=0.6)
    speech = subset(stacks, np.flatnonzero(stacks.facets["vocal_channel"] == "speech"))
    fold = _split(speech)
    _, metrics = classifier.fit_and_score(fold, classifier.TrainConfig(epochs=60))
    tried = metrics["design"]["tried"]
    assert metrics["design"]["chosen_on"] == "dev"
    assert sorted((design["head"], design["ensemble"] or 0) for design in tried) == sorted(
        [("lda", size) for size in AUTO_ENSEMBLES] + [("linear", 0)])
    order = [("lda", size) for size in AUTO_ENSEMBLES] + [("linear", None)]
    best = max(tried, key=lambda design: (design["dev_ua"], -order.index((design["head"], design["ensemble"]))))
    assert tried[0] == best
    assert metrics["config"]["head"] == best["head"]
    assert metrics["splits"]["dev"]["ua"] == pytest.approx(best["dev_ua"])  # not trained again: the design itself
    assert metrics["trained_on"] == ["train"]
    if best["head"] == "lda" and best["ensemble"] > 1:
        assert metrics["config"]["ensemble"] == best["ensemble"]


@pytest.mark.parametrize("settings, heads", [({"shrinkage": 0.5}, {"lda"}), ({"l2": 1e-3, "epochs": 30}, {"linear"})])
def test_a_head_s_own_setting_narrows_the_design_to_that_head(stacks, settings, heads):
    speech = subset(stacks, np.flatnonzero(stacks.facets["vocal_channel"] == "speech"))
    _, metrics = classifier.fit_and_score(_split(speech), classifier.TrainConfig(**settings))
    assert {design["head"] for design in metrics["design"]["tried"]} == heads


def test_settings_of_two_heads_suit_no_design(stacks):
    speech = subset(stacks, np.flatnonzero(stacks.facets["vocal_channel"] == "speech"))
    with pytest.raises(ParameterError, match="head='auto' chooses among lda, linear, and the settings given suit none: l2=0.001 is a "
                       "setting of the linear head"):
        classifier.fit_and_score(_split(speech), classifier.TrainConfig(shrinkage=0.5, l2=1e-3))


def _emodb_bundle(seed: int = 0) -> Bundle:
    """Every EmoDB file EmoBox's folds list, as ``(clips, 2, 6)`` stacks: layer 1 holds the
    emotion's mean, both layers a per-speaker offset and noise."""
    names = np.asarray(sorted(set().union(*emodb_folds())))
    speakers = np.asarray([int(name[:2]) for name in names])
    labels = np.asarray([list(EMODB_LETTERS).index(name[5]) for name in names], np.int32)
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(len(names), 2, 6)) + rng.normal(size=(17, 2, 6))[speakers]
    embeddings[:, 1] += rng.normal(size=(7, 6))[labels] * 3
    return Bundle(names, embeddings.astype(np.float32), labels, speakers, {}, EMODB_NAMES, ("layers", "dim"), (0, 1))


def test_emobox_s_emodb_folds_are_its_files_and_speaker_dependent():
    folds = emodb_folds()
    assert [len(fold) for fold in folds] == [107] * 5 and len(set().union(*folds)) == 535
    assert all(not (first & second) for index, first in enumerate(folds) for second in folds[index + 1:])
    assert ("03a01Fa.wav" in folds[4]) and ("03a01Nc.wav" in folds[2])  # the first rows of EmoBox's table
    record = crossval.cross_validate({"train": _emodb_bundle()}, classifier.TrainConfig(head="lda", layers=(1,),
                                                                                        shrinkage=0.5),
                                     protocol="emobox")
    assert record["speaker_dependent"] is True and record["regime"]["dev"] == "none"
    assert [fold["clips"] for fold in record["folds"]] == [107] * 5
    for fold in record["folds"]:  # every speaker is tested in every fold, and trained on
        assert fold["test_speakers"] == [3, 8, 9, 10, 11, 12, 13, 14, 15, 16]
        assert fold["dev_clips"] == 0 and fold["trained_on"] == ["train"]
    assert record["ua"]["mean"] > 0.8
    groups = audit._groups({"train": _emodb_bundle()}, protocol="emobox", corpus=CORPORA["emodb"], seed=0,
                           where="data")
    assert all(len(audit.speakers_in_several_splits({name: bundle.speakers for name, bundle in splits.items()}))
               == 10 for _, splits in groups)


def test_emobox_s_cremad_fold_tests_a_quarter_and_puts_a_published_twin_on_both_sides():
    protocol = CORPORA["cremad"].protocols["emobox"]
    test, = protocol.clip_folds()
    assert len(test) == 1856 and len(protocol.expected_clips()) == 7442 and test <= set(protocol.expected_clips())
    assert protocol.speaker_dependent and len({int(name[:4]) for name in test}) == 91
    crossing = [sorted(pair) for pair in CORPORA["cremad"].published_duplicates if len(pair & test) == 1]
    assert crossing == [["1006_TIE_HAP_XX.wav", "1006_TIE_NEU_XX.wav"]]
    with pytest.raises(ParameterError, match="its folds are lists of files"):
        protocol.split_preset()
