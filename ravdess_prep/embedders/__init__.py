"""Embedders: one adapter module per model, registered here by name.

Adding a model is one adapter module with an :class:`~ravdess_prep.embedders.base.Embedder`
subclass and one line in :data:`EMBEDDERS` (or a call to :func:`register_embedder`).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

from ..exceptions import ParameterError
from .base import Embedder, Model, ModelFile, ModelFiles
from .egemaps import EGeMAPSEmbedder
from .vggish import VGGishEmbedder, VGGishFiles
from .yamnet import YAMNetEmbedder, YAMNetFiles

__all__ = [
    "EGeMAPSEmbedder", "EMBEDDERS", "Embedder", "Model", "ModelFile", "ModelFiles", "VGGishEmbedder", "VGGishFiles", "YAMNetEmbedder",
    "YAMNetFiles", "embedder_class", "embedder_from_dict", "register_embedder",
]

#: Every known embedder class by name.
EMBEDDERS: dict[str, type[Embedder]] = {
    cls.name: cls for cls in (VGGishEmbedder, YAMNetEmbedder, EGeMAPSEmbedder)
}


def embedder_class(name: str) -> type[Embedder]:
    """The embedder class registered as ``name``.

    Raises:
        ParameterError: No such embedder; the message lists the known ones.
    """
    try:
        return EMBEDDERS[name]
    except (KeyError, TypeError):
        raise ParameterError(f"embedder has to be one of {', '.join(map(repr, EMBEDDERS))}, not {name!r}") from None


def embedder_from_dict(values: Mapping) -> Embedder:
    """The embedder a config recorded (``{"name": ..., **settings}``); unknown settings are an
    error naming them."""
    values = dict(values)
    cls = embedder_class(values.pop("name", None))
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ParameterError(f"unknown settings of the {cls.name} embedder: {', '.join(unknown)}")
    return cls(**values)


def register_embedder(cls: type[Embedder]) -> type[Embedder]:
    """Make an embedder class known by its name (replacing one of the same name); returns it."""
    EMBEDDERS[cls.name] = cls
    return cls
