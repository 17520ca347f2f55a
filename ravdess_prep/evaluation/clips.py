"""Clips as a head takes them, in bundles: some of a stack's layers (:func:`select_layers`),
some clips (:func:`subset`; a protocol's, :func:`take_protocol`), or two bundles as one
(:func:`joined`, :func:`pooled`). A
bundle's axes are its manifest's (:class:`~ravdess_prep.dataset.bundles.Bundle`), never
guessed here."""

from __future__ import annotations

import dataclasses
import functools
from typing import Mapping

import numpy as np

from ..corpora.protocols import Protocol, select
from ..dataset.bundles import Bundle
from ..exceptions import ParameterError, SourceError, option


def layer_numbers_of(bundle: Bundle) -> list[int]:
    """The layer numbers of a stack (as the manifest numbers them; else 0, 1, ...)."""
    return list(bundle.layer_numbers or range(bundle.embeddings.shape[1 + bundle.axes.index("layers")]))


def select_layers(bundle: Bundle, *, layer: int | None, layers) -> Bundle:
    """One layer of a stack (``layer``), or some layers concatenated along the feature axis
    (``layers``, numbers as the manifest lists them); else (``layers`` None or ``"auto"``) the
    bundle unchanged.

    Raises:
        ParameterError: ``layer`` or ``layers`` given for clips without layers, or a layer the
            stack lacks (the message names the stack's layers).
    """
    wanted = layer if layer is not None else layers
    if wanted is None or wanted == "auto":
        return bundle
    name = "layer" if layer is not None else "layers"
    shown = wanted if name == "layer" else list(wanted)
    if "layers" not in bundle.axes:
        raise ParameterError(f"{option(name, shown)}: the clips are not a stack of layers (their axes: "
                             f"{', '.join(bundle.axes)})")
    numbers = layer_numbers_of(bundle)
    chosen = (wanted,) if name == "layer" else tuple(wanted)
    outside = [number for number in chosen if number not in numbers]
    if outside:
        raise ParameterError(f"{option(name, shown)}: the stack has {len(numbers)} layers, numbered {numbers[0]} "
                             f"to {numbers[-1]} (not {outside[0]})")
    axis = 1 + bundle.axes.index("layers")
    taken = np.take(bundle.embeddings, [numbers.index(number) for number in chosen], axis=axis)
    rest = tuple(axis_name for axis_name in bundle.axes if axis_name != "layers")
    if name == "layer":
        taken = np.squeeze(taken, axis=axis)
    else:  # the layers side by side on the feature axis
        taken = np.moveaxis(taken, axis, -2)
        taken = taken.reshape(taken.shape[:-2] + (taken.shape[-2] * taken.shape[-1],))
    return dataclasses.replace(bundle, embeddings=taken, axes=rest, layer_numbers=None)


def subset(bundle: Bundle, index) -> Bundle:
    """The clips ``index`` of a bundle."""
    index = np.asarray(index, dtype=int)
    return dataclasses.replace(
        bundle, names=bundle.names[index], embeddings=bundle.embeddings[index], labels=bundle.labels[index],
        speakers=None if bundle.speakers is None else bundle.speakers[index],
        facets={key: values[index] for key, values in bundle.facets.items()},
        frames=None if bundle.frames is None else bundle.frames[index])


def joined(first: Bundle, second: Bundle) -> Bundle:
    """Two bundles of the same kind as one (train and dev, for a refit)."""
    facets = {key: np.concatenate([first.facets[key], second.facets[key]]) for key in first.facets}

    def both(field):
        values = getattr(first, field), getattr(second, field)
        return None if values[0] is None or values[1] is None else np.concatenate(values)

    return dataclasses.replace(first, names=both("names"), embeddings=both("embeddings"), labels=both("labels"),
                               speakers=both("speakers"), facets=facets, frames=both("frames"))


def pooled(bundles: Mapping[str, Bundle]) -> Bundle:
    """Every split's clips as one bundle (train, dev, test order)."""
    parts = list(bundles.values())
    return functools.reduce(joined, parts[1:], parts[0])


def take_protocol(protocol: Protocol, bundle: Bundle, *, where: str, complete: bool = True) -> Bundle:
    """A bundle's clips that ``protocol`` takes, labelled with its classes.

    Args:
        complete: Also require every clip and speaker the protocol takes (crossval does; a
            dataset built with its preset holds only its own fold's clips in each split).

    Raises:
        SourceError: Missing speakers or clips (named, with the count), no speakers or facets.
    """
    if bundle.speakers is None:
        raise SourceError(f"{where}: the bundles do not say each clip's speaker; the {protocol.name} protocol needs "
                          "them")
    if complete:
        index, labels = select(protocol, names=bundle.names, labels=bundle.labels, speakers=bundle.speakers,
                               facets=bundle.facets, label_names=bundle.label_names, where=where)
    else:
        index = np.arange(len(bundle))
        labels = protocol.class_of(bundle.label_names or ())[bundle.labels] if len(bundle) else bundle.labels
    return dataclasses.replace(subset(bundle, index), labels=np.asarray(labels, np.int32),
                               label_names=tuple(protocol.classes))
