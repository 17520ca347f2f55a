"""The classifier stage: a small model on the bundles of any embedder (Keras 3).

The heads (the original project's BiGRU for sequences, a linear or MLP head for one vector
per clip) and their hyperparameters are in :mod:`ravdess_prep.heads`; the scores in
:mod:`ravdess_prep.metrics`. :func:`train` fits on train, monitors dev, evaluates every split and writes into the model
folder ``model.keras``, ``metrics.json``, ``history.json`` and ``confusion_matrix.png``.
:func:`predict_files` embeds new recordings with a dataset's settings and classifies them;
:func:`cross_validate` trains one model per speaker fold. Speakers, label names and the facets
accuracy is broken down by come with the bundles (:func:`ravdess_prep.bundle.read_bundles`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from .atomic import atomic_path
from .audio import check_complete
from .config import Config
from .bundle import Bundle, read_bundles
from .manifest import Manifest
from .corpora import CORPORA
from .exceptions import ParameterError, SourceError, option
from .output import check_model_folder
from .pipeline import embed_files
from .heads import HEAD_DEFAULTS, HEADS, TrainConfig, axes_of, build_model, custom_objects, layer_weights
from .metrics import evaluate, plot_confusion, plot_layer_weights
from .split import k_fold_by_speaker, leave_one_speaker_out

_log = logging.getLogger("ravdess_prep")

MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
CONFUSION_FILE = "confusion_matrix.png"
LAYER_WEIGHTS_FILE = "layer_weights.png"


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

    check_model_folder(model_dir)
    bundles = read_bundles(data) if not isinstance(data, Mapping) else dict(data)
    if "train" not in bundles or len(bundles["train"]) == 0:
        raise SourceError(f"{data}: no training clips")
    layer_numbers = bundles["train"].layer_numbers
    bundles = {name: model_inputs(bundle, config) for name, bundle in bundles.items()}
    if config.speaker_norm:
        if any(bundle.speakers is None for bundle in bundles.values()):
            raise SourceError(f"{data}: speaker normalisation needs each clip's speaker, and the bundles lack them")
        lonely = sorted({(int(speaker), name) for name, bundle in bundles.items()
                         for speaker, count in zip(*np.unique(bundle.speakers, return_counts=True)) if count < 2})
        if lonely:
            raise SourceError(f"{data}: speaker normalisation needs at least two clips of every speaker; "
                              + ", ".join(f"speaker {speaker:02d} has one (in {name})" for speaker, name in lonely[:3]))
        bundles = {name: dataclasses.replace(bundle, embeddings=normalise_per_speaker(
            bundle.embeddings, bundle.speakers, axes=bundle.axes)) for name, bundle in bundles.items()}
    keras.utils.set_random_seed(config.seed)
    train_bundle = bundles["train"]
    axes = axes_of(train_bundle.embeddings.shape[1:], train_bundle.axes)
    config = config.resolved(axes)
    label_names = class_names(train_bundle, config)
    model = build_model(train_bundle.embeddings.shape[1:], config, num_classes=len(label_names),
                        train_inputs=train_bundle.embeddings, axes=axes)
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
    metrics = {"config": dataclasses.asdict(config), "class_names": list(label_names), "axes": list(axes),
               "dataset": None if isinstance(data, Mapping) else dataset_record_of(data), "splits": {}}
    weights = layer_weights(model)
    if weights is not None:
        numbers = list(layer_numbers or range(len(weights)))
        metrics["layer_weights"] = {str(number): weight for number, weight in zip(numbers, weights)}
        plot_layer_weights(metrics["layer_weights"], model_dir / LAYER_WEIGHTS_FILE)
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
    return keras.saving.load_model(path, custom_objects=custom_objects())


def predict_probabilities(model, embeddings: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Class probabilities (softmax of the logits), float32 ``(clips, classes)``."""
    import keras

    logits = model.predict(np.asarray(embeddings, np.float32), batch_size=batch_size, verbose=0)
    return np.asarray(keras.ops.softmax(logits, axis=-1), dtype=np.float32)


def predict_classes(model, embeddings: np.ndarray) -> np.ndarray:
    """Predicted labels, int32 ``(clips,)``."""
    return np.argmax(predict_probabilities(model, embeddings), axis=-1).astype(np.int32)


