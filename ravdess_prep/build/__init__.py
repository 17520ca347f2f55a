"""The build machinery: the plan (:mod:`.plan`, every step of a build) and its executors.

An executor maps the plan's steps onto workers; it decides where and when each step runs, the
plan decides what it computes, so every executor writes the same bytes. :data:`EXECUTORS`
names them: ``local`` (threads of this process, :mod:`.local`) and ``beam`` (Apache Beam,
:mod:`.beam`). Each is a class of its own options (:mod:`.executors`); its steps are imported
when a build runs. Other packages add theirs as entry points of the group
``ravdess_prep.executors``.
"""

from __future__ import annotations

from ..registry import Registry
from .executors import executor_class

#: ``{name: executor class}`` (see :mod:`.executors`), each imported when first used.
EXECUTORS: Registry = Registry("executor", {"local": "ravdess_prep.build.executors:LocalExecutor",
                                            "beam": "ravdess_prep.build.executors:BeamExecutor"},
                               adapt=executor_class, setting="runner")
