"""The default executor: the build plan's steps on threads of this process.

The measure pass runs first (worker threads decode and trim; one running maximum), then the
model's files are verified, then the embed stage (worker threads prepare clips ahead of the
model, which runs in this thread on full batches), then one atomic write.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

from .config import Run
from .embed import ModelSession, embed_clips
from .measure import measure
from .plan import BuildPlan


class StageClock:
    """Wall seconds per stage of a build: ``lap(stage)`` closes the stage that just ran."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._last, 3)
        self._last = now


@dataclasses.dataclass(frozen=True)
class RunReport:
    """What an executor did.

    Attributes:
        out: The output folder.
        seconds: Wall time per stage.
        computed: Clips that went through the model.
        cached: Clips taken from the cache.
        model_calls: Model runs.
        model_loads: Times the model was loaded (0 if every clip was cached; with the Beam
            runner, once per worker process that embedded something).
        rejected: Damaged cache entries found and computed again, ``(path, why)`` (the Beam
            runner's workers log theirs).
    """

    out: Path
    seconds: dict
    computed: int
    cached: int
    model_calls: int
    model_loads: int
    rejected: tuple = ()


def run_local(plan: BuildPlan, run: Run) -> RunReport:
    """Run ``plan``'s steps here: measure, target, model files, embed, write."""
    clock = StageClock()
    config = plan.config
    measurement = measure(plan.named_paths(), jobs=run.jobs, progress=run.progress, **config.measure_kwargs())
    clock.lap("measure")
    target = plan.target_of(measurement)
    files = plan.model_files(cache_dir=run.cache_dir, progress=run.progress)
    clock.lap("model_files")
    embedded = embed_clips(
        measurement.kept, target_length_samples=target.length_samples,
        open_session=functools.partial(ModelSession, plan.embedder, files), cache=plan.clip_cache(target, files),
        jobs=run.jobs, progress=run.progress, fast=run.fast, **config.prepare_kwargs(),
    )
    clock.lap("embed")
    out = plan.write(measurement, embedded.embeddings, embedded.audio_sha256, files,
                     examples_per_clip=target.examples_per_clip)
    clock.lap("write")
    return RunReport(out, clock.seconds, embedded.computed, len(measurement.kept) - embedded.computed,
                     embedded.model_calls, int(embedded.computed > 0), embedded.rejected)
