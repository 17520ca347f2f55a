"""Fitting a head: the open choices made on dev, then the model to report.

A head's open choices (which layers of a stack, the lda head's shrinkage: its
:meth:`~ravdess_prep.evaluation.heads.base.Head.candidates`) are made on the dev split, never
on test: every candidate is trained on train and scored by UA on dev, and the best one (the
first of equal ones) is kept; a head may keep the few best and average them (the lda head's
``ensemble``). The reported model is then that choice trained on train, or, with ``refit``, on
train and dev together (what ``crossval`` does for the folds it reports).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

from ..dataset.bundles import Bundle
from .clips import joined, layer_numbers_of, select_layers
from .heads import HEADS, Head
from .heads.base import layer_weights
from .train_config import TrainConfig


@dataclasses.dataclass(frozen=True)
class Fitted:
    """What :func:`fit` produced.

    Attributes:
        model: The head's model; it takes clips as :func:`model_inputs` makes them with ``config``.
        head: The head that made it (it saves, loads and scores the model).
        config: The configuration with every choice filled (head, layers, shrinkage, rate, epochs).
        history: Keras's per-epoch values (empty for the lda head).
        choices: ``[{"layers", ..., "dev_ua"}, ...]``, every candidate scored on dev (empty
            when there was nothing to choose); a head that averages keeps the best
            ``config.ensemble`` of them.
        trained_on: The splits the model was trained on.
    """

    model: Any
    head: Head
    config: TrainConfig
    history: dict
    choices: list
    trained_on: tuple[str, ...]

    def inputs(self, bundle: Bundle) -> Bundle:
        """A bundle as the model takes it (:func:`model_inputs`)."""
        return model_inputs(bundle, self.config)

    def predict(self, bundle: Bundle) -> np.ndarray:
        """The class of each clip of ``bundle``, int32 ``(clips,)``."""
        return self.head.classes(self.model, self.inputs(bundle).embeddings)

    def layer_weights(self) -> list[float] | None:
        """The learned weight of each layer of a stack (None: the model weighs none)."""
        return layer_weights(self.model)


def model_inputs(bundle: Bundle, config: TrainConfig) -> Bundle:
    """A bundle as the model of ``config`` takes it: as its head prepares clips (the sequence
    head masks the frames outside each clip's own), then its layers chosen
    (:func:`~ravdess_prep.evaluation.clips.select_layers`).

    Raises:
        ParameterError: ``layer`` or ``layers`` given for clips without layers, a layer the
            stack lacks, or clips the head cannot prepare.
    """
    if config.head != "auto":
        bundle = HEADS.get_named(config.head).prepare(bundle)
    return select_layers(bundle, layer=config.layer, layers=config.layers)


def inputs_as_trained(bundle: Bundle, trained: Mapping) -> Bundle:
    """A bundle as a trained model takes it, by the configuration its record holds (``config``
    of ``metrics.json``): its head's preparation and its layers.

    Raises:
        ParameterError: The recorded head is not installed, or the clips lack its layers.
    """
    return model_inputs(bundle, TrainConfig(head=trained.get("head") or "auto", layer=trained.get("layer"),
                                            layers=trained.get("layers")))


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
    head = config.head_for(train.axes)
    config = dataclasses.replace(config, head=head.name)
    stack = layer_numbers_of(train) if "layers" in train.axes else None
    options = head.candidates(config, stack=stack, has_dev=has_dev)
    choices, members = [], options[:1]
    if len(options) > 1:
        scores = head.dev_scores(train, dev, options, num_classes=num_classes, inputs=model_inputs)
        choices = [{**head.choice_of(option_config), "dev_ua": score} for option_config, score in zip(options, scores)]
        members = [options[index] for index in np.argsort(-np.asarray(scores), kind="stable")[:head.ensemble_size(config)]]
    data = joined(train, dev) if refit and has_dev else train
    trained_on = ("train", "dev") if refit and has_dev else ("train",)
    if len(members) > 1:
        model, chosen = head.fit_ensemble(data, members, stack=stack, num_classes=num_classes)
        return Fitted(model, head, chosen, {}, choices, trained_on)
    watched = dev if has_dev and not refit else None
    member = members[0]
    model, history, chosen = head.fit(model_inputs(data, member),
                                      None if watched is None else model_inputs(watched, member), member,
                                      num_classes=num_classes, verbose=verbose)
    return Fitted(model, head, chosen, history, choices, trained_on)