def normalise_per_speaker(embeddings: np.ndarray, speakers: np.ndarray, *,
                          axes: Sequence[str] | None = None) -> np.ndarray:
    """Each speaker's features standardised with that speaker's own clips.

    Args:
        embeddings: float array ``(clips, *row shape)``.
        speakers: The speaker of each clip, ``(clips,)``.
        axes: A row's axes (default: by rank, a vector or a sequence of examples).

    Returns:
        float32, the same shape: ``(x - mean) / std`` per feature (and per layer of a stack),
        the mean and standard deviation taken over the speaker's clips and their examples; a
        feature constant within a speaker becomes 0.
    """
    embeddings, speakers = np.asarray(embeddings), np.asarray(speakers)
    names = ("clips",) + axes_of(embeddings.shape[1:], tuple(axes) if axes is not None else None)
    reduce = tuple(index for index, name in enumerate(names) if name in ("clips", "examples"))
    normalised = np.empty(embeddings.shape, np.float32)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        values = embeddings[rows].astype(np.float64)
        mean, std = values.mean(axis=reduce, keepdims=True), values.std(axis=reduce, keepdims=True)
        normalised[rows] = (values - mean) / np.where(std > 0, std, 1.0)
    return normalised


def model_inputs(bundle: Bundle, config: TrainConfig) -> Bundle:
    """A bundle as the model takes it: one layer of a stack when ``config.layer`` says so.

    Raises:
        ParameterError: ``layer`` given for clips without layers, or a layer the stack lacks.
    """
    if config.layer is None:
        return bundle
    axes = axes_of(bundle.embeddings.shape[1:], bundle.axes)
    if "layers" not in axes:
        raise ParameterError(f"{option('layer', config.layer)}: the clips are not a stack of layers "
                             f"(their axes: {', '.join(axes)})")
    numbers = list(bundle.layer_numbers or range(bundle.embeddings.shape[1 + axes.index("layers")]))
    if config.layer not in numbers:
        raise ParameterError(f"{option('layer', config.layer)}: the bundles hold layers {numbers}")
    taken = np.take(bundle.embeddings, numbers.index(config.layer), axis=1 + axes.index("layers"))
    return dataclasses.replace(bundle, embeddings=taken, axes=tuple(axis for axis in axes if axis != "layers"),
                               layer_numbers=None)


def class_names(bundle: Bundle, config: TrainConfig = TrainConfig()) -> tuple[str, ...]:
    """The classes' names: the bundle's label names, or ``"0"``, ``"1"``, ... when it has none."""
    count = config.num_classes or (len(bundle.label_names) if bundle.label_names else int(bundle.labels.max()) + 1)
    names = tuple(bundle.label_names or ())
    return names[:count] if len(names) >= count else tuple(str(label) for label in range(count))


