"""The executors' settings: each executor is a frozen dataclass of its own options.

An executor declares its options the way an embedder does (fields made with
:func:`ravdess_prep.settings.setting`): the command line makes a flag of each, a ``--config``
file takes them as keys, and :class:`~ravdess_prep.build.run.Run` holds the chosen executor as
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
from typing import TYPE_CHECKING, Callable, ClassVar, Mapping, Sequence

from ..config import RUNNING
from ..exceptions import ParameterError, option
from ..registry import load_reference
from ..settings import NUMBER, TEXTS, setting

if TYPE_CHECKING:  # the plan imports the pipeline's modules; an executor's settings need none of them
    from .plan import BuildPlan, BuildResult
    from .run import Run


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

    def run(self, plan: "BuildPlan", run: "Run") -> "BuildResult":
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
