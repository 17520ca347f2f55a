"""Embedders: one adapter module per model, registered by name.

Adding a model is one adapter module with an :class:`~ravdess_prep.embedders.base.Embedder`
subclass, named in :data:`EMBEDDERS` (the library's own) or, from another package, declared
as an entry point of the group ``ravdess_prep.embedders`` (see :mod:`ravdess_prep.registry`).
"""

from __future__ import annotations

from typing import Mapping

from ..exceptions import ParameterError, render
from ..registry import Registry
from ..settings import values_from_file
from .base import Embedder, Model, ModelFile, ModelFiles
from .egemaps import EGeMAPSEmbedder
from .hf import HFEmbedder, HFFiles
from .vggish import VGGishEmbedder, VGGishFiles
from .whisper import WhisperEmbedder, WhisperFiles
from .yamnet import YAMNetEmbedder, YAMNetFiles

__all__ = [
    "EGeMAPSEmbedder", "EMBEDDERS", "HFEmbedder", "HFFiles", "Embedder", "Model", "ModelFile", "ModelFiles", "VGGishEmbedder", "VGGishFiles",
    "WhisperEmbedder", "WhisperFiles", "YAMNetEmbedder", "YAMNetFiles", "embedder_class", "embedder_from_dict",
]


def _embedder_class(value) -> type[Embedder]:
    if not (isinstance(value, type) and issubclass(value, Embedder)):
        raise TypeError(f"{value!r} is not an Embedder subclass")
    return value


#: Every known embedder class by name: the library's own, then those of entry points.
EMBEDDERS: Registry[type[Embedder]] = Registry("embedder", {
    "vggish": "ravdess_prep.embedders.vggish:VGGishEmbedder",
    "yamnet": "ravdess_prep.embedders.yamnet:YAMNetEmbedder",
    "egemaps": "ravdess_prep.embedders.egemaps:EGeMAPSEmbedder",
    "whisper": "ravdess_prep.embedders.whisper:WhisperEmbedder",
    "hf": "ravdess_prep.embedders.hf:HFEmbedder",
}, adapt=_embedder_class, missing_extra={"torch": "whisper", "transformers": "ssl", "opensmile": "egemaps"})


def embedder_class(name: str) -> type[Embedder]:
    """The embedder class registered as ``name``.

    Raises:
        ParameterError: No such embedder; the message lists the known ones.
    """
    return EMBEDDERS.get_named(name)


def embedder_from_dict(values: Mapping, *, where: str = "the configuration") -> Embedder:
    """The embedder a config recorded (``{"name": ..., **settings}``).

    Raises:
        ParameterError: No name, an unknown embedder, or settings it does not have; the
            message says ``where``.
    """
    values = dict(values)
    if "name" not in values:
        raise ParameterError(f"{where}: the embedder has no name (one of {', '.join(map(repr, EMBEDDERS))})")
    name = values.pop("name")
    try:
        cls = embedder_class(name)
    except ParameterError as error:
        raise ParameterError(f"{where}: key 'embedder': {render(error.args[0], keys=True)}") from None
    where = f"{where}: the {cls.name} embedder"
    try:
        return cls(**values_from_file(cls, values, where=where))
    except ParameterError as error:
        if error.args and str(error.args[0]).startswith(where):
            raise
        raise type(error)(f"{where}: {render(error.args[0], keys=True)}") from None
