"""Fitting a head: what the model takes of a clip, the choices made on dev, and the final fit.

A head's open choices (which layers of a stack, the lda head's shrinkage) are made on the dev
split, never on test: every candidate is trained on train and scored by UA on dev, and the best
one (the first of equal ones) is kept; the lda head keeps the few best and averages their
scores (``ensemble``). The reported model is then that choice trained on train, or, with
``refit``, on train and dev together (what ``crossval`` does for the folds it reports).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Sequence

import numpy as np

from ..dataset.bundles import Bundle
from ..exceptions import ParameterError, option
from .heads import ENSEMBLE, LDA_FALLBACK, SHRINKAGES, TrainConfig, axes_of, build_model, lda_model
from .shrinkage_lda import LinearClassifier, fit_shrinkage_lda
from ..embedders.outputs import zero_outside

#: At most this many layer boundaries are tried (``layers="auto"``): 28 contiguous ranges.
MOST_BOUNDARIES = 8


@dataclasses.dataclass(frozen=True)
class Fitted:
    """What :func:`fit` produced.

    Attributes:
        model: The Keras model; it takes clips as :func:`model_inputs` makes them with ``config``.
        config: The configuration with every choice filled (head, layers, shrinkage, rate, epochs).
        history: Keras's per-epoch values (empty for the lda head).
        choices: ``[{"layers", "shrinkage", "dev_ua"}, ...]``, every candidate scored on dev
            (empty when there was nothing to choose); the lda head averages the best
            ``config.ensemble`` of them.
        trained_on: The splits the model was trained on.
    """

    model: Any
    config: TrainConfig
    history: dict
    choices: list
    trained_on: tuple[str, ...]


def layer_numbers_of(bundle: Bundle) -> list[int]:
    """The layer numbers of a stack (as the manifest numbers them; else 0, 1, ...)."""
    axes = axes_of(bundle.embeddings.shape[1:], bundle.axes)
    return list(bundle.layer_numbers or range(bundle.embeddings.shape[1 + axes.index("layers")]))


def layer_ranges(numbers: Sequence[int], *, most_boundaries: int = MOST_BOUNDARIES) -> list[tuple[int, ...]]:
    """The contiguous ranges of a stack's layers that ``layers="auto"`` chooses among: every
    range between two of at most ``most_boundaries`` evenly spaced boundaries (every range of
    a stack of 7 layers; 28 ranges of a stack of 13)."""
    count = len(numbers)
    cuts = sorted({int(round(cut)) for cut in np.linspace(0, count, min(count, most_boundaries - 1) + 1)})
    return [tuple(numbers[start:end]) for start, end in itertools.combinations(cuts, 2)]


def model_inputs(bundle: Bundle, config: TrainConfig) -> Bundle:
    """A bundle as the model takes it: one layer of a stack (``config.layer``), or some layers
    concatenated along the feature axis (``config.layers``, numbers as the manifest lists
    them); else unchanged.

    Raises:
        ParameterError: ``layer`` or ``layers`` given for clips without layers, or a layer the
            stack lacks (the message names the stack's layers).
    """
    if config.head == "sequence":
        bundle = _masked(bundle)
    wanted = config.layer if config.layer is not None else config.layers
    if wanted is None or wanted == "auto":
        return bundle
    axes = axes_of(bundle.embeddings.shape[1:], bundle.axes)
    name = "layer" if config.layer is not None else "layers"
    if "layers" not in axes:
        raise ParameterError(f"{option(name, wanted if name == 'layer' else list(wanted))}: the clips are not a "
                             f"stack of layers (their axes: {', '.join(axes)})")
    numbers = layer_numbers_of(bundle)
    chosen = (wanted,) if name == "layer" else tuple(wanted)
    outside = [number for number in chosen if number not in numbers]
    if outside:
        raise ParameterError(f"{option(name, wanted if name == 'layer' else list(wanted))}: the stack has "
                             f"{len(numbers)} layers, numbered {numbers[0]} to {numbers[-1]} (not {outside[0]})")
    axis = 1 + axes.index("layers")
    taken = np.take(bundle.embeddings, [numbers.index(number) for number in chosen], axis=axis)
    rest = tuple(axis_name for axis_name in axes if axis_name != "layers")
    if name == "layer":
        taken = np.squeeze(taken, axis=axis)
    else:  # the layers side by side on the feature axis
        taken = np.moveaxis(taken, axis, -2)
        taken = taken.reshape(taken.shape[:-2] + (taken.shape[-2] * taken.shape[-1],))
    return dataclasses.replace(bundle, embeddings=taken, axes=rest, layer_numbers=None)


def _masked(bundle: Bundle) -> Bundle:
    """The bundle with every frame outside each clip's own frames zeroed (what the sequence
    head's masked mean leaves out).

    Raises:
        ParameterError: The clips are not sequences, or their frames are not known.
    """
    axes = axes_of(bundle.embeddings.shape[1:], bundle.axes)
    if "examples" not in axes:
        raise ParameterError(f"{option('head', 'sequence')} takes sequences of frames (a build with "
                             f"{option('pool', 'none')}), not clips of axes ({', '.join(axes)})")
    if bundle.frames is None:
        raise ParameterError(f"{option('head', 'sequence')} needs to know which frames are each clip's own: a dataset "
                             "of a speech encoder built with --pool none records them, these bundles do not")
    return dataclasses.replace(bundle, embeddings=zero_outside(bundle.embeddings, bundle.frames,
                                                               axis=1 + axes.index("examples")))


def joined(first: Bundle, second: Bundle) -> Bundle:
    """Two bundles of the same kind as one (train and dev, for a refit)."""
    facets = {key: np.concatenate([first.facets[key], second.facets[key]]) for key in first.facets}

    def both(field):
        values = getattr(first, field), getattr(second, field)
        return None if values[0] is None or values[1] is None else np.concatenate(values)

    return dataclasses.replace(first, names=both("names"), embeddings=both("embeddings"), labels=both("labels"),
                               speakers=both("speakers"), facets=facets, frames=both("frames"))


def unweighted_accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    """UA: the mean recall over the classes present in ``labels``."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    return float(np.mean([np.mean(predicted[labels == label] == label) for label in np.unique(labels)]))


def candidates(config: TrainConfig, *, head: str, stack: Sequence[int] | None, has_dev: bool) -> list[TrainConfig]:
    """Every configuration to try, each with its layers and shrinkage decided.

    Raises:
        ParameterError: ``auto`` asked for without a dev split, or layers for clips without.
    """
    layers, shrinkage = config.layers, config.shrinkage
    for name, value in (("layers", layers), ("shrinkage", shrinkage)):
        if value == "auto" and not has_dev:
            raise ParameterError(f"{option(name, 'auto')} is chosen on the dev split, and there is none")
    if layers == "auto" and stack is None:
        raise ParameterError(f"{option('layers', 'auto')}: the clips are not a stack of layers")
    if stack is None or config.layer is not None:
        layer_options: list = [None]
    elif layers == "auto" or (layers is None and head == "lda" and has_dev):
        layer_options = layer_ranges(stack)
    elif layers is None and head == "lda":
        layer_options = [tuple(stack) if LDA_FALLBACK["layers"] is None else LDA_FALLBACK["layers"]]
    else:
        layer_options = [layers]
    if head != "lda":
        shrink_options: list = [None]
    elif shrinkage == "auto" or (shrinkage is None and has_dev):
        shrink_options = list(SHRINKAGES)
    else:
        shrink_options = [LDA_FALLBACK["shrinkage"] if shrinkage is None else float(shrinkage)]
    return [dataclasses.replace(config, head=head, layers=option_layers, shrinkage=option_shrinkage)
            for option_layers in layer_options for option_shrinkage in shrink_options]


def fit(train: Bundle, dev: Bundle | None, config: TrainConfig, *, num_classes: int, refit: bool = False,
        verbose: int = 0) -> Fitted:
    """Make the open choices on dev, then fit the model to report.

    Args:
        train: The training clips.
        dev: The dev clips (None or empty: no choices can be made).
        config: The hyperparameters; ``auto`` values are chosen on dev.
        num_classes: The classes.
        refit: Train the reported model on train and dev together.
        verbose: Keras verbosity.

    Raises:
        ParameterError: A choice that needs dev without one, layers the stack lacks.
    """
    has_dev = dev is not None and len(dev) > 0
    axes = axes_of(train.embeddings.shape[1:], train.axes)
    head = config.head_for(axes)
    stack = layer_numbers_of(train) if "layers" in axes else None
    options = candidates(config, head=head, stack=stack, has_dev=has_dev)
    choices, members = [], options[:1]
    if len(options) > 1:
        scores = _dev_scores(train, dev, options, num_classes=num_classes)
        choices = [{"layers": None if option_config.layers is None else list(option_config.layers),
                    "shrinkage": option_config.shrinkage, "dev_ua": score}
                   for option_config, score in zip(options, scores)]
        size = (config.ensemble or ENSEMBLE) if head == "lda" else 1
        members = [options[index] for index in np.argsort(-np.asarray(scores), kind="stable")[:size]]
    data = joined(train, dev) if refit and has_dev else train
    trained_on = ("train", "dev") if refit and has_dev else ("train",)
    if len(members) > 1:
        model, chosen = _fit_ensemble(data, members, stack=stack, num_classes=num_classes)
        return Fitted(model, chosen, {}, choices, trained_on)
    watched = dev if has_dev and not refit else None
    model, history, chosen = _fit_one(data, watched, members[0], num_classes=num_classes, verbose=verbose)
    return Fitted(model, chosen, history, choices, trained_on)


def _fit_ensemble(data: Bundle, members: list[TrainConfig], *, stack: list[int] | None, num_classes: int):
    """``(model, config)`` of the lda candidates ``members`` averaged: each member's scorer
    written over the union of their layers (zero weight on the layers it does not take; over
    every feature when a clip is one vector), the weights and biases averaged. The
    standardisation of a feature is the same in every member (the same clips), so the average
    is one linear scorer."""
    span = None if stack is None else tuple(number for number in stack
                                            if any(number in member.layers for member in members))
    whole = model_inputs(data, dataclasses.replace(members[0], layers=span))
    features = _flat(whole).shape[1]
    weights = np.zeros((features, num_classes))
    bias = np.zeros(num_classes)
    for layers, group in itertools.groupby(members, key=lambda member: member.layers):
        group = list(group)
        rows = np.arange(features) if span is None else np.concatenate(
            [np.arange(features // len(span)) + span.index(number) * (features // len(span)) for number in layers])
        fitted = fit_shrinkage_lda(_flat(whole)[:, rows], whole.labels, num_classes=num_classes,
                                   shrinkages=[member.shrinkage for member in group])
        for classifier in fitted:
            weights[rows] += classifier.weights / len(members)
            bias += classifier.bias / len(members)
    mean, scale = _flat(whole).mean(axis=0), _flat(whole).std(axis=0)
    combined = LinearClassifier(mean, np.where(scale > 0, scale, 1.0), weights, bias)
    config = dataclasses.replace(members[0], layers=span, shrinkage=None, ensemble=len(members)).resolved(("dim",))
    return lda_model(combined, whole.embeddings.shape[1:]), config


def _dev_scores(train: Bundle, dev: Bundle, options: list[TrainConfig], *, num_classes: int) -> list[float]:
    """Each option's UA on dev, trained on train (lda options of one layer set share a fit)."""
    scores = {}
    for layers, group in itertools.groupby(options, key=lambda option_config: option_config.layers):
        group = list(group)
        train_inputs, dev_inputs = model_inputs(train, group[0]), model_inputs(dev, group[0])
        if group[0].head == "lda":
            fitted = fit_shrinkage_lda(_flat(train_inputs), train_inputs.labels, num_classes=num_classes,
                                       shrinkages=[option_config.shrinkage for option_config in group])
            for option_config, classifier in zip(group, fitted):
                scores[id(option_config)] = unweighted_accuracy(dev.labels, classifier.predict(_flat(dev_inputs)))
        else:
            for option_config in group:
                model, _, _ = _fit_one(train, None, option_config, num_classes=num_classes, verbose=0)
                predicted = np.argmax(model.predict(dev_inputs.embeddings, verbose=0), axis=-1)
                scores[id(option_config)] = unweighted_accuracy(dev.labels, predicted)
    return [scores[id(option_config)] for option_config in options]


def _fit_one(data: Bundle, watched: Bundle | None, config: TrainConfig, *, num_classes: int, verbose: int):
    """``(model, history, config resolved)`` of one configuration trained on ``data``."""
    import keras

    inputs = model_inputs(data, config)
    axes = axes_of(inputs.embeddings.shape[1:], inputs.axes)
    config = config.resolved(axes)
    if config.head == "lda":
        if "examples" in axes:
            raise ParameterError(f"{option('head', 'lda')} takes one vector per clip (or a stack of layers), not "
                                 f"clips of axes ({', '.join(axes)})")
        classifier, = fit_shrinkage_lda(_flat(inputs), inputs.labels, num_classes=num_classes,
                                        shrinkages=[config.shrinkage])
        return lda_model(classifier, inputs.embeddings.shape[1:]), {}, config
    model = build_model(inputs.embeddings.shape[1:], config, num_classes=num_classes, train_inputs=inputs.embeddings,
                        axes=axes)
    callbacks = []
    if config.early_stopping:
        if watched is None:
            raise ParameterError(f"{option('early_stopping', config.early_stopping)} watches the dev split, and "
                                 "there is none (or it is trained on)")
        callbacks = [keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=config.early_stopping,
                                                   restore_best_weights=True)]
    validation = None if watched is None else (model_inputs(watched, config).embeddings, watched.labels)
    history = model.fit(inputs.embeddings, inputs.labels, batch_size=config.batch_size, epochs=config.epochs,
                        validation_data=validation, shuffle=True, verbose=verbose, callbacks=callbacks)
    return model, {key: [float(value) for value in values] for key, values in history.history.items()}, config


def _flat(bundle: Bundle) -> np.ndarray:
    """The clips as vectors ``(clips, features)``."""
    return bundle.embeddings.reshape(len(bundle), -1)
