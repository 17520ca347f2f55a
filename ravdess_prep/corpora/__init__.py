"""Corpora: one module per corpus, registered by name.

Adding a corpus is one module with a :class:`~ravdess_prep.corpora.base.Corpus` subclass, named
in :data:`CORPORA` (the library's own) or, from another package, declared as an entry point of
the group ``ravdess_prep.corpora`` (see :mod:`ravdess_prep.registry`).
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

from ..registry import Registry, instances_of
from .base import Corpus, Excluded, Survey
from .audformat_db import database_corpus
from .table import table_corpus

__all__ = ["CORPORA", "Corpus", "Excluded", "Survey", "corpus_of_names", "described", "downloads_help", "fold_presets_help", "folds_help",
           "get_corpus", "presets_help", "protocols_help", "speakers_help",
           "database_corpus", "table_corpus", "verifiable_help"]


#: Every known corpus by name: the library's own, then those of entry points.
CORPORA: Registry[Corpus] = Registry("corpus", {"ravdess": "ravdess_prep.corpora.ravdess:RAVDESS",
                                                "emodb": "ravdess_prep.corpora.emodb:EmoDB",
                                                "cremad": "ravdess_prep.corpora.cremad:CremaD",
                                                "table": "ravdess_prep.corpora.table:TableCorpus",
                                                "audformat": "ravdess_prep.corpora.audformat_db:AudformatCorpus"},
                         adapt=instances_of(Corpus))


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


def described(of: Callable[[Corpus], Iterable[str]]) -> str:
    """One line of ``--help`` on every corpus that loads (plug-ins included):
    ``"name: item, item; name: ..."``, the items ``of(corpus)`` (a corpus without any left out)."""
    parts = [f"{name}: {', '.join(found)}" for name, corpus in CORPORA.loadable().items() if (found := list(of(corpus)))]
    return "; ".join(parts) or "none"


def presets_help() -> str:
    """Every corpus's split presets, each with what it is."""
    return described(lambda corpus: [f"{name} ({corpus.preset(name).description})" for name in corpus.split_presets])


def folds_help() -> str:
    """The folds of every corpus's presets that have folds."""
    return described(lambda corpus: [f"{name} 1..{corpus.preset(name).fold_count(corpus.speakers)}"
                                     for name in corpus.split_presets
                                     if corpus.preset(name).groups is not None and corpus.speakers])


def fold_presets_help() -> str:
    """Every corpus's presets that have folds."""
    return described(lambda corpus: [name for name in corpus.split_presets if corpus.preset(name).groups is not None])


def protocols_help() -> str:
    """Every corpus's published protocols."""
    return described(lambda corpus: corpus.protocols)


def downloads_help() -> str:
    """The sources that download each corpus."""
    return described(lambda corpus: corpus.download_names)


def speakers_help(split: str) -> str:
    """Each corpus's customary ``split`` speakers (``"dev"`` or ``"test"``)."""
    return described(lambda corpus: [",".join(map(str, getattr(corpus, f"default_{split}_speakers")))]
                     if getattr(corpus, f"default_{split}_speakers") else [])


def verifiable_help() -> str:
    """The corpora that publish a list of their files' sizes and SHA-256 (``info --verify``)."""
    return ", ".join(name for name, corpus in CORPORA.loadable().items()
                     if type(corpus).published_files is not Corpus.published_files) or "none"
