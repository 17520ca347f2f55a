"""The classifier stage: the original project's recurrent model on the bundles (Keras 3).

Model (FACTS.md): input ``(examples, 128)`` -> BatchNormalization -> Dropout(0.6) ->
Bidirectional GRU(128) -> Dropout(0.6) -> BatchNormalization -> Dense(8) logits; Adam with
learning rate 1e-4, batches of 128, 160 epochs, sparse softmax cross-entropy on logits.

:func:`train` fits on train, monitors dev, evaluates every split and writes into the model
folder ``model.keras``, ``metrics.json``, ``history.json`` and ``confusion_matrix.png``.
:func:`predict_files` embeds new recordings with a dataset's settings and classifies them;
:func:`cross_validate` trains one model per actor fold.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from .atomic import atomic_path
from .bundle import Bundle, read_bundles
from .exceptions import ParameterError, SourceError
from .params import EMOTION_NAMES
from .ravdess import parse_clip_name

MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
CONFUSION_FILE = "confusion_matrix.png"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of the classifier; the defaults are the original project's.

    Attributes:
        gru_units: Units of each direction of the bidirectional GRU.
        dropout: Dropout rate of both dropout layers.
        learning_rate: Adam's learning rate.
        batch_size: Clips per training step.
        epochs: Passes over the training split.
        seed: Seed of weight initialisation, dropout and shuffling.
        num_classes: Output classes (8 RAVDESS emotions).
    """

    gru_units: int = 128
    dropout: float = 0.6
    learning_rate: float = 1e-4
    batch_size: int = 128
    epochs: int = 160
    seed: int = 0
    num_classes: int = 8

    def __post_init__(self):
        for name in ("gru_units", "batch_size", "epochs", "num_classes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} has to be a positive integer, not {value!r}")
        if not 0 <= self.dropout < 1:
            raise ParameterError(f"dropout has to be in [0, 1), not {self.dropout!r}")
        if not self.learning_rate > 0:
            raise ParameterError(f"learning_rate has to be positive, not {self.learning_rate!r}")