def predict_files(paths: Sequence[str | os.PathLike], *, dataset: str | os.PathLike,
                  model_dir: str | os.PathLike, on_too_long: str | None = None,
                  files=None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class probabilities of new recordings, embedded with ``dataset``'s settings. A model
    trained with speaker normalisation takes the files as clips of one speaker, standardised
    together (so give several, the more the better).

    Returns:
        ``(probabilities, class names)``: float32 ``(len(paths), classes)`` and each class's name.
    """
    model_dir = Path(model_dir)
    path = model_dir / METRICS_FILE
    try:
        metrics = json.loads(path.read_text())
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file; is {model_dir} a model folder written by ravdess-prep train?") \
            from None
    except (OSError, ValueError) as error:
        raise SourceError(f"{path}: not readable ({error})") from None
    trained = metrics.get("config", {})
    speaker_norm = trained.get("speaker_norm", False)
    if speaker_norm and len(paths) < 2:
        raise ParameterError(f"{model_dir}: the model was trained with speaker normalisation; give several clips "
                             "of one speaker (they are standardised together), not one")
    manifest = Manifest.read(dataset)
    check_same_dataset(metrics.get("dataset"), dataset_record(manifest), model_dir=model_dir, dataset=dataset)
    for audio in paths:  # every file is checked before any model is loaded
        check_complete(audio)
    rows = embed_files(paths, dataset, on_too_long=on_too_long, files=files)
    clips = model_inputs(Bundle(np.asarray([str(path) for path in paths]), rows, np.zeros(len(paths), np.int32),
                                axes=tuple(manifest.output.get("axes", ())[1:]) or None,
                                layer_numbers=tuple(manifest.output["layers"]) if "layers" in manifest.output else None),
                         TrainConfig(layer=trained.get("layer")))
    embeddings = clips.embeddings
    if speaker_norm:
        embeddings = normalise_per_speaker(embeddings, np.zeros(len(paths), int), axes=clips.axes)
    probabilities = predict_probabilities(load_model(model_dir), embeddings)
    names = tuple(metrics.get("class_names") or (str(label) for label in range(probabilities.shape[1])))
    return probabilities, names


def dataset_record(manifest: Manifest) -> dict:
    """What identifies the data a model is trained on: the settings that decide a clip's
    embedding, the target length, the model files' digests and a row's shape."""
    config = {key: value for key, value in manifest.config.to_dict().items() if key not in Config.SPLIT_FIELDS}
    return {"config": config, "target_length_samples": manifest.target.length_samples,
            "files": {role: entry["sha256"] for role, entry in sorted(manifest.embedder.get("files", {}).items())},
            "row_shape": list(manifest.row_shape)}


def dataset_record_of(folder) -> dict | None:
    """:func:`dataset_record` of a bundle folder (None for the original project's bundles)."""
    return dataset_record(Manifest.read(folder)) if (Path(folder) / "manifest.json").is_file() else None


def check_same_dataset(trained: dict | None, given: dict, *, model_dir, dataset) -> None:
    """Raise :class:`ParameterError` when a model was trained on data other than ``dataset``'s
    (other settings, target, model files or shape), naming both and the first difference."""
    if trained is None or trained == given:
        return
    for key in ("row_shape", "target_length_samples", "files", "config"):
        if trained.get(key) != given.get(key):
            first, second = trained.get(key), given.get(key)
            if key == "config":
                changed = sorted(name for name in set(first or {}) | set(second or {})
                                 if (first or {}).get(name) != (second or {}).get(name))
                detail = "; ".join(f"{name}: {(first or {}).get(name)!r} against {(second or {}).get(name)!r}"
                                   for name in changed[:3])
            else:
                detail = f"{first!r} against {second!r}"
            raise ParameterError(f"{model_dir} was trained on data other than {dataset}'s ({key} differs: {detail}); "
                                 "give the dataset the model was trained on")


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
    corpus = _corpus_of(data)
    if folds in ("speaker", "actor"):
        splits: Iterable = ((held, train_index, (), held_index)
                            for held, train_index, held_index in leave_one_speaker_out(speakers))
    elif isinstance(folds, str) and folds in corpus.split_presets and corpus.preset(folds).groups is not None:
        splits = _preset_folds(corpus.preset(folds), speakers, order=tuple(corpus.speakers) or np.unique(speakers))
    elif isinstance(folds, int) and not isinstance(folds, bool):
        splits = ((held, train_index, (), held_index)
                  for held, train_index, held_index in k_fold_by_speaker(speakers, num_folds=folds, seed=config.seed))
    else:
        raise ParameterError(f"{option('folds')} has to be 'speaker', a number of folds, or a split preset with "
                             f"folds ({', '.join(name for name in corpus.split_presets if corpus.preset(name).groups)}), "
                             f"not {folds!r}")

    def subset(index):
        index = np.asarray(index, dtype=int)
        return Bundle(names[index], embeddings[index], labels[index], speakers[index],
                      {facet: values[index] for facet, values in facets.items()}, first.label_names, first.axes,
                      first.layer_numbers)

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


def _corpus_of(data) -> "Corpus":
    """The corpus of a bundle folder (RAVDESS for bundles given in memory or without one)."""
    name = "ravdess"
    if not isinstance(data, Mapping) and (Path(data) / "manifest.json").is_file():
        name = Manifest.read(data).corpus.get("name", name)
    return CORPORA[name] if name in CORPORA else CORPORA["ravdess"]


def _preset_folds(preset: "SplitPreset", speakers: np.ndarray, *, order):
    """``(test speakers present, train, dev, test indices)`` of every fold of a split preset
    over the speakers ``order`` (the corpus's), leaving out folds with no test clip; each fold
    left out or without a dev clip is noted on the ``ravdess_prep`` logger."""
    for fold in range(1, preset.fold_count(order) + 1):
        dev, test = preset.speakers(fold=fold, speakers=order)
        held = np.isin(speakers, test)
        if not held.any():
            _log.info("%s fold %d left out: the bundles hold no clip of its test speakers %s", preset.name, fold,
                      _speakers(test))
            continue
        watched = np.isin(speakers, dev)
        if not watched.any():
            _log.info("%s fold %d: the bundles hold no clip of its dev speakers %s; trained without a dev split",
                      preset.name, fold, _speakers(dev))
        yield tuple(int(speaker) for speaker in np.unique(speakers[held])), np.flatnonzero(~held & ~watched), \
            np.flatnonzero(watched), np.flatnonzero(held)


def _speakers(speakers) -> str:
    return ", ".join(f"{int(speaker):02d}" for speaker in speakers)


def _write_json(path: Path, value) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
