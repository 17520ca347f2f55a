"""The classifier stage: a small model on the bundles of any embedder (Keras 3).

Sequences of examples ``(examples, dim)`` go to the original project's recurrent model
(FACTS.md): BatchNormalization -> Dropout(0.6) -> Bidirectional GRU(128) -> Dropout(0.6) ->
BatchNormalization -> Dense(classes) logits; Adam with learning rate 1e-4, batches of 128, 160
epochs, sparse softmax cross-entropy on logits. One vector per clip ``(dim,)`` (pooled or
clip-level bundles) goes to a linear head, standardisation (fitted on train) -> Dense(classes)
with an L2 penalty (multinomial logistic regression, the usual baseline for eGeMAPS), or to a
small MLP: standardisation -> Dropout -> Dense(hidden, ReLU) -> Dropout -> Dense(classes);
both trained the same way.

:func:`train` fits on train, monitors dev, evaluates every split and writes into the model
folder ``model.keras``, ``metrics.json``, ``history.json`` and ``confusion_matrix.png``.
:func:`predict_files` embeds new recordings with a dataset's settings and classifies them;
:func:`cross_validate` trains one model per speaker fold. Speakers, label names and the facets
accuracy is broken down by come with the bundles (:func:`ravdess_prep.bundle.read_bundles`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from .atomic import atomic_path
from .bundle import Bundle, read_bundles, read_manifest
from .corpora import CORPORA
from .exceptions import ParameterError, SourceError
from .pipeline import embed_files
from .split import SPLIT_PRESETS, k_fold_by_speaker, leave_one_speaker_out, preset_folds, preset_speakers

HEADS = ("auto", "bigru", "mlp", "linear")
#: Each head's learning rate and epochs when the configuration leaves them open: the BiGRU's
#: are the original recipe; the linear head's converge on eGeMAPS functionals (chosen on dev).
HEAD_DEFAULTS = {"bigru": {"learning_rate": 1e-4, "epochs": 160}, "linear": {"learning_rate": 1e-2, "epochs": 500},
                 "mlp": {"learning_rate": 1e-3, "epochs": 200}}
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
CONFUSION_FILE = "confusion_matrix.png"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of the classifier; the BiGRU's defaults are the original project's.

    Attributes:
        head: ``"bigru"`` (sequences), ``"linear"`` or ``"mlp"`` (one vector per clip), or
            ``"auto"``: the BiGRU for sequences, the linear head for vectors.
        gru_units: Units of each direction of the bidirectional GRU.
        hidden_units: Units of the MLP's hidden layer.
        l2: The linear head's L2 penalty on its weights (multinomial logistic regression).
        dropout: Dropout rate of both dropout layers.
        learning_rate: Adam's learning rate (None: the head's, :data:`HEAD_DEFAULTS`).
        batch_size: Clips per training step.
        epochs: Passes over the training split (None: the head's).
        seed: Seed of weight initialisation, dropout and shuffling.
        num_classes: Output classes (None: the bundles' label count, 8 for RAVDESS).
        early_stopping: None: train every epoch (the original recipe). An integer: stop when
            dev accuracy has not improved for that many epochs and keep the weights of the best
            epoch (needs a dev split).
        speaker_norm: Standardise each speaker's features with that speaker's own clips before
            training and evaluating (:func:`normalise_per_speaker`), the common practice with
            eGeMAPS. It uses the unlabelled clips of the dev and test speakers; :func:`predict_files`
            then needs several clips of one speaker.
    """

    head: str = "auto"
    gru_units: int = 128
    hidden_units: int = 256
    l2: float = 3e-4
    dropout: float = 0.6
    learning_rate: float | None = None
    batch_size: int = 128
    epochs: int | None = None
    seed: int = 0
    num_classes: int | None = None
    early_stopping: int | None = None
    speaker_norm: bool = False

    def __post_init__(self):
        if self.head not in HEADS:
            raise ParameterError(f"head has to be one of {', '.join(map(repr, HEADS))}, not {self.head!r}")
        optional = tuple(name for name in ("num_classes", "early_stopping", "epochs") if getattr(self, name) is not None)
        for name in ("gru_units", "hidden_units", "batch_size") + optional:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} has to be a positive integer, not {value!r}")
        if not 0 <= self.dropout < 1:
            raise ParameterError(f"dropout has to be in [0, 1), not {self.dropout!r}")
        if not self.l2 >= 0:
            raise ParameterError(f"l2 has to be a non-negative number, not {self.l2!r}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ParameterError(f"learning_rate has to be positive, not {self.learning_rate!r}")

    def head_for(self, input_shape: tuple[int, ...]) -> str:
        """The head for inputs of ``input_shape``: the BiGRU for sequences, else linear (or
        the one asked for)."""
        head = self.head if self.head != "auto" else ("bigru" if len(input_shape) == 2 else "linear")
        if (head == "bigru") != (len(input_shape) == 2):
            raise ParameterError(f"the {head} head does not take inputs of shape {tuple(input_shape)}")
        return head

    def resolved(self, input_shape: tuple[int, ...]) -> "TrainConfig":
        """This configuration with the head chosen and its learning rate and epochs filled."""
        head = self.head_for(input_shape)
        defaults = HEAD_DEFAULTS[head]
        return dataclasses.replace(self, head=head, learning_rate=self.learning_rate or defaults["learning_rate"],
                                   epochs=self.epochs or defaults["epochs"])


def build_model(input_shape: tuple[int, ...], config: TrainConfig = TrainConfig(), *, num_classes: int = 8,
                train_inputs: np.ndarray | None = None):
    """The classifier as a Keras model with logits output.

    Args:
        input_shape: ``(examples, dim)`` for sequences, ``(dim,)`` for one vector per clip.
        config: Hyperparameters (``head`` "auto" picks the BiGRU for sequences, the linear head
            else; see :meth:`TrainConfig.resolved`).
        num_classes: Output classes.
        train_inputs: The training inputs; the linear head's and the MLP's standardisation is
            fitted on them.
    """
    import keras

    config = config.resolved(tuple(input_shape))
    head = config.head
    inputs = keras.Input(shape=tuple(input_shape), name="embeddings")
    if head == "bigru":
        x = keras.layers.BatchNormalization(name="input_norm")(inputs)
        x = keras.layers.Dropout(config.dropout, seed=config.seed, name="input_dropout")(x)
        x = keras.layers.Bidirectional(keras.layers.GRU(config.gru_units, seed=config.seed), name="bigru")(x)
        x = keras.layers.Dropout(config.dropout, seed=config.seed + 1, name="gru_dropout")(x)
        x = keras.layers.BatchNormalization(name="gru_norm")(x)
    else:
        norm = keras.layers.Normalization(name="standardise")
        if train_inputs is not None:
            norm.adapt(np.asarray(train_inputs, np.float32))
        x = norm(inputs)
        if head == "mlp":
            x = keras.layers.Dropout(config.dropout, seed=config.seed, name="input_dropout")(x)
            x = keras.layers.Dense(config.hidden_units, activation="relu", name="hidden")(x)
            x = keras.layers.Dropout(config.dropout, seed=config.seed + 1, name="hidden_dropout")(x)
    regularizer = keras.regularizers.L2(config.l2) if head == "linear" else None
    outputs = keras.layers.Dense(num_classes, kernel_regularizer=regularizer, name="logits")(x)
    model = keras.Model(inputs, outputs, name=f"emotion_classifier_{head}")
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
    if config.speaker_norm:
        if any(bundle.speakers is None for bundle in bundles.values()):
            raise SourceError(f"{data}: speaker normalisation needs each clip's speaker, and the bundles lack them")
        bundles = {name: dataclasses.replace(bundle, embeddings=normalise_per_speaker(bundle.embeddings, bundle.speakers))
                   for name, bundle in bundles.items()}
    keras.utils.set_random_seed(config.seed)
    train_bundle = bundles["train"]
    config = config.resolved(train_bundle.embeddings.shape[1:])
    label_names = class_names(train_bundle, config)
    model = build_model(train_bundle.embeddings.shape[1:], config, num_classes=len(label_names),
                        train_inputs=train_bundle.embeddings)
    dev = bundles.get("dev")
    has_dev = dev is not None and len(dev) > 0
    if config.early_stopping and not has_dev:
        raise SourceError(f"{data}: early stopping watches the dev split, and there is none")
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=config.early_stopping,
                                               restore_best_weights=True)] if config.early_stopping else []
    history = model.fit(
        train_bundle.embeddings, train_bundle.labels, batch_size=config.batch_size, epochs=config.epochs,
        validation_data=(dev.embeddings, dev.labels) if has_dev else None,
        shuffle=True, verbose=verbose, callbacks=callbacks,
    )
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(model_dir / MODEL_FILE, suffix=".keras") as temporary:
        model.save(temporary)
    metrics = {"config": dataclasses.asdict(config), "class_names": list(label_names), "splits": {}}
    for name, bundle in bundles.items():
        if len(bundle):
            predicted = predict_classes(model, bundle.embeddings)
            metrics["splits"][name] = evaluate(bundle.labels, predicted, label_names=label_names, facets=bundle.facets)
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


