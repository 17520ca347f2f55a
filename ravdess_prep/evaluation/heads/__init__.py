"""Heads: one module per head, registered by name.

Adding a head is one :class:`~ravdess_prep.evaluation.heads.base.Head` subclass, named in
:data:`HEADS` (the library's own) or, from another package, declared as an entry point of the
group ``ravdess_prep.heads`` (see :mod:`ravdess_prep.registry`); ``train --head`` and
``crossval --head`` then offer it.
"""

from __future__ import annotations

from typing import Sequence

from ...embedders.outputs import kind_of_axes
from ...exceptions import ParameterError
from ...registry import Registry, instances_of
from .base import Head

__all__ = ["HEADS", "Head", "auto_head"]


#: Every known head by name: the library's own, then those of entry points.
HEADS: Registry[Head] = Registry("head", {"bigru": "ravdess_prep.evaluation.heads.bigru:BiGRUHead",
                                          "sequence": "ravdess_prep.evaluation.heads.sequence:SequenceHead",
                                          "linear": "ravdess_prep.evaluation.heads.linear:LinearHead",
                                          "mlp": "ravdess_prep.evaluation.heads.linear:MLPHead",
                                          "lda": "ravdess_prep.evaluation.heads.lda:LDAHead"},
                         adapt=instances_of(Head))


def auto_head(axes: Sequence[str]) -> Head:
    """The library's head for clips of these axes (``head="auto"``): the BiGRU for sequences,
    lda for a stack of layers (whose design :func:`ravdess_prep.evaluation.fitting.fit` then
    chooses on dev where there is one), the linear head for one vector.

    Raises:
        ParameterError: No head of the library's is the default for them.
    """
    kind = kind_of_axes(tuple(axes)).name
    for name in HEADS.builtin():
        if kind in HEADS[name].default_for:
            return HEADS[name]
    raise ParameterError(f"no head is the default for clips of axes ({', '.join(axes)}); give --head")
