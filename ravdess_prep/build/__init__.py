"""The build machinery: the plan (:mod:`.plan`, every step of a build) and its executors.

An executor maps the plan's steps onto workers; it decides where and when each step runs, the
plan decides what it computes, so every executor writes the same bytes. :data:`EXECUTORS`
names them: ``local`` (threads of this process, :mod:`.local`) and ``beam`` (Apache Beam,
:mod:`.beam`), imported when first used; other packages add theirs as entry points of the
group ``ravdess_prep.executors``.
"""

from __future__ import annotations

from ..registry import Registry

#: ``{name: run(plan, run) -> BuildResult}``, each imported when first used.
EXECUTORS: Registry = Registry("executor", {"local": "ravdess_prep.build.local:run",
                                            "beam": "ravdess_prep.build.beam:run"},
                               missing_extra={"apache_beam": "beam"}, setting="runner")
