"""The build machinery: the plan (:mod:`.plan`, every step of a build) and its executors.

An executor maps the plan's steps onto workers; it decides where and when each step runs, the
plan decides what it computes, so every executor writes the same bytes. :data:`EXECUTORS`
names them: ``local`` (threads of this process, :mod:`.local`) and ``beam`` (Apache Beam,
:mod:`.beam`). Each is a class of its own options (:mod:`.executors`, beside :class:`Run`, how
a build runs); its steps are imported when a build runs. Other packages add theirs as entry
points of the group ``ravdess_prep.executors``.
"""

from __future__ import annotations

from .executors import EXECUTORS, Run

__all__ = ["EXECUTORS", "Run"]