def build_model(num_examples: int, config: TrainConfig = TrainConfig(), *, num_features: int = 128):
    """The original architecture as a Keras model with logits output.

    Args:
        num_examples: VGGish examples per clip (20 with the original settings).
        config: Hyperparameters.
        num_features: Values per example (128).
    """
    import keras

    inputs = keras.Input(shape=(num_examples, num_features), name="embeddings")
    x = keras.layers.BatchNormalization(name="input_norm")(inputs)
    x = keras.layers.Dropout(config.dropout, seed=config.seed, name="input_dropout")(x)
    x = keras.layers.Bidirectional(keras.layers.GRU(config.gru_units, seed=config.seed), name="bigru")(x)
    x = keras.layers.Dropout(config.dropout, seed=config.seed + 1, name="gru_dropout")(x)
    x = keras.layers.BatchNormalization(name="gru_norm")(x)
    outputs = keras.layers.Dense(config.num_classes, name="logits")(x)
    model = keras.Model(inputs, outputs, name="ravdess_emotion_classifier")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What :func:`train` produced: the model folder, the metrics per split, the history."""

    model_dir: Path
    metrics: dict
    history: dict


def train(
    data: str | os.PathLike | Mapping[str, Bundle],
    model_dir: str | os.PathLike,
    config: TrainConfig = TrainConfig(),
    *,
    verbose: int = 0,
) -> TrainResult:
    """Train on ``train``, monitor ``dev``, evaluate every split, and save everything.

    Args:
        data: A bundle folder (this library's or the original's format) or ``{split: Bundle}``.
        model_dir: Where ``model.keras``, ``metrics.json``, ``history.json`` and
            ``confusion_matrix.png`` go.
        config: Hyperparameters.
        verbose: Keras verbosity (0 silent, 1 progress bar, 2 one line per epoch).

    Returns:
        A :class:`TrainResult`.

    Raises:
        SourceError: No train split, or bundles with another number of classes.
    """
    import keras

    bundles = read_bundles(data) if not isinstance(data, Mapping) else dict(data)
    if "train" not in bundles or len(bundles["train"]) == 0:
        raise SourceError(f"{data}: no training clips")
    keras.utils.set_random_seed(config.seed)
    train_bundle = bundles["train"]
    model = build_model(train_bundle.embeddings.shape[1], config, num_features=train_bundle.embeddings.shape[2])
    dev = bundles.get("dev")
    history = model.fit(
        train_bundle.embeddings, train_bundle.labels, batch_size=config.batch_size, epochs=config.epochs,
        validation_data=(dev.embeddings, dev.labels) if dev is not None and len(dev) else None,
        shuffle=True, verbose=verbose,
    )
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(model_dir / MODEL_FILE, suffix=".keras") as temporary:
        model.save(temporary)
    metrics = {"config": dataclasses.asdict(config), "splits": {}}
    for name, bundle in bundles.items():
        if len(bundle):
            predicted = predict_classes(model, bundle.embeddings)
            metrics["splits"][name] = evaluate(bundle.labels, predicted, bundle.names, num_classes=config.num_classes)
    _write_json(model_dir / METRICS_FILE, metrics)
    history_values = {key: [float(value) for value in values] for key, values in history.history.items()}
    _write_json(model_dir / HISTORY_FILE, history_values)
    plot_confusion(metrics["splits"], model_dir / CONFUSION_FILE)
    return TrainResult(model_dir, metrics, history_values)


def load_model(model_dir: str | os.PathLike):
    """The trained Keras model saved by :func:`train`."""
    import keras

    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        raise SourceError(f"{path}: no trained model (run `ravdess-prep train` first)")
    return keras.saving.load_model(path)


def predict_probabilities(model, embeddings: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Class probabilities (softmax of the logits), float32 ``(clips, classes)``."""
    import keras

    logits = model.predict(np.asarray(embeddings, np.float32), batch_size=batch_size, verbose=0)
    return np.asarray(keras.ops.softmax(logits, axis=-1), dtype=np.float32)


def predict_classes(model, embeddings: np.ndarray) -> np.ndarray:
    """Predicted labels, int32 ``(clips,)``."""
    return np.argmax(predict_probabilities(model, embeddings), axis=-1).astype(np.int32)


def evaluate(labels: np.ndarray, predicted: np.ndarray, names: Sequence[str] | None = None, *,
             num_classes: int = 8) -> dict:
    """Accuracy, balanced accuracy, per-class precision/recall/F1, the confusion matrix, and
    (when clip names are given) accuracy per intensity and per vocal channel.

    Args:
        labels: True labels, int ``(clips,)``.
        predicted: Predicted labels, int ``(clips,)``.
        names: Clip names (``speech/Actor_08/03-01-...wav``); their metadata groups the accuracy.
        num_classes: Number of classes.

    Returns:
        A JSON-ready dictionary.
    """
    labels, predicted = np.asarray(labels, int), np.asarray(predicted, int)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    true_counts, predicted_counts = confusion.sum(axis=1), confusion.sum(axis=0)
    correct = np.diag(confusion)
    recall = np.divide(correct, true_counts, out=np.zeros(num_classes), where=true_counts > 0)
    precision = np.divide(correct, predicted_counts, out=np.zeros(num_classes), where=predicted_counts > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(num_classes), where=denominator > 0)
    class_names = list(EMOTION_NAMES[:num_classes]) if num_classes <= len(EMOTION_NAMES) else [str(i) for i in range(num_classes)]
    result = {
        "clips": int(labels.size),
        "accuracy": float(correct.sum() / labels.size) if labels.size else 0.0,
        "balanced_accuracy": float(recall[true_counts > 0].mean()) if (true_counts > 0).any() else 0.0,
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(true_counts[i])}
            for i, name in enumerate(class_names)
        },
        "class_names": class_names,
        "confusion_matrix": confusion.tolist(),
    }
    if names is not None:
        infos = [parse_clip_name(name) for name in names]
        hits = labels == predicted
        for facet, values in (("intensity", [info.intensity_name for info in infos]),
                              ("vocal_channel", [info.vocal_channel_name for info in infos])):
            values = np.asarray(values)
            result[f"accuracy_by_{facet}"] = {
                value: float(hits[values == value].mean()) for value in sorted(set(values.tolist()))
            }
    return result


