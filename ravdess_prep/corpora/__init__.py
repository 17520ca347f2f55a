"""Corpora: one module per corpus, registered here by name.

Adding a corpus is one module with a :class:`~ravdess_prep.corpora.base.Corpus` subclass and
one line in :data:`CORPORA` (or a call to :func:`register_corpus`).
"""

from __future__ import annotations

from ..exceptions import ParameterError
from .base import Corpus, Survey
from .ravdess import RAVDESS

__all__ = ["CORPORA", "Corpus", "Survey", "get_corpus", "register_corpus"]

#: Every known corpus by name.
CORPORA: dict[str, Corpus] = {RAVDESS.name: RAVDESS()}


def get_corpus(name: str) -> Corpus:
    """The corpus registered as ``name``.

    Raises:
        ParameterError: No such corpus; the message lists the known ones.
    """
    try:
        return CORPORA[name]
    except (KeyError, TypeError):
        raise ParameterError(f"corpus has to be one of {', '.join(map(repr, CORPORA))}, not {name!r}") from None


def register_corpus(corpus: Corpus) -> Corpus:
    """Make ``corpus`` known by its name (replacing one of the same name); returns it."""
    CORPORA[corpus.name] = corpus
    return corpus
