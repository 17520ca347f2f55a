"""How sure a cross-validated score is: a 95 % interval by a bootstrap over test speakers.

Clips of one speaker are not independent (one voice, one recording session), so the unit
resampled is the speaker, not the clip. Each resample draws, within every fold, as many of
that fold's test speakers as it has, with replacement, pools the drawn speakers' clips (their
confusion matrices added), scores the fold, and averages the folds as the headline does; the
interval is the 2.5th and 97.5th percentiles of those averages. The fold structure is kept:
a fold's model only ever scores its own test speakers. With one test speaker per fold (leave
one speaker out) every fold's resample is that speaker, and the interval has no width: say
so, rather than quote it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: How many resamples, and the share of the distribution the interval covers.
RESAMPLES = 1000
LEVEL = 0.95
#: What a record says of the method.
METHOD = ("bootstrap over test speakers within each fold (each fold's speakers drawn with replacement, the folds "
          "averaged as the headline is)")


def speaker_confusions(labels: np.ndarray, predicted: np.ndarray, speakers: np.ndarray, *,
                       num_classes: int) -> np.ndarray:
    """One confusion matrix per speaker, ``(speakers, classes, classes)`` int64, speakers in
    sorted order (rows: the true class)."""
    found, index = np.unique(np.asarray(speakers), return_inverse=True)
    confusions = np.zeros((found.size, num_classes, num_classes), np.int64)
    np.add.at(confusions, (index, np.asarray(labels, int), np.asarray(predicted, int)), 1)
    return confusions


def confusion_scores(confusions: np.ndarray) -> dict[str, np.ndarray]:
    """UA, WA and macro-F1 of each confusion matrix of a stack ``(..., classes, classes)``, as
    :func:`ravdess_prep.evaluation.metrics.evaluate` scores one (UA over the classes present in
    the labels, macro-F1 over those present in labels or predictions)."""
    confusions = np.asarray(confusions, float)
    correct = np.diagonal(confusions, axis1=-2, axis2=-1)
    true, guessed = confusions.sum(axis=-1), confusions.sum(axis=-2)
    recall = np.divide(correct, true, out=np.zeros_like(correct), where=true > 0)
    precision = np.divide(correct, guessed, out=np.zeros_like(correct), where=guessed > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(correct), where=total > 0)
    present, either = true > 0, (true > 0) | (guessed > 0)
    clips = true.sum(axis=-1)
    return {"ua": np.divide((recall * present).sum(-1), present.sum(-1), out=np.zeros(clips.shape),
                            where=present.sum(-1) > 0),
            "wa": np.divide(correct.sum(-1), clips, out=np.zeros(clips.shape), where=clips > 0),
            "macro_f1": np.divide((f1 * either).sum(-1), either.sum(-1), out=np.zeros(clips.shape),
                                  where=either.sum(-1) > 0)}


def speaker_bootstrap(folds: Sequence[np.ndarray], *, seed: int, resamples: int = RESAMPLES,
                      level: float = LEVEL) -> dict[str, list[float]]:
    """The interval of the mean over folds of each score (see the module docstring).

    Args:
        folds: Each fold's :func:`speaker_confusions`.
        seed: The generator's seed (the same seed, the same interval).
        resamples: How many resamples.
        level: The share of the resampled means the interval covers.

    Returns:
        ``{"ua": [low, high], "wa": [...], "macro_f1": [...]}``.
    """
    generator = np.random.default_rng(seed)
    means = {name: np.zeros(resamples) for name in ("ua", "wa", "macro_f1")}
    for confusions in folds:
        drawn = generator.integers(0, len(confusions), size=(resamples, len(confusions)))
        scores = confusion_scores(confusions[drawn].sum(axis=1))
        for name in means:
            means[name] += scores[name] / len(folds)
    tail = (1 - level) / 2 * 100
    return {name: [float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))]
            for name, values in means.items()}
