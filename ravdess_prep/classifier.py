"""The classifier stage: a small model on the bundles of any embedder (Keras 3).

The heads (the original project's BiGRU for sequences, a linear or MLP head for one vector
per clip, shrinkage LDA for vectors and layer stacks) and their hyperparameters are in
:mod:`ravdess_prep.heads`; how a head is fitted and its choices made on dev in
:mod:`ravdess_prep.fitting`; the scores in :mod:`ravdess_prep.metrics`. :func:`train` makes the
choices on dev, fits on train, evaluates every split and writes into the model folder
``model.keras``, ``metrics.json``, ``history.json`` and ``confusion_matrix.png``.
:func:`predict_files` embeds new recordings with a dataset's settings and classifies them;
:mod:`ravdess_prep.crossval` trains one model per speaker fold. Speakers, label names and the
facets accuracy is broken down by come with the bundles (:func:`ravdess_prep.bundle.read_bundles`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .atomic import atomic_path, write_json
from .audio import check_complete
from .config import Config
from .bundle import Bundle
from .manifest import Manifest
from .emotions import canonical_of
from .exceptions import ParameterError, SourceError
from .output import check_model_folder
from .outputs import clip_frame_spans
from .pipeline import embed_files, trim
from .fitting import Fitted, fit, model_inputs
from .heads import HEAD_DEFAULTS, HEADS, TrainConfig, axes_of, custom_objects, layer_weights
from .metrics import evaluate, plot_confusion, plot_layer_weights
from .training_data import is_fusion, normalise_per_speaker, read_data, speaker_normalised, where_of

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
    data,
    model_dir: str | os.PathLike,
    config: TrainConfig = TrainConfig(),
    *,
    refit: bool = False,
    verbose: int = 0,
) -> TrainResult:
    """Make the head's choices on ``dev``, train on ``train``, evaluate every split, and save
    everything.

    Args:
        data: A bundle folder (this library's or the original's format), several folders of
            the same clips (fused side by side, see :func:`ravdess_prep.training_data.fuse`),
            or ``{split: Bundle}``. A dataset built with a protocol's split preset is read in
            the protocol's classes.
        model_dir: Where ``model.keras``, ``metrics.json``, ``history.json`` and
            ``confusion_matrix.png`` go.
        config: Hyperparameters; ``auto`` layers and shrinkage are chosen on dev.
        refit: Train the reported model on train and dev together, once the choices are made
            (its dev scores are then on clips it was trained on).
        verbose: Keras verbosity (0 silent, 1 progress bar, 2 one line per epoch).

    Returns:
        A :class:`TrainResult`.

    Raises:
        SourceError: No train split, bundles with another number of classes, datasets that
            cannot be fused.
    """
    check_model_folder(model_dir)
    if not isinstance(data, (str, os.PathLike, Mapping)) and len(data) == 1:
        data = data[0]
    where = where_of(data)
    fusion = is_fusion(data)
    bundles = read_data(data, layers=config.layers if fusion else None)
    fitted, metrics = fit_and_score(bundles, dataclasses.replace(config, layers=None) if fusion else config,
                                    refit=refit, verbose=verbose, where=where)
    if fusion:
        metrics["config"]["layers"] = _json_ready({"layers": config.layers})["layers"]
        metrics["datasets"] = [{"folder": str(folder), **(dataset_record_of(folder) or {})} for folder in data]
    manifest = None if isinstance(data, Mapping) or fusion else manifest_of(data)
    metrics["dataset"] = None if manifest is None else dataset_record(manifest)
    if manifest is not None:  # the classes' canonical emotions, as the dataset records its corpus's
        corpus = manifest.corpus
        canonical = canonical_of(metrics["class_names"], label_names=corpus.get("label_names", ()),
                                 canonical_names=corpus.get("canonical_names"))
        if canonical is not None:
            metrics["canonical_names"] = list(canonical)
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(model_dir / MODEL_FILE, suffix=".keras") as temporary:
        fitted.model.save(temporary)
    if "layer_weights" in metrics:
        plot_layer_weights(metrics["layer_weights"], model_dir / LAYER_WEIGHTS_FILE)
    write_json(model_dir / METRICS_FILE, metrics)
    write_json(model_dir / HISTORY_FILE, fitted.history)
    plot_confusion(metrics["splits"], model_dir / CONFUSION_FILE)
    return TrainResult(model_dir, metrics, fitted.history)


def fit_and_score(bundles: Mapping[str, Bundle], config: TrainConfig = TrainConfig(), *, refit: bool = False,
                  verbose: int = 0, where: str = "the bundles given",
                  splits: Sequence[str] | None = None) -> tuple[Fitted, dict]:
    """What :func:`train` computes, without writing: the fitted head and its metrics.

    Args:
        bundles: ``{split: Bundle}`` (a train split at least).
        splits: The splits scored (None: every split).

    Returns:
        ``(fitted, metrics)``: see :class:`ravdess_prep.fitting.Fitted`; ``metrics`` as
        ``metrics.json`` holds them, without the dataset's record.
    """
    import keras

    if "train" not in bundles or len(bundles["train"]) == 0:
        raise SourceError(f"{where}: no training clips")
    if config.speaker_norm:
        bundles = speaker_normalised(bundles, where=where)
    keras.utils.set_random_seed(config.seed)
    train_bundle = bundles["train"]
    label_names = class_names(train_bundle, config)
    fitted = fit(train_bundle, bundles.get("dev"), config, num_classes=len(label_names), refit=refit, verbose=verbose)
    inputs = model_inputs(train_bundle, fitted.config)  # a clip as the model takes it
    metrics = {"config": _json_ready(dataclasses.asdict(fitted.config)), "class_names": list(label_names),
               "axes": list(axes_of(inputs.embeddings.shape[1:], inputs.axes)),
               "trained_on": list(fitted.trained_on), "splits": {}}
    if fitted.choices:
        ranked = sorted(fitted.choices, key=lambda choice: -choice["dev_ua"])  # stable: the first of equals
        metrics["choices"] = {"chosen_on": "dev", "chosen": ranked[0], "members": ranked[:fitted.config.ensemble or 1],
                              "candidates": fitted.choices}
    weights = layer_weights(fitted.model)
    if weights is not None:
        numbers = list(train_bundle.layer_numbers or range(len(weights)))
        metrics["layer_weights"] = {str(number): weight for number, weight in zip(numbers, weights)}
    for name, bundle in bundles.items():
        if len(bundle) and (splits is None or name in splits):
            predicted = predict_classes(fitted.model, model_inputs(bundle, fitted.config).embeddings)
            metrics["splits"][name] = evaluate(bundle.labels, predicted, label_names=label_names, facets=bundle.facets)
    return fitted, metrics


def _json_ready(values: dict) -> dict:
    """A configuration's values with tuples as lists."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in values.items()}


