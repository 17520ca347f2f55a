"""Shrinkage LDA as a head (the ``auto`` head for a stack of layers): closed-form, so its open
choices are cheap to make on dev. With a dev split it tries every contiguous range of a stack's
layers (:func:`~ravdess_prep.evaluation.heads.base.layer_ranges`) with every shrinkage of
:data:`SHRINKAGES`, and averages the scores of the :data:`ENSEMBLE` best candidates: the
average of linear scorers is one linear scorer, so the model stays one dense layer after a
standardisation (:func:`lda_model`). The solver is :mod:`ravdess_prep.evaluation.shrinkage_lda`.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import ClassVar, Sequence

import numpy as np

from ...dataset.bundles import Bundle
from ...exceptions import ParameterError, option
from ..clips import select_layers
from ..shrinkage_lda import LinearClassifier, fit_shrinkage_lda
from .base import Head, unweighted_accuracy

#: The shrinkages the lda head chooses among on dev (``shrinkage="auto"``).
SHRINKAGES = (0.1, 0.3, 0.5, 0.7, 0.9)
#: The shrinkage when there is no dev split to choose it on.
FALLBACK_SHRINKAGE = 0.5
#: How many of the best candidates on dev the lda head averages (``ensemble`` left open).
ENSEMBLE = 5


class LDAHead(Head):
    """Shrinkage LDA with uniform priors on standardised features."""

    name: ClassVar[str] = "lda"
    kinds: ClassVar[tuple[str, ...]] = ("vector", "layers")
    default_for: ClassVar[tuple[str, ...]] = ("layers",)
    own_settings: ClassVar[tuple[str, ...]] = ("shrinkage", "ensemble")
    learning_rate: ClassVar[float | None] = None
    epochs: ClassVar[int | None] = None

    def candidates(self, config, *, stack: Sequence[int] | None, has_dev: bool) -> list:
        """Every layer range (with dev; else every layer) with every shrinkage (with dev; else
        :data:`FALLBACK_SHRINKAGE`), unless given.

        Raises:
            ParameterError: ``shrinkage="auto"`` without a dev split.
        """
        if config.shrinkage == "auto" and not has_dev:
            raise ParameterError(f"{option('shrinkage', 'auto')} is chosen on the dev split, and there is none")
        if stack is not None and config.layer is None and config.layers is None:
            config = dataclasses.replace(config, layers="auto" if has_dev else tuple(stack))
        if config.shrinkage == "auto" or (config.shrinkage is None and has_dev):
            shrinkages = list(SHRINKAGES)
        else:
            shrinkages = [FALLBACK_SHRINKAGE if config.shrinkage is None else float(config.shrinkage)]
        return [dataclasses.replace(layered, shrinkage=shrinkage)
                for layered in super().candidates(config, stack=stack, has_dev=has_dev) for shrinkage in shrinkages]

    def choice_of(self, config) -> dict:
        return {**super().choice_of(config), "shrinkage": config.shrinkage}

    def ensemble_size(self, config) -> int:
        return config.ensemble or ENSEMBLE

    def fit(self, data: Bundle, watched: Bundle | None, config, *, num_classes: int, verbose: int = 0):
        config = self.resolved(config, data.axes)
        classifier, = fit_shrinkage_lda(_flat(data), data.labels, num_classes=num_classes,
                                        shrinkages=[config.shrinkage])
        return lda_model(classifier, data.embeddings.shape[1:]), {}, config

    def dev_scores(self, train: Bundle, dev: Bundle, options: list, *, num_classes: int, inputs) -> list[float]:
        """Each option's UA on dev; the options of one layer set share one fit."""
        scores = {}
        for _, group in itertools.groupby(options, key=lambda option_config: option_config.layers):
            group = list(group)
            train_inputs, dev_inputs = inputs(train, group[0]), inputs(dev, group[0])
            fitted = fit_shrinkage_lda(_flat(train_inputs), train_inputs.labels, num_classes=num_classes,
                                       shrinkages=[option_config.shrinkage for option_config in group])
            for option_config, classifier in zip(group, fitted):
                scores[id(option_config)] = unweighted_accuracy(dev.labels, classifier.predict(_flat(dev_inputs)))
        return [scores[id(option_config)] for option_config in options]

    def fit_ensemble(self, data: Bundle, members: list, *, stack: Sequence[int] | None, num_classes: int):
        """``(model, config)`` of the candidates ``members`` averaged: each member's scorer
        written over the union of their layers (zero weight on the layers it does not take; over
        every feature when a clip is one vector), the weights and biases averaged. The
        standardisation of a feature is the same in every member (the same clips), so the
        average is one linear scorer. Members of one ``layer`` (only their shrinkages differ)
        are written over that layer's features."""
        layer = members[0].layer
        span = None if stack is None or layer is not None else tuple(
            number for number in stack if any(number in member.layers for member in members))
        whole = select_layers(data, layer=layer, layers=span)
        features = _flat(whole)
        weights = np.zeros((features.shape[1], num_classes))
        bias = np.zeros(num_classes)
        for layers, group in itertools.groupby(members, key=lambda member: member.layers):
            group = list(group)
            width = features.shape[1] // len(span) if span is not None else None
            rows = np.arange(features.shape[1]) if span is None else np.concatenate(
                [np.arange(width) + span.index(number) * width for number in layers])
            fitted = fit_shrinkage_lda(features[:, rows], whole.labels, num_classes=num_classes,
                                       shrinkages=[member.shrinkage for member in group])
            for classifier in fitted:
                weights[rows] += classifier.weights / len(members)
                bias += classifier.bias / len(members)
        mean, scale = features.mean(axis=0), features.std(axis=0)
        combined = LinearClassifier(mean, np.where(scale > 0, scale, 1.0), weights, bias)
        config = self.resolved(dataclasses.replace(members[0], layers=None if layer is not None else span,
                                                   shrinkage=None, ensemble=len(members)), ("dim",))
        return lda_model(combined, whole.embeddings.shape[1:]), config


def lda_model(classifier: LinearClassifier, input_shape: tuple[int, ...]):
    """A fitted :class:`~ravdess_prep.evaluation.shrinkage_lda.LinearClassifier` as a Keras
    model (standardisation, then a dense layer of its weights) with logits output, saved and
    used like every head's."""
    import keras

    inputs = keras.Input(shape=tuple(input_shape), name="embeddings")
    norm = keras.layers.Normalization(mean=classifier.mean.astype(np.float32),
                                      variance=np.square(classifier.scale).astype(np.float32), name="standardise")
    logits = keras.layers.Dense(classifier.weights.shape[1], name="logits")
    outputs = logits(norm(inputs))
    logits.set_weights([classifier.weights.astype(np.float32), classifier.bias.astype(np.float32)])
    return keras.Model(inputs, outputs, name="emotion_classifier_lda")


def _flat(bundle: Bundle) -> np.ndarray:
    """The clips as vectors ``(clips, features)``."""
    return bundle.embeddings.reshape(len(bundle), -1)