def normalise_per_speaker(embeddings: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """Each speaker's features standardised with that speaker's own clips.

    Args:
        embeddings: float array ``(clips, dim)`` or ``(clips, examples, dim)``.
        speakers: The speaker of each clip, ``(clips,)``.

    Returns:
        float32, the same shape: ``(x - mean) / std`` per feature, the mean and standard
        deviation taken over the speaker's clips (and their examples); a feature constant
        within a speaker becomes 0.
    """
    embeddings, speakers = np.asarray(embeddings), np.asarray(speakers)
    normalised = np.empty(embeddings.shape, np.float32)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        values = embeddings[rows].astype(np.float64)
        axes = tuple(range(values.ndim - 1))
        mean, std = values.mean(axis=axes), values.std(axis=axes)
        normalised[rows] = (values - mean) / np.where(std > 0, std, 1.0)
    return normalised


def class_names(bundle: Bundle, config: TrainConfig = TrainConfig()) -> tuple[str, ...]:
    """The classes' names: the bundle's label names, or ``"0"``, ``"1"``, ... when it has none."""
    count = config.num_classes or (len(bundle.label_names) if bundle.label_names else int(bundle.labels.max()) + 1)
    names = tuple(bundle.label_names or ())
    return names[:count] if len(names) >= count else tuple(str(label) for label in range(count))


def evaluate(labels: np.ndarray, predicted: np.ndarray, *, label_names: Sequence[str],
             facets: Mapping[str, np.ndarray] = {}) -> dict:
    """Accuracy, balanced accuracy, per-class precision/recall/F1, the confusion matrix, and
    accuracy per value of each facet.

    Args:
        labels: True labels, int ``(clips,)``.
        predicted: Predicted labels, int ``(clips,)``.
        label_names: The name of each class (their count is the number of classes).
        facets: ``{column: values (clips,)}`` (for RAVDESS: intensity, vocal channel); each
            gives ``accuracy_by_<column>``.

    Returns:
        A JSON-ready dictionary.
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
    result = {
        "clips": int(labels.size),
        "accuracy": float(correct.sum() / labels.size) if labels.size else 0.0,
        "balanced_accuracy": float(recall[true_counts > 0].mean()) if (true_counts > 0).any() else 0.0,
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
                  model_dir: str | os.PathLike, on_too_long: str | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class probabilities of new recordings, embedded with ``dataset``'s settings. A model
    trained with speaker normalisation takes the files as clips of one speaker, standardised
    together (so give several, the more the better).

    Returns:
        ``(probabilities, class names)``: float32 ``(len(paths), classes)`` and each class's name.
    """
    model_dir = Path(model_dir)
    model = load_model(model_dir)
    try:
        metrics = json.loads((model_dir / METRICS_FILE).read_text())
    except (OSError, ValueError):
        metrics = {}
    speaker_norm = metrics.get("config", {}).get("speaker_norm", False)
    if speaker_norm and len(paths) < 2:
        raise ParameterError(f"{model_dir}: the model was trained with speaker normalisation; give several clips "
                             "of one speaker (they are standardised together), not one")
    embeddings = embed_files(paths, dataset, on_too_long=on_too_long)
    if speaker_norm:
        embeddings = normalise_per_speaker(embeddings, np.zeros(len(paths), int))
    probabilities = predict_probabilities(model, embeddings)
    names = tuple(metrics.get("class_names") or (str(label) for label in range(probabilities.shape[1])))
    return probabilities, names


def cross_validate(
    data: str | os.PathLike | Mapping[str, Bundle],
    config: TrainConfig = TrainConfig(),
    *,
    folds: str | int = "speaker",
    model_root: str | os.PathLike | None = None,
    verbose: int = 0,
) -> dict:
    """Cross-validation by speaker over every clip of the bundles.

    Args:
        data: A bundle folder or ``{split: Bundle}`` (with speakers); all splits are pooled.
        config: Hyperparameters.
        folds: ``"speaker"`` or ``"actor"`` (leave one speaker out), a number of folds (k folds
            by speaker, shuffled with ``config.seed``), or a split preset with folds (``"folds6"``,
            ``"loso"``; see :func:`ravdess_prep.split.preset_speakers`): each fold trains on its
            train speakers, watches its dev speakers and is scored on its test speakers.
        model_root: If given, each fold's model folder is written under it.
        verbose: Keras verbosity.

    Returns:
        ``{"folds": [{"held_out_speakers", "accuracy", "balanced_accuracy", "clips"}...],
        "mean_accuracy", "std_accuracy"}``.

    Raises:
        SourceError: The bundles do not say each clip's speaker.
        ParameterError: ``folds`` is neither a leave-one-out name nor a number.
    """
    bundles = read_bundles(data) if not isinstance(data, Mapping) else dict(data)
    if any(bundle.speakers is None for bundle in bundles.values()):
        raise SourceError(f"{data}: the bundles do not say each clip's speaker; cross-validation needs them")
    first = next(iter(bundles.values()))

    def pooled(field):
        return np.concatenate([getattr(bundle, field) for bundle in bundles.values()])

    names, embeddings, labels, speakers = pooled("names"), pooled("embeddings"), pooled("labels"), pooled("speakers")
    facets = {facet: np.concatenate([bundle.facets[facet] for bundle in bundles.values()]) for facet in first.facets}
    if folds in ("speaker", "actor"):
        splits: Iterable = ((held, train_index, (), held_index)
                            for held, train_index, held_index in leave_one_speaker_out(speakers))
    elif folds in SPLIT_PRESETS and folds != "original":
        splits = _preset_folds(folds, speakers, order=_corpus_speakers(data) or np.unique(speakers))
    elif isinstance(folds, int) and not isinstance(folds, bool):
        splits = ((held, train_index, (), held_index)
                  for held, train_index, held_index in k_fold_by_speaker(speakers, num_folds=folds, seed=config.seed))
    else:
        raise ParameterError(f"folds has to be 'speaker', a number of folds, 'folds6' or 'loso', not {folds!r}")

    def subset(index):
        index = np.asarray(index, dtype=int)
        return Bundle(names[index], embeddings[index], labels[index], speakers[index],
                      {facet: values[index] for facet, values in facets.items()}, first.label_names)

    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for held_speakers, train_index, dev_index, held_index in splits:
            folder = Path(model_root or scratch) / ("fold-" + "-".join(f"{s:02d}" for s in held_speakers))
            fold = {"train": subset(train_index), "test": subset(held_index)}
            if len(dev_index):
                fold["dev"] = subset(dev_index)
            outcome = train(fold, folder, config, verbose=verbose)
            test = outcome.metrics["splits"]["test"]
            results.append({"held_out_speakers": list(held_speakers), "clips": test["clips"],
                            "accuracy": test["accuracy"], "balanced_accuracy": test["balanced_accuracy"]})
    accuracies = np.asarray([fold["accuracy"] for fold in results])
    return {"folds": results, "mean_accuracy": float(accuracies.mean()), "std_accuracy": float(accuracies.std())}


def _corpus_speakers(data) -> tuple[int, ...]:
    """Every speaker of a bundle folder's corpus (empty when unknown)."""
    if isinstance(data, Mapping):
        return ()
    corpus = CORPORA.get(read_manifest(data).get("corpus", {}).get("name", "ravdess"))
    return tuple(corpus.speakers) if corpus is not None else ()


def _preset_folds(preset: str, speakers: np.ndarray, *, order):
    """``(test speakers present, train, dev, test indices)`` of every fold of a split preset
    over the speakers ``order`` (the corpus's), leaving out folds with no test clip."""
    for fold in range(1, (preset_folds(preset) or len(order)) + 1):
        dev, test = preset_speakers(preset, fold=fold, speakers=order)
        held = np.isin(speakers, test)
        if not held.any():
            continue
        watched = np.isin(speakers, dev)
        yield tuple(int(speaker) for speaker in np.unique(speakers[held])), np.flatnonzero(~held & ~watched), \
            np.flatnonzero(watched), np.flatnonzero(held)


def _write_json(path: Path, value) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
