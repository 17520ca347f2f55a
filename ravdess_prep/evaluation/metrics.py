"""Scores of a classifier's predictions: the field's three (UA, WA, macro-F1), per class, per
facet, the confusion matrix, and its figure.

Speech-emotion papers report *UA* (unweighted accuracy: the mean of the per-class recalls, also
called balanced accuracy or UAR), *WA* (weighted accuracy: the share of clips right) and
*macro-F1* (the mean of the per-class F1 scores).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..storage.atomic import atomic_path


def evaluate(labels: np.ndarray, predicted: np.ndarray, *, label_names: Sequence[str],
             facets: Mapping[str, np.ndarray] = {}) -> dict:
    """UA, WA and macro-F1, per-class precision/recall/F1, the confusion matrix, and accuracy
    per value of each facet.

    Args:
        labels: True labels, int ``(clips,)``.
        predicted: Predicted labels, int ``(clips,)``.
        label_names: The name of each class (their count is the number of classes).
        facets: ``{column: values (clips,)}`` (for RAVDESS: intensity, vocal channel); each
            gives ``accuracy_by_<column>``.

    Returns:
        A JSON-ready dictionary: ``ua`` (the mean recall over the classes present in
        ``labels``; also under its older name ``balanced_accuracy``), ``wa`` (the share of
        clips right; also ``accuracy``), ``macro_f1`` (the mean F1 over the classes present in
        ``labels`` or ``predicted``, as scikit-learn's ``f1_score(average="macro")``), ``clips``,
        ``per_class``, ``class_names``, ``confusion_matrix`` and ``accuracy_by_<facet>``.
    """
    num_classes = len(label_names)
    labels, predicted = np.asarray(labels, int), np.asarray(predicted, int)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    true_counts, predicted_counts = confusion.sum(axis=1), confusion.sum(axis=0)
    correct = np.diag(confusion)
    recall = np.divide(correct, true_counts, out=np.zeros(num_classes), where=true_counts > 0)
    precision = np.divide(correct, predicted_counts, out=np.zeros(num_classes), where=predicted_counts > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(num_classes), where=denominator > 0)
    present = (true_counts > 0) | (predicted_counts > 0)
    wa = float(correct.sum() / labels.size) if labels.size else 0.0
    ua = float(recall[true_counts > 0].mean()) if (true_counts > 0).any() else 0.0
    result = {
        "clips": int(labels.size),
        "ua": ua,
        "wa": wa,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "accuracy": wa,
        "balanced_accuracy": ua,
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(true_counts[i])}
            for i, name in enumerate(label_names)
        },
        "class_names": list(label_names),
        "confusion_matrix": confusion.tolist(),
    }
    hits = labels == predicted
    for facet, values in facets.items():
        values = np.asarray(values).astype(str)
        result[f"accuracy_by_{facet}"] = {value: float(hits[values == value].mean())
                                          for value in sorted(set(values.tolist()))}
    return result


def plot_confusion(split_metrics: Mapping[str, dict], path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Draw each split's confusion matrix (counts, and rates normalised by true class) to a PNG.

    The image has one panel per split: cells coloured by the row-normalised rate and labelled
    with the count and the rate; emotion names on both axes. ``title``, when given, is stored
    in the PNG's metadata (how a command knows a figure it wrote).
    """
    names = list(split_metrics)
    figure = figure_of(figsize=(6.4 * len(names), 6.0))
    axes = figure.subplots(1, len(names), squeeze=False)
    for axis, name in zip(axes[0], names):
        confusion = np.asarray(split_metrics[name]["confusion_matrix"], dtype=float)
        classes = split_metrics[name]["class_names"]
        rows = confusion.sum(axis=1, keepdims=True)
        rates = np.divide(confusion, rows, out=np.zeros_like(confusion), where=rows > 0)
        axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(classes)):
            for j in range(len(classes)):
                axis.text(j, i, f"{int(confusion[i, j])}\n{rates[i, j]:.0%}", ha="center", va="center", fontsize=7,
                          color="white" if rates[i, j] > 0.5 else "black")
        axis.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
        axis.set_yticks(range(len(classes)), classes)
        axis.set_xlabel("predicted emotion")
        axis.set_ylabel("true emotion")
        axis.set_title(f"{name}: accuracy {split_metrics[name]['accuracy']:.1%}")
    return write_png(figure, path, metadata={"Title": title} if title is not None else None)


def plot_layer_weights(weights: Mapping[str, float], path: str | os.PathLike) -> Path:
    """A bar plot of a layer-stack head's learned weight of each layer, to a PNG."""
    figure = figure_of(figsize=(6.4, 3.6))
    axis = figure.subplots()
    axis.bar(list(weights), list(weights.values()), color="tab:blue")
    axis.set_xlabel("layer (0: the input of the first block)")
    axis.set_ylabel("learned weight (softmax)")
    axis.set_title("which layers the classifier uses")
    return write_png(figure, path)


def figure_of(*, figsize: tuple[float, float]):
    """A matplotlib figure of its own, outside pyplot: drawing it neither needs nor changes the
    backend a notebook or a script has chosen (imported when a figure is drawn)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=100)


def write_png(figure, path: str | os.PathLike, *, metadata: dict | None = None) -> Path:
    """Lay ``figure`` out and write it to ``path`` as a PNG atomically (``metadata``: text
    chunks, as matplotlib's ``savefig`` takes them)."""
    figure.tight_layout()
    path = Path(path)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", metadata=metadata)
    return path