def load_model(model_dir: str | os.PathLike):
    """The trained Keras model saved by :func:`train`."""
    import keras

    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        raise SourceError(f"{path}: no trained model (run `ravdess-prep train` first)")
    return keras.saving.load_model(path, custom_objects=custom_objects())


def predict_logits(model, embeddings: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """The model's scores of each class before the softmax, float32 ``(clips, classes)``
    (comparable within a subset of the classes, where probabilities may all round to 0)."""
    return np.asarray(model.predict(np.asarray(embeddings, np.float32), batch_size=batch_size, verbose=0), np.float32)


def predict_probabilities(model, embeddings: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Class probabilities (softmax of the logits), float32 ``(clips, classes)``."""
    import keras

    logits = predict_logits(model, embeddings, batch_size=batch_size)
    return np.asarray(keras.ops.softmax(logits, axis=-1), dtype=np.float32)


def predict_classes(model, embeddings: np.ndarray) -> np.ndarray:
    """Predicted labels, int32 ``(clips,)``."""
    return np.argmax(predict_probabilities(model, embeddings), axis=-1).astype(np.int32)


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
    metrics = read_model_record(model_dir)
    trained = metrics.get("config", {})
    if metrics.get("datasets"):
        raise ParameterError(f"{model_dir} was trained on several datasets side by side "
                             f"({', '.join(str(record.get('folder')) for record in metrics['datasets'])}); "
                             "predict embeds with one dataset's settings: train a model on one dataset for it")
    speaker_norm = trained.get("speaker_norm", False)
    if speaker_norm and len(paths) < 2:
        raise ParameterError(f"{model_dir}: the model was trained with speaker normalisation; give several clips "
                             "of one speaker (they are standardised together), not one")
    manifest = Manifest.read(dataset)
    check_same_dataset(metrics.get("dataset"), dataset_record(manifest), model_dir=model_dir, dataset=dataset)
    for audio in paths:  # every file is checked before any model is loaded
        check_complete(audio)
    rows = embed_files(paths, dataset, on_too_long=on_too_long, files=files)
    head = trained.get("head")
    clips = model_inputs(Bundle(np.asarray([str(path) for path in paths]), rows, np.zeros(len(paths), np.int32),
                                axes=tuple(manifest.output.get("axes", ())[1:]) or None,
                                layer_numbers=tuple(manifest.output["layers"]) if "layers" in manifest.output else None,
                                frames=_frames_of_files(paths, manifest) if head == "sequence" else None),
                         TrainConfig(head="sequence" if head == "sequence" else "auto", layer=trained.get("layer"),
                                     layers=trained.get("layers")))
    embeddings = clips.embeddings
    if speaker_norm:
        embeddings = normalise_per_speaker(embeddings, np.zeros(len(paths), int), axes=clips.axes)
    probabilities = predict_probabilities(load_model(model_dir), embeddings)
    names = tuple(metrics.get("class_names") or (str(label) for label in range(probabilities.shape[1])))
    return probabilities, names


def read_model_record(model_dir: str | os.PathLike) -> dict:
    """What a model folder's ``metrics.json`` records: its configuration, classes, scores and
    the dataset it was trained on.

    Raises:
        SourceError: No such file, or not readable JSON; the message names it.
    """
    path = Path(model_dir) / METRICS_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file; is {model_dir} a model folder written by ravdess-prep train?") \
            from None
    except (OSError, ValueError) as error:
        raise SourceError(f"{path}: not readable ({error})") from None


def _frames_of_files(paths, manifest: Manifest) -> np.ndarray:
    """Each new file's own frames among those of its padded input, as the dataset's clips'
    (see :func:`ravdess_prep.outputs.clip_frame_spans`)."""
    embedder = manifest.config.embedder
    lengths = [trim(path, manifest.config)[0].shape[0] for path in paths]
    return clip_frame_spans(lengths, target_length_samples=manifest.target.length_samples,
                            sample_rate_hz=manifest.target.sample_rate_hz, model_rate_hz=embedder.sample_rate_hz,
                            frames_of=lambda samples: embedder.num_examples(samples,
                                                                            sample_rate_hz=embedder.sample_rate_hz))


def dataset_record(manifest: Manifest) -> dict:
    """What identifies the data a model is trained on: the settings that decide a clip's
    embedding, the target length, the model files' digests and a row's shape."""
    config = {key: value for key, value in manifest.config.to_dict().items() if key not in Config.SPLIT_FIELDS}
    return {"config": config, "target_length_samples": manifest.target.length_samples,
            "files": {role: entry["sha256"] for role, entry in sorted(manifest.embedder.get("files", {}).items())},
            "row_shape": list(manifest.row_shape)}


def manifest_of(folder) -> Manifest | None:
    """A bundle folder's manifest (None for the original project's bundles, which have none)."""
    return Manifest.read(folder) if (Path(folder) / "manifest.json").is_file() else None


def dataset_record_of(folder) -> dict | None:
    """:func:`dataset_record` of a bundle folder (None for the original project's bundles)."""
    manifest = manifest_of(folder)
    return None if manifest is None else dataset_record(manifest)


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
