"""How a build runs: :class:`Run`, the settings that change where and when its steps run,
never what they compute (the build's :class:`~ravdess_prep.config.Config` holds those)."""

from __future__ import annotations

import dataclasses
import os
from typing import Mapping, Sequence

from ..config import RUNNING
from ..exceptions import ParameterError, option
from ..settings import NUMBER, PATH, POSITIVE, SWITCH, TEXT, TEXTS, setting
from . import EXECUTORS


@dataclasses.dataclass(frozen=True)
class Run:
    """How a build runs; nothing here changes what it computes.

    Attributes:
        jobs: Worker threads for the per-clip stages (default: every core); with the Beam
            runner, local worker processes.
        cache_dir: The cache root (see :func:`ravdess_prep.cache.cache_root`).
        progress: Show a progress bar per stage.
        runner: ``"local"`` (threads of this process), ``"beam"`` (Apache Beam), or an
            executor another package registers.
        beam_options: Beam pipeline options (runner ``"beam"`` only), ``["KEY=VALUE", ...]`` or
            a mapping (see :func:`ravdess_prep.build.beam.pipeline_options`).
        fast: Skip work whose result is known (resampling the padding, running the example of
            silence more than once); False takes the straightforward path. Same bytes either way.
        worker_wait_seconds: On a Dask cluster (``runner=DaskRunner`` with
            ``dask_client_address``), how long to wait for a first worker before failing.
    """

    jobs: int | None = setting(None, flags="--jobs", kind=POSITIVE, group=RUNNING,
                               help="worker threads, or with --runner beam local worker processes (default: every core)")
    cache_dir: str | os.PathLike | None = setting(None, flags="--cache-dir", kind=PATH, group=RUNNING,
                                                  help="cache root: downloads, extracted zips, per-clip embeddings, "
                                                  "model files")
    progress: bool = setting(True, kind=SWITCH, group=RUNNING, help="show progress bars")
    runner: str = setting("local", flags="--runner", kind=TEXT, group=RUNNING,
                          help="local: threads of this process (default); beam: Apache Beam (pip install -e '.[beam]')")
    beam_options: Sequence[str] | Mapping[str, object] = setting(
        (), flags="--beam-option", kind=TEXTS, group=RUNNING,
        help="a Beam pipeline option KEY=VALUE, e.g. runner=FlinkRunner or direct_num_workers=4; repeatable")
    fast: bool = setting(True, kind=SWITCH, group=RUNNING, help="skip work whose result is known (same bytes)")
    worker_wait_seconds: float = setting(60.0, flags="--worker-wait", kind=NUMBER, group=RUNNING,
                                         help="with --runner beam on a Dask cluster: seconds to wait for a first "
                                         "worker before failing (default 60)")

    def __post_init__(self):
        if self.jobs is not None and (isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1):
            raise ParameterError(f"{option('jobs')} has to be a positive integer, not {self.jobs!r}")
        wait = self.worker_wait_seconds
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 < wait < float("inf"):
            raise ParameterError(f"{option('worker_wait_seconds')} has to be a positive number of seconds, not {wait!r}")
        if self.runner not in EXECUTORS:
            raise ParameterError(f"{option('runner')} has to be one of {', '.join(map(repr, tuple(EXECUTORS)))}, not "
                                 f"{self.runner!r}")
        if self.beam_options and self.runner != "beam":
            raise ParameterError(f"{option('beam_options')} are for {option('runner', 'beam')}")
