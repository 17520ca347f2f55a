"""How a build runs: :class:`Run` (where and when its steps run, never what they compute: the
build's :class:`~ravdess_prep.config.Config` holds that) and the executors, each a frozen
dataclass of its own options, named in :data:`EXECUTORS`.

An executor declares its options the way an embedder does (fields made with
:func:`ravdess_prep.settings.setting`): the command line makes a flag of each, a ``--config``
file takes them as keys, and :class:`Run` holds the chosen executor as
an instance (``Run(runner=BeamExecutor(beam_options={...}))``, or ``Run(runner="beam")`` for its
defaults). The steps themselves live elsewhere (:mod:`.local`, :mod:`.beam`) and are imported
when a build runs, so that listing the executors' options imports no Beam.

Another package adds an executor by subclassing :class:`Executor` (its own fields, and
:meth:`Executor.run`) and declaring the class as an entry point of the group
``ravdess_prep.executors``; a plain function ``run(plan, run)`` is taken as an executor without
options.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, ClassVar, Mapping, Sequence

from ..config import RUNNING
from ..exceptions import ParameterError, option
from ..registry import Registry, load_reference
from ..settings import NUMBER, PATH, POSITIVE, SWITCH, TEXT, TEXTS, setting
from .plan import BuildPlan, BuildResult


@dataclasses.dataclass(frozen=True)
class Executor:
    """An executor's options (none by default), and how it runs a build.

    Attributes:
        name: How ``--runner`` names it.
        steps: ``"module:function"``, the function ``run(plan, run)`` that runs the plan's steps
            (imported when a build runs).
        extra: The extra of this distribution that brings what the steps import (a missing
            module is named with ``pip install -e ".[extra]"``).
    """

    name: ClassVar[str | None] = ""
    steps: ClassVar[str] = ""
    extra: ClassVar[str | None] = None

    def check(self) -> None:
        """Called before any work of a build: raise :class:`ParameterError` if this machine
        cannot run the executor (by default: its steps cannot be imported)."""
        if self.steps:
            self._steps()

    def run(self, plan: BuildPlan, run: Run) -> BuildResult:
        """Run every step of ``plan`` (``run.runner`` is this executor)."""
        return self._steps()(plan, run)

    def _steps(self) -> Callable:
        try:
            return load_reference(self.steps)
        except ImportError as error:
            hint = f': pip install -e ".[{self.extra}]"' if self.extra else ""
            raise ParameterError(f"{option('runner', self.name)} needs {error.name or error}{hint}") from None


@dataclasses.dataclass(frozen=True)
class LocalExecutor(Executor):
    """Threads of this process (see :mod:`ravdess_prep.build.local`)."""

    name: ClassVar[str] = "local"
    steps: ClassVar[str] = "ravdess_prep.build.local:run"


@dataclasses.dataclass(frozen=True)
class BeamExecutor(Executor):
    """Apache Beam, on any of its runners (see :mod:`ravdess_prep.build.beam`).

    Attributes:
        beam_options: Beam pipeline options, ``["KEY=VALUE", ...]`` or a mapping (see
            :func:`ravdess_prep.build.beam.pipeline_options`).
        worker_wait_seconds: On a Dask cluster (``runner=DaskRunner`` with
            ``dask_client_address``), how long to wait for a first worker before failing.
    """

    name: ClassVar[str] = "beam"
    steps: ClassVar[str] = "ravdess_prep.build.beam:run"
    extra: ClassVar[str | None] = "beam"

    beam_options: Sequence[str] | Mapping[str, object] = setting(
        (), flags="--beam-option", kind=TEXTS, group=RUNNING,
        help="a Beam pipeline option KEY=VALUE, e.g. runner=FlinkRunner or direct_num_workers=4; repeatable")
    worker_wait_seconds: float = setting(60.0, flags="--worker-wait", kind=NUMBER, group=RUNNING,
                                         help="with --runner beam on a Dask cluster: seconds to wait for a first "
                                         "worker before failing (default 60)")

    def __post_init__(self):
        wait = self.worker_wait_seconds
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 < wait < float("inf"):
            raise ParameterError(f"{option('worker_wait_seconds')} has to be a positive number of seconds, not {wait!r}")
        if isinstance(self.beam_options, str):
            object.__setattr__(self, "beam_options", (self.beam_options,))


def executor_class(value: object) -> type[Executor]:
    """An entry of the executor table as a class: an :class:`Executor` subclass as it is, a
    function ``run(plan, run)`` as an executor without options.

    Raises:
        TypeError: Neither (the registry names the plug-in).
    """
    if isinstance(value, type) and issubclass(value, Executor):
        return value
    if callable(value) and not isinstance(value, type):
        return _function_executor(value)
    raise TypeError(f"an executor has to be an Executor subclass or a function run(plan, run), not {value!r}")


def _function_executor(function: Callable) -> type[Executor]:

    @dataclasses.dataclass(frozen=True)
    class FunctionExecutor(Executor):
        __doc__ = function.__doc__

        def run(self, plan, run):
            return function(plan, run)

    FunctionExecutor.name = getattr(function, "name", None)  # None: the registry's name stands
    return FunctionExecutor


#: ``{name: executor class}``, each imported when first used; other packages add theirs as
#: entry points of the group ``ravdess_prep.executors``.
EXECUTORS: Registry = Registry("executor", {"local": "ravdess_prep.build.executors:LocalExecutor",
                                            "beam": "ravdess_prep.build.executors:BeamExecutor"},
                               adapt=executor_class, setting="runner")


@dataclasses.dataclass(frozen=True)
class Run:
    """How a build runs; nothing here changes what it computes.

    Attributes:
        jobs: Worker threads for the per-clip stages (default: every core); with the Beam
            runner, local worker processes.
        cache_dir: The cache root (see :func:`ravdess_prep.storage.cache.cache_root`).
        progress: Show a progress bar per stage.
        runner: The executor: its name (``"local"``, threads of this process; ``"beam"``,
            Apache Beam; or one another package registers), run with its default options, or
            an executor's settings (:class:`~ravdess_prep.build.executors.BeamExecutor` with
            its ``beam_options``, say). Always an :class:`Executor` once made.
        fast: Skip work whose result is known (resampling the padding, running the example of
            silence more than once); False takes the straightforward path. Same bytes either way.
    """

    jobs: int | None = setting(None, flags="--jobs", kind=POSITIVE, group=RUNNING,
                               help="worker threads, or with --runner beam local worker processes (default: every core)")
    cache_dir: str | os.PathLike | None = setting(None, flags="--cache-dir", kind=PATH, group=RUNNING,
                                                  help="cache root: downloads, extracted zips, per-clip embeddings, "
                                                  "model files")
    progress: bool = setting(True, kind=SWITCH, group=RUNNING, help="show progress bars")
    runner: str | Executor = setting("local", flags="--runner", kind=TEXT, group=RUNNING,
                                     choices=lambda: tuple(EXECUTORS),
                                     help="the executor: local, threads of this process (default); beam, Apache "
                                     "Beam (pip install -e '.[beam]'); or one a plug-in registers")
    fast: bool = setting(True, kind=SWITCH, group=RUNNING, help="skip work whose result is known (same bytes)")

    def __post_init__(self):
        if self.jobs is not None and (isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1):
            raise ParameterError(f"{option('jobs')} has to be a positive integer, not {self.jobs!r}")
        if isinstance(self.runner, str):
            object.__setattr__(self, "runner", EXECUTORS.get_named(self.runner)())
        elif not isinstance(self.runner, Executor):
            raise ParameterError(f"{option('runner')} has to be an executor's name ({', '.join(map(repr, EXECUTORS))})"
                                 f" or its settings (an Executor), not {self.runner!r}")
