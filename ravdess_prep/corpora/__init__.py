"""Corpora: one module per corpus, registered by name.

Adding a corpus is one module with a :class:`~ravdess_prep.corpora.base.Corpus` subclass, named
in :data:`CORPORA` (the library's own) or, from another package, declared as an entry point of
the group ``ravdess_prep.corpora`` (see :mod:`ravdess_prep.registry`).
"""

from __future__ import annotations

from typing import Sequence

from ..registry import Registry
from .base import Corpus, Excluded, Survey

__all__ = ["CORPORA", "Corpus", "Excluded", "Survey", "corpus_of_names", "get_corpus"]


def _corpus(value) -> Corpus:
    if isinstance(value, type) and issubclass(value, Corpus):
        return value()
    if isinstance(value, Corpus):
        return value
    raise TypeError(f"{value!r} is not a Corpus (or a Corpus subclass)")


#: Every known corpus by name: the library's own, then those of entry points.
CORPORA: Registry[Corpus] = Registry("corpus", {"ravdess": "ravdess_prep.corpora.ravdess:RAVDESS",
                                                "emodb": "ravdess_prep.corpora.emodb:EmoDB",
                                                "cremad": "ravdess_prep.corpora.cremad:CremaD"}, adapt=_corpus)


def get_corpus(name: str) -> Corpus:
    """The corpus registered as ``name``.

    Raises:
        ParameterError: No such corpus; the message lists the known ones.
    """
    return CORPORA.get_named(name)


def corpus_of_names(names: Sequence[str]) -> Corpus | None:
    """The first registered corpus whose naming scheme every one of ``names`` follows (how
    bundles without a manifest are read), or None."""
    for corpus in CORPORA.loadable().values():
        if corpus.names_parse(names):
            return corpus
    return None
