"""The 95 % interval of cross-validated scores: a bootstrap over test speakers within each fold,
checked against distributions worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from ravdess_prep.evaluation.intervals import confusion_scores, speaker_bootstrap, speaker_confusions
from ravdess_prep.evaluation.metrics import evaluate


def test_speaker_confusions_count_each_speakers_clips():
    labels, predicted, speakers = [0, 1, 1, 0, 2], [0, 1, 0, 0, 2], [7, 7, 3, 3, 7]
    found = speaker_confusions(labels, predicted, speakers, num_classes=3)
    assert found.shape == (2, 3, 3)
    np.testing.assert_array_equal(found[0], [[1, 0, 0], [1, 0, 0], [0, 0, 0]])  # speaker 3
    np.testing.assert_array_equal(found[1], [[1, 0, 0], [0, 1, 0], [0, 0, 1]])  # speaker 7


def test_scores_of_a_confusion_matrix_are_evaluates():
    rng = np.random.default_rng(1)
    labels, predicted = rng.integers(0, 4, 60), rng.integers(0, 3, 60)  # class 3 never predicted
    expected = evaluate(labels, predicted, label_names=list("abcd"))
    confusion = speaker_confusions(labels, predicted, np.zeros(60), num_classes=4)[0]
    scores = confusion_scores(confusion)
    for name in ("ua", "wa", "macro_f1"):
        assert float(scores[name]) == pytest.approx(expected[name], abs=1e-12), name


def test_two_speakers_one_right_one_wrong_span_zero_to_one():
    """One fold of two speakers, one all right and one all wrong: a resample is {right, right},
    {right, wrong} or {wrong, wrong} with probabilities 1/4, 1/2, 1/4, so UA is 1, 1/2 or 0, and
    the 95 % interval spans 0 to 1; the middle half of the resamples is 1/2."""
    right = np.array([[5, 0], [0, 5]])
    wrong = np.array([[0, 5], [5, 0]])
    fold = np.stack([right, wrong])
    interval = speaker_bootstrap([fold], seed=0)
    assert interval["ua"] == [0.0, 1.0] and interval["wa"] == [0.0, 1.0]
    narrow = speaker_bootstrap([fold], seed=0, level=0.4)
    assert narrow["ua"] == [0.5, 0.5]


def test_folds_are_averaged_and_the_seed_fixes_the_interval():
    """Speakers alike give an interval of no width at the mean over folds (a fold at UA 1 and
    one at UA 1/2: 3/4); other speakers give one that contains it, the same for the same seed."""
    perfect = np.stack([np.array([[3, 0], [0, 3]])] * 3)
    half = np.stack([np.array([[3, 0], [3, 0]])] * 2)
    assert speaker_bootstrap([perfect, half], seed=5)["ua"] == [0.75, 0.75]
    rng = np.random.default_rng(2)
    folds = [rng.integers(0, 6, (4, 3, 3)) for _ in range(3)]
    first, again, other = (speaker_bootstrap(folds, seed=seed) for seed in (1, 1, 2))
    assert first == again and first != other
    mean_ua = np.mean([float(confusion_scores(fold.sum(axis=0))["ua"]) for fold in folds])
    low, high = first["ua"]
    assert low < mean_ua < high and high - low > 0.01
