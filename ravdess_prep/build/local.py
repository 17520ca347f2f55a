"""The default executor: the plan's steps on threads of this process.

The model's files are verified, worker threads measure every clip (decode and trim; the target
is one running maximum), then worker threads prepare clips for the model (decode, pad,
resample, front-end), ahead of it or in turns with it, and it runs in this thread on full
batches; one atomic write ends it.
"""

from __future__ import annotations

import functools

from tqdm.auto import tqdm

from ..audio.measure import Measurement
from ..config import Config
from . import steps
from .executors import Run
from .inference import EmbedResult, ModelSession
from .parallel import map_calls, map_in_turns, single_threaded_blas
from .plan import BuildPlan, BuildResult, run_steps
from .recipe import ClipRecipe

#: Clips prepared ahead of the model, or in one turn (bounds memory: about 0.5 MB per clip of 20 VGGish
#: examples).
AHEAD_CLIPS = 128


def run(plan: BuildPlan, run: Run) -> BuildResult:
    """Run every step of ``plan`` here (:func:`~ravdess_prep.build.plan.run_steps`), the
    per-clip steps on worker threads."""
    calls = plan.clip_calls()
    return run_steps(plan, run, measure=lambda plan: measure(plan.config, calls, jobs=run.jobs, progress=run.progress),
                     embed=lambda recipe, measurement: embed(recipe, measurement, jobs=run.jobs,
                                                             progress=run.progress, fast=run.fast))


def measure(config: Config, calls: list[dict], *, jobs: int | None = None, progress: bool = False) -> Measurement:
    """Steps measure and target: the offsets of every clip (``calls``: ``{"name", "path"}``
    each, in build order) on worker threads, then the target."""
    offsets = map_calls(functools.partial(steps.measure_clip, config), calls, jobs=jobs)
    return steps.measurement(config, tqdm(offsets, total=len(calls), desc="measure", unit="clip",
                                          disable=not progress))


def embed(recipe: ClipRecipe, measurement: Measurement, *, jobs: int | None = None, progress: bool = False,
          fast: bool = True, session: ModelSession | None = None) -> EmbedResult:
    """The recipe's steps prepare and embed: worker threads prepare clips for the model, which
    runs in this thread; every finished clip is cached at once.

    A model that occupies every core (PyTorch on the CPU) takes turns with the workers: they
    prepare :data:`AHEAD_CLIPS` clips on every core while it waits, then it runs on them while
    they wait (see :func:`ravdess_prep.build.parallel.map_in_turns`; measured on 2 cores, the
    Whisper-base bf16 build's encoder took 17.5-18.2 s instead of 21.8-21.9 beside them, and
    the wall 35.2-36.6 s instead of 36.6-37.6). Beside any other model the workers prepare up
    to :data:`AHEAD_CLIPS` clips ahead at the lowest scheduling priority, so they take the
    cycles the model leaves idle and yield a core as soon as the model wants it. numpy's BLAS
    runs on one thread meanwhile (see :func:`ravdess_prep.build.parallel.single_threaded_blas`).
    ``session``: a loaded model to run, left open (None: loaded when a clip needs it, closed at
    the end).
    """
    calls = [{"offsets": clip, "fast": fast} for clip in measurement.kept]
    if recipe.embedder.model_uses_every_core():
        prepared = map_in_turns(recipe.prepare, calls, jobs=jobs, turn=AHEAD_CLIPS)
    else:
        prepared = map_calls(recipe.prepare, calls, jobs=jobs, ahead=AHEAD_CLIPS, low_priority=True)
    with single_threaded_blas():
        return recipe.embed(prepared, [clip.name for clip in measurement.kept], progress=progress, session=session)
