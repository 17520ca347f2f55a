"""How a build runs: :class:`Run`, the settings that change where and when its steps run,
never what they compute (the build's :class:`~ravdess_prep.config.Config` holds those). The
chosen executor's own options are its settings (:mod:`.executors`)."""

from __future__ import annotations

import dataclasses
import os

from ..config import RUNNING
from ..exceptions import ParameterError, option
from ..settings import PATH, POSITIVE, SWITCH, TEXT, setting
from . import EXECUTORS
from .executors import Executor


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