def plot_confusion(split_metrics: Mapping[str, dict], path: str | os.PathLike) -> Path:
    """Draw each split's confusion matrix (counts, and rates normalised by true class) to a PNG.

    The image has one panel per split: cells coloured by the row-normalised rate and labelled
    with the count and the rate; emotion names on both axes.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = list(split_metrics)
    figure, axes = plt.subplots(1, len(names), figsize=(6.4 * len(names), 6.0), squeeze=False, dpi=100)
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
    figure.tight_layout()
    path = Path(path)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png")
    plt.close(figure)
    return path


def predict_files(paths: Sequence[str | os.PathLike], *, dataset: str | os.PathLike,
                  model_dir: str | os.PathLike) -> np.ndarray:
    """Class probabilities of new recordings, embedded with ``dataset``'s settings.

    Returns:
        float32 ``(len(paths), classes)``.
    """
    from .pipeline import embed_files

    embeddings = embed_files(paths, dataset)
    return predict_probabilities(load_model(model_dir), embeddings)


def cross_validate(
    data: str | os.PathLike | Mapping[str, Bundle],
    config: TrainConfig = TrainConfig(),
    *,
    folds: str | int = "actor",
    model_root: str | os.PathLike | None = None,
    verbose: int = 0,
) -> dict:
    """Cross-validation by actor over every clip of the bundles.

    Args:
        data: A bundle folder or ``{split: Bundle}``; all splits are pooled.
        config: Hyperparameters.
        folds: ``"actor"`` (leave one actor out) or a number of folds (k folds by actor,
            shuffled with ``config.seed``).
        model_root: If given, each fold's model folder is written under it.
        verbose: Keras verbosity.

    Returns:
        ``{"folds": [{"held_out_actors", "accuracy", "balanced_accuracy", "clips"}...],
        "mean_accuracy", "std_accuracy"}``.
    """
    import tempfile

    from .split import k_fold_by_actor, leave_one_actor_out

    bundles = read_bundles(data) if not isinstance(data, Mapping) else dict(data)
    names = np.concatenate([bundle.names for bundle in bundles.values()])
    embeddings = np.concatenate([bundle.embeddings for bundle in bundles.values()])
    labels = np.concatenate([bundle.labels for bundle in bundles.values()])
    actors = np.asarray([parse_clip_name(name).actor for name in names])
    if folds == "actor":
        splits: Iterable = (((actor,), train, held) for actor, train, held in leave_one_actor_out(actors))
    elif isinstance(folds, int):
        splits = k_fold_by_actor(actors, num_folds=folds, seed=config.seed)
    else:
        raise ParameterError(f"folds has to be 'actor' or a number of folds, not {folds!r}")
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for held_actors, train_index, held_index in splits:
            fold = {"train": Bundle(names[train_index], embeddings[train_index], labels[train_index]),
                    "test": Bundle(names[held_index], embeddings[held_index], labels[held_index])}
            folder = Path(model_root or scratch) / ("fold-" + "-".join(f"{a:02d}" for a in held_actors))
            outcome = train(fold, folder, config, verbose=verbose)
            test = outcome.metrics["splits"]["test"]
            results.append({"held_out_actors": list(held_actors), "clips": test["clips"],
                            "accuracy": test["accuracy"], "balanced_accuracy": test["balanced_accuracy"]})
    accuracies = np.asarray([fold["accuracy"] for fold in results])
    return {"folds": results, "mean_accuracy": float(accuracies.mean()), "std_accuracy": float(accuracies.std())}


def _write_json(path: Path, value) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
