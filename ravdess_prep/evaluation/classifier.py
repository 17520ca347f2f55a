"""The classifier stage: a small model on the bundles of any embedder (Keras 3).

The heads (the original project's BiGRU for sequences, a linear or MLP head for one vector
per clip, shrinkage LDA for vectors and layer stacks, and any plug-in) are in
:mod:`ravdess_prep.evaluation.heads`, their hyperparameters in
:mod:`ravdess_prep.evaluation.train_config`; how a head is fitted and its choices made on dev in
:mod:`ravdess_prep.evaluation.fitting`; the scores in :mod:`ravdess_prep.evaluation.metrics`. :func:`train` makes the
choices on dev, fits on train, evaluates every split and writes into the model folder
``model.keras``, ``metrics.json``, ``history.json`` and ``confusion_matrix.png``.
The model folder's files and records are :mod:`ravdess_prep.evaluation.model_folder`'s;
:func:`ravdess_prep.predict.predict_files` embeds new recordings and classifies them;
:mod:`ravdess_prep.evaluation.crossval` trains one model per speaker fold. Speakers, label names and the
facets accuracy is broken down by come with the bundles (:func:`ravdess_prep.dataset.bundles.read_bundles`).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..corpora.emotions import canonical_of
from ..dataset.bundles import Bundle
from ..exceptions import ModelOutputError, SourceError
from ..storage.atomic import atomic_path, write_json
from .fitting import AUTO_ENSEMBLES, AUTO_FAMILIES, Fitted, fit
from .heads import Head
from .heads.base import probabilities
from .metrics import evaluate, plot_confusion, plot_layer_weights
from .model_folder import (CONFUSION_FILE, HISTORY_FILE, LAYER_WEIGHTS_FILE, METRICS_FILE, check_model_folder,
                           dataset_record, seal)
from .speaker_norm import speaker_norm_record, speaker_normalised
from .train_config import TrainConfig
from .training_data import check_classes, folders_of, read_data


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
    flag: str = "model_dir",
    keep_predictions: bool = False,
) -> TrainResult:
    """Make the head's choices on ``dev``, train on ``train``, evaluate every split, and save
    everything.

    Args:
        data: A bundle folder (this library's or the original's format), several folders of
            the same clips (fused side by side, see :func:`ravdess_prep.evaluation.training_data.fuse`),
            or ``{split: Bundle}``. A dataset built with a protocol's split preset is read in
            the protocol's classes.
        model_dir: Where ``model.keras``, ``metrics.json``, ``history.json`` and
            ``confusion_matrix.png`` go.
        config: Hyperparameters; ``auto`` layers and shrinkage are chosen on dev.
        refit: Train the reported model on train and dev together, once the choices are made
            (its dev scores are then on clips it was trained on).
        verbose: Keras verbosity (0 silent, 1 progress bar, 2 one line per epoch).
        flag: The setting that names ``model_dir`` in messages (``crossval`` writes its folds'
            models under ``model_root``).
        keep_predictions: Record each split's predicted class per clip (see
            :func:`fit_and_score`).

    Returns:
        A :class:`TrainResult`.

    Raises:
        SourceError: No train split, bundles with another number of classes, datasets that
            cannot be fused.
    """
    check_model_folder(model_dir, flag=flag)
    fused = len(folders_of(data)) > 1
    training = read_data(data, layers=config.layers if fused else None)
    fitted, metrics = fit_and_score(training.bundles, dataclasses.replace(config, layers=None) if fused else config,
                                    refit=refit, verbose=verbose, where=training.where,
                                    keep_predictions=keep_predictions)
    if fused:
        metrics["config"]["layers"] = config.to_dict()["layers"]
        metrics["datasets"] = [{"folder": folder, **({} if manifest is None else dataset_record(manifest))}
                               for folder, manifest in zip(training.folders, training.manifests)]
    manifest = training.manifest
    metrics["dataset"] = None if manifest is None else dataset_record(manifest)
    if manifest is not None:  # the classes' canonical emotions, as the dataset records its corpus's
        corpus = manifest.corpus
        canonical = canonical_of(metrics["class_names"], label_names=corpus.get("label_names", ()),
                                 canonical_names=corpus.get("canonical_names"))
        if canonical is not None:
            metrics["canonical_names"] = list(canonical)
    if not fitted.head.finite(fitted.model):
        raise ModelOutputError(f"{model_dir}: the {fitted.head.name} head's fit on {training.where} gave weights that "
                               "are not finite numbers; nothing was saved (too few clips of a class? try another "
                               "head or more data)")
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    model_file = model_dir / fitted.head.model_file
    with atomic_path(model_file, suffix=model_file.suffix or ".tmp") as temporary:
        fitted.head.save(fitted.model, temporary)
    metrics = seal(metrics, model_file)
    if "layer_weights" in metrics:
        plot_layer_weights(metrics["layer_weights"], model_dir / LAYER_WEIGHTS_FILE)
    write_json(model_dir / METRICS_FILE, metrics)
    write_json(model_dir / HISTORY_FILE, fitted.history)
    plot_confusion(metrics["splits"], model_dir / CONFUSION_FILE)
    return TrainResult(model_dir, metrics, fitted.history)


def fit_and_score(bundles: Mapping[str, Bundle], config: TrainConfig = TrainConfig(), *, refit: bool = False,
                  verbose: int = 0, where: str = "the bundles given",
                  splits: Sequence[str] | None = None, keep_predictions: bool = False) -> tuple[Fitted, dict]:
    """What :func:`train` computes, without writing: the fitted head and its metrics.

    Args:
        bundles: ``{split: Bundle}`` (a train split at least).
        splits: The splits scored (None: every split).
        keep_predictions: Also give each scored split's predicted class per clip
            (``predicted``, in the bundle's order), as cross-validation's intervals need.

    Returns:
        ``(fitted, metrics)``: see :class:`ravdess_prep.evaluation.fitting.Fitted`; ``metrics`` as
        ``metrics.json`` holds them, without the dataset's record.
    """
    import keras

    if "train" not in bundles or len(bundles["train"]) == 0:
        raise SourceError(f"{where}: no training clips")
    if config.speaker_norm:
        bundles = speaker_normalised(bundles, where=where, enrol_clips=config.enrol_clips, seed=config.seed)
    keras.utils.set_random_seed(config.seed)
    train_bundle = bundles["train"]
    label_names = class_names(train_bundle, config)
    check_classes(bundles, label_names=label_names, where=where)
    fitted = fit(train_bundle, bundles.get("dev"), config, num_classes=len(label_names), refit=refit, verbose=verbose)
    metrics = {"config": fitted.config.to_dict(), "class_names": list(label_names),
               **({"speaker_norm": speaker_norm_record(enrol_clips=config.enrol_clips, seed=config.seed)} if config.speaker_norm else {}),
               "axes": list(fitted.inputs(train_bundle).axes), "trained_on": list(fitted.trained_on), "splits": {}}
    if fitted.choices:
        ranked = sorted(fitted.choices, key=lambda choice: -choice["dev_ua"])  # stable: the first of equals
        metrics["choices"] = {"chosen_on": "dev", "chosen": ranked[0], "members": ranked[:fitted.config.ensemble or 1],
                              "candidates": fitted.choices}
    if fitted.design:
        metrics["design"] = {"chosen_on": "dev", "families": list(AUTO_FAMILIES), "ensembles": list(AUTO_ENSEMBLES),
                             "tried": fitted.design}
    weights = fitted.layer_weights()
    if weights is not None:
        numbers = list(train_bundle.layer_numbers or range(len(weights)))
        metrics["layer_weights"] = {str(number): weight for number, weight in zip(numbers, weights)}
    for name, bundle in bundles.items():
        if len(bundle) and (splits is None or name in splits):
            predicted = fitted.predict(bundle)
            metrics["splits"][name] = evaluate(bundle.labels, predicted, label_names=label_names, facets=bundle.facets)
            if keep_predictions:  # the clips scored (an enrolment's are not)
                metrics["splits"][name].update(predicted=predicted.tolist(), labels=bundle.labels.tolist(),
                                               speakers=None if bundle.speakers is None else bundle.speakers.tolist())
    return fitted, metrics


def predict_logits(model, embeddings: np.ndarray, *, head: Head | None = None, batch_size: int = 256) -> np.ndarray:
    """The model's scores of each class before the softmax, float32 ``(clips, classes)``
    (comparable within a subset of the classes, where probabilities may all round to 0), as
    ``head`` computes them (None: a Keras model's logits output)."""
    return (head or Head()).logits(model, embeddings, batch_size=batch_size)


def predict_probabilities(model, embeddings: np.ndarray, *, head: Head | None = None,
                          batch_size: int = 256) -> np.ndarray:
    """Class probabilities (softmax of the logits), float32 ``(clips, classes)``."""
    return probabilities(predict_logits(model, embeddings, head=head, batch_size=batch_size))


def predict_classes(model, embeddings: np.ndarray, *, head: Head | None = None) -> np.ndarray:
    """Predicted labels, int32 ``(clips,)``."""
    return (head or Head()).classes(model, embeddings)


def class_names(bundle: Bundle, config: TrainConfig = TrainConfig()) -> tuple[str, ...]:
    """The classes' names: the bundle's label names, or ``"0"``, ``"1"``, ... when it has none."""
    count = config.num_classes or (len(bundle.label_names) if bundle.label_names else int(bundle.labels.max()) + 1)
    names = tuple(bundle.label_names or ())
    return names[:count] if len(names) >= count else tuple(str(label) for label in range(count))


