"""Fitting a head: the open choices made on dev, then the model to report.

A head's open choices (which layers of a stack, the lda head's shrinkage: its
:meth:`~ravdess_prep.evaluation.heads.base.Head.candidates`) are made on the dev split, never
on test: every candidate is trained on train and scored by UA on dev, and the best one (the
first of equal ones) is kept; a head may keep the few best and average them (the lda head's
``ensemble``). The reported model is then that choice trained on train, or, with ``refit``, on
train and dev together (what ``crossval`` does for the folds it reports).

With ``head="auto"`` on a stack of layers with a dev split, the head's design is chosen on dev
too, so that no part of it was picked by looking at test clips: each family of
:data:`AUTO_FAMILIES` makes its own choices on dev, the lda head's best candidates are averaged
in each size of :data:`AUTO_ENSEMBLES`, every such design is trained on train and scored by UA
on dev, and the best design (the first of equal ones, in the order the constants list them)
is the one reported. The designs' dev scores share the dev split that ranked the lda head's
candidates, so they favour the designs that chose most; the linear head makes no choice.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

from ..dataset.bundles import Bundle
from .clips import joined, layer_numbers_of, select_layers
from .heads import HEADS, Head
from .heads.base import layer_weights, unweighted_accuracy
from ..exceptions import ParameterError, option
from .train_config import TrainConfig

#: ``head="auto"`` on a stack of layers with a dev split: the head families whose designs are
#: scored on dev (the lda head with its layer ranges and shrinkages chosen on dev; the linear
#: head on its learned weighting of every layer).
AUTO_FAMILIES = ("lda", "linear")
#: ... and how many of the lda head's best candidates its design averages (unless ``ensemble``
#: is given).
AUTO_ENSEMBLES = (1, 3, 5, 10)


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
        design: With ``head="auto"`` choosing on dev: every design tried, ``[{"head",
            "ensemble", "dev_ua"}, ...]`` (``ensemble`` None for a head that averages none),
            the one kept first; else empty.
    """

    model: Any
    head: Head
    config: TrainConfig
    history: dict
    choices: list
    trained_on: tuple[str, ...]
    design: list = dataclasses.field(default_factory=list)

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
    """Make the open choices on dev (with ``head="auto"`` on a stack of layers, the head's
    design too), then fit the model to report.

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
    stack = layer_numbers_of(train) if "layers" in train.axes else None
    if config.head == "auto" and has_dev and stack is not None:
        designs = [design for family, family_config in _families(config)
                   for design in _designs(HEADS.get_named(family), train, dev, family_config, stack=stack,
                                          num_classes=num_classes, sizes=AUTO_ENSEMBLES if family == "lda" else None)]
        best = max(range(len(designs)), key=lambda index: (designs[index].dev_ua, -index))
        tried = [{"head": design.head.name, "ensemble": design.ensemble, "dev_ua": design.dev_ua} for design in designs]
        tried.insert(0, tried.pop(best))
        chosen = designs[best]
        if not refit:
            return dataclasses.replace(chosen.fitted, design=tried)
        return dataclasses.replace(_fit_members(chosen.head, joined(train, dev), chosen.members, stack=stack,
                                                num_classes=num_classes, verbose=verbose, trained_on=("train", "dev"),
                                                choices=chosen.choices), design=tried)
    head = config.head_for(train.axes)
    config = dataclasses.replace(config, head=head.name)
    options, choices = _ranked(head, train, dev if has_dev else None, config, stack=stack, num_classes=num_classes)
    members = options[:head.ensemble_size(config)]
    data = joined(train, dev) if refit and has_dev else train
    trained_on = ("train", "dev") if refit and has_dev else ("train",)
    return _fit_members(head, data, members, stack=stack, num_classes=num_classes, verbose=verbose,
                        watched=dev if has_dev and not refit else None, trained_on=trained_on, choices=choices)


@dataclasses.dataclass(frozen=True)
class _Design:
    """One design of ``head="auto"``: a head and the candidates it averages, fitted on train."""

    head: Head
    members: list
    choices: list
    ensemble: int | None
    fitted: Fitted
    dev_ua: float


def _ranked(head: Head, train: Bundle, dev: Bundle | None, config: TrainConfig, *, stack, num_classes: int):
    """``(candidates best first, their records with dev UA)``: the head's candidates, ranked
    by UA on dev (stable: the first of equals first); one candidate is not scored."""
    options = head.candidates(config, stack=stack, has_dev=dev is not None)
    if len(options) < 2:
        return options, []
    scores = head.dev_scores(train, dev, options, num_classes=num_classes, inputs=model_inputs)
    choices = [{**head.choice_of(option_config), "dev_ua": score} for option_config, score in zip(options, scores)]
    return [options[index] for index in np.argsort(-np.asarray(scores), kind="stable")], choices


def _designs(head: Head, train: Bundle, dev: Bundle, config: TrainConfig, *, stack, num_classes: int,
             sizes: tuple[int, ...] | None) -> list[_Design]:
    """Each design of one head family: its candidates ranked on dev, the best ``size`` of them
    (each of ``sizes``; None: the head's own ensemble size) trained on train and scored on dev."""
    options, choices = _ranked(head, train, dev, config, stack=stack, num_classes=num_classes)
    averages = sizes
    if sizes is None or config.ensemble is not None:
        sizes = (head.ensemble_size(config),)
    designs = []
    for size in sorted({min(size, len(options)) for size in sizes}):
        fitted = _fit_members(head, train, options[:size], stack=stack, num_classes=num_classes, verbose=0,
                              trained_on=("train",), choices=choices, watched=dev)
        designs.append(_Design(head, options[:size], choices, None if averages is None else size, fitted,
                               unweighted_accuracy(dev.labels, fitted.predict(dev))))
    return designs


def _families(config: TrainConfig) -> list[tuple[str, TrainConfig]]:
    """``[(head, config for it)]`` of each family of :data:`AUTO_FAMILIES` that the settings
    given suit (a setting of one head's alone, ``shrinkage`` say, leaves the others out).

    Raises:
        ParameterError: The settings suit none of them.
    """
    suited, refusals = [], []
    for family in AUTO_FAMILIES:
        try:
            suited.append((family, dataclasses.replace(config, head=family)))
        except ParameterError as error:
            refusals.append(str(error))
    if not suited:
        raise ParameterError(f"{option('head', 'auto')} chooses among {', '.join(AUTO_FAMILIES)}, and the settings "
                             f"given suit none: {'; '.join(refusals)}")
    return suited


def _fit_members(head: Head, data: Bundle, members: list, *, stack, num_classes: int, verbose: int,
                 trained_on: tuple[str, ...], choices: list, watched: Bundle | None = None) -> Fitted:
    """The model of ``members`` (one candidate, or several averaged) trained on ``data``."""
    if len(members) > 1:
        model, chosen = head.fit_ensemble(data, members, stack=stack, num_classes=num_classes)
        return Fitted(model, head, chosen, {}, choices, trained_on)
    member = members[0]
    model, history, chosen = head.fit(model_inputs(data, member),
                                      None if watched is None else model_inputs(watched, member), member,
                                      num_classes=num_classes, verbose=verbose)
    return Fitted(model, head, chosen, history, choices, trained_on)
