"""The Apache Beam executor: the plan's steps, run by any Beam runner.

Install the extra first: ``pip install -e ".[beam]"``. The graph::

    clips --Measure--> offsets --Tally (one global combine)--> --Target--> --Recipe-->
                       recipe (side input: the per-clip recipe, made once)
                       offsets --Prepare (decode, pad, front-end)--> prepared clips
                       --Key (a batch number from the clip's position)--> --Group-->
                       --Embed (the model, loaded once per worker; post-processed; cached)-->
                       embeddings --Gather--> --Write (one atomic write)--> <out>

Every per-clip step runs in parallel on the workers. Three steps are global: the target length
(every clip's padding waits for it), the recipe made from it
(:class:`~ravdess_prep.build.recipe.ClipRecipe`, handed to every worker), and the write, which
gathers the embeddings and writes the dataset with
:meth:`ravdess_prep.build.plan.BuildPlan.write`, so the bytes are those of the default executor.
Each step calls the plan or its recipe; nothing here computes audio or embeddings itself.

The graph uses only what every runner translates (Create, ParDo with one output, GroupByKey,
Flatten, side inputs, global combines): no tagged outputs, and nothing emitted at the end of a
bundle, so Beam's Dask runner runs it too. Batches are decided by each clip's position in the
inventory, not by the runner. Counts (clips embedded and cached, model loads and runs) travel
with the data to the write step, since not every runner reports metrics.

A clip that fails does not crash its worker: its error travels as data (:class:`Failure`) to
the write step, which writes nothing and records the first failure (in the order the default
executor would meet it) in an outcome file; the launcher raises that error, with its own type
and message, naming the clip and the step. Finished clips go to the per-clip cache as they are
done, so a failed or interrupted run resumes where it stopped (the cache, the source and the
model files have to be on storage every worker sees).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import operator
import os
import threading
import uuid
from pathlib import Path
from typing import Mapping, Sequence

import apache_beam as beam
import numpy as np
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import create_runner
from apache_beam.utils.shared import Shared

from .. import exceptions
from ..audio.measure import ClipOffsets, LengthTally, Measurement
from ..dataset.manifest import Manifest
from ..embedders import ModelFiles
from ..exceptions import ParameterError, RavdessPrepError, SourceError, option
from ..storage.atomic import atomic_path
from .executors import Run
from .inference import EmbedResult, ModelSession, PreparedClip
from .plan import BuildPlan, BuildResult
from .recipe import ClipRecipe
from .steps import StageClock

__all__ = ["run", "build_graph", "pipeline_options"]

# examples per batch of the Embed step, in model batches: fewer partly filled model batches
MODEL_BATCHES_PER_BATCH = 8
#: Seconds a Dask scheduler has to answer before a build fails naming its address.
DASK_CONNECT_SECONDS = 10
#: Runners Beam ships that its short names do not reach (by their full names).
RUNNERS_BY_NAME = {"DaskRunner": "apache_beam.runners.dask.dask_runner.DaskRunner"}
# the order in which the default executor meets failures: measure, target, then the rest
STEP_ORDER = ("Measure", "Target", "Recipe", "Prepare", "Embed", "Write")


@dataclasses.dataclass(frozen=True)
class Failure:
    """A step's error for one clip (or for the whole build, position -1), carried as data."""

    position: int
    step: str
    kind: str
    message: str

    @classmethod
    def of(cls, error: RavdessPrepError, *, position: int, step: str) -> "Failure":
        return cls(position, step, type(error).__name__, str(error.args[0]) if error.args else "")

    def error(self) -> RavdessPrepError:
        """The error again, with its own type, naming the step."""
        kind = getattr(exceptions, self.kind, None)
        if not (isinstance(kind, type) and issubclass(kind, RavdessPrepError)):
            kind = RavdessPrepError
        return kind(f"{self.message} [Beam step {self.step!r}]")


def attempt(step: str, position: int, function, *args, **kwargs):
    """``function(*args, **kwargs)``, or the :class:`Failure` of the library error it raised."""
    try:
        return function(*args, **kwargs)
    except RavdessPrepError as error:
        return Failure.of(error, position=position, step=step)


def first_failure(failures: Sequence[Failure]) -> Failure | None:
    """The failure the default executor would have met first."""
    return min(failures, key=lambda failure: (STEP_ORDER.index(failure.step), failure.position), default=None)


@dataclasses.dataclass(frozen=True)
class Embedded:
    """One clip's output on its way to the write step, with what it cost."""

    position: int
    audio_sha256: str
    embedding: np.ndarray
    session: str | None = None  # the model session that computed it (None: from the cache)
    model_calls: int = 0


class SharedSession:
    """A worker process's model session, shared by its threads."""

    def __init__(self, recipe: ClipRecipe):
        recipe.files.check()  # the worker's copy of every file has to be the one the launcher verified
        self.session = ModelSession(recipe.embedder, recipe.files)
        self.id = uuid.uuid4().hex
        self.lock = threading.Lock()


class MergeTallies(beam.CombineFn):
    """Step Tally: the one global combine, a :class:`ravdess_prep.audio.measure.LengthTally`."""

    def create_accumulator(self):
        return LengthTally()

    def add_input(self, tally, item):
        position, offsets = item
        return tally + LengthTally.of(offsets, position=position)

    def merge_accumulators(self, tallies):
        return functools.reduce(operator.add, tallies, LengthTally())

    def extract_output(self, tally):
        return tally


class Prepare(beam.DoFn):
    """Step Prepare (:meth:`ClipRecipe.prepare`): ``(position, PreparedClip or Failure)``."""

    def __init__(self, fast: bool):
        self.fast = fast

    def process(self, item, recipe):
        if isinstance(recipe, Failure):
            return
        position, offsets = item
        yield position, attempt("Prepare", position, recipe.prepare, offsets, fast=self.fast)


class Embed(beam.DoFn):
    """Step Embed (:meth:`ClipRecipe.embed`): the model on a batch of prepared clips, each
    clip post-processed and stored in the cache. The model is loaded once per worker process,
    on first use, and shared by the process's threads."""

    def __init__(self):
        self.shared = Shared()

    def process(self, keyed, recipe):
        _, batch = keyed
        batch = sorted(batch, key=lambda item: item[0])
        shared = attempt("Embed", batch[0][0], self.shared.acquire, lambda: SharedSession(recipe))
        if isinstance(shared, Failure):
            for position, _ in batch:
                yield dataclasses.replace(shared, position=position)
            return
        prepared = [dataclasses.replace(clip, name=str(position)) for position, clip in batch]
        with shared.lock:  # the process's threads take turns with the model
            result = attempt("Embed", batch[0][0], lambda: recipe.embed(
                prepared, [clip.name for clip in prepared], session=shared.session))
        if isinstance(result, Failure):
            for position, _ in batch:
                yield dataclasses.replace(result, position=position)
            return
        for index, (position, clip) in enumerate(batch):
            yield Embedded(position, clip.audio_sha256, result.embeddings[index], shared.id,
                           result.model_calls if index == 0 else 0)


class Write(beam.DoFn):
    """Step Write: every kept clip's output in build order, written at once with
    :meth:`BuildPlan.write`; or, after a failure, nothing. Either way the outcome file says
    what happened."""

    def __init__(self, plan: BuildPlan, outcome: str):
        self.plan, self.outcome = plan, outcome

    def process(self, done, measured, recipe, failures):
        failures = [item for _, item in measured if isinstance(item, Failure)] + list(failures)
        if isinstance(recipe, Failure):
            failures.append(recipe)
        failure = first_failure(failures)
        record = None
        if failure is None:
            record = attempt("Write", -1, self._write, done, measured, recipe)
            failure = record if isinstance(record, Failure) else None
        with atomic_path(self.outcome) as temporary:
            temporary.write_text(json.dumps({"failure": dataclasses.asdict(failure)} if failure else record))
        yield self.outcome

    def _write(self, done: Sequence[Embedded], measured, recipe: ClipRecipe) -> dict:
        embedded = {item.position: item for item in done}
        offsets = [clip for _, clip in sorted(measured, key=lambda item: item[0])]
        kept = [position for position, clip in enumerate(offsets) if not clip.dropped]
        missing = [offsets[position].name for position in kept if position not in embedded]
        if missing:
            raise RavdessPrepError(f"{len(missing)} clip(s) measured but not embedded (first: {missing[0]}); "
                                   "nothing was written")
        rows = [embedded[position] for position in kept]
        result = EmbedResult(np.stack([row.embedding for row in rows]), tuple(row.audio_sha256 for row in rows),
                             sum(row.session is not None for row in rows), sum(row.model_calls for row in rows))
        manifest = self.plan.write(Measurement(recipe.target, tuple(offsets)), result, recipe)
        return {"manifest": manifest.to_json(), "path": str(manifest.path), "computed": result.computed,
                "cached": len(rows) - result.computed, "model_calls": result.model_calls,
                "model_loads": len({row.session for row in rows if row.session is not None})}


def batch_key(recipe: ClipRecipe):
    """The Embed batch of a prepared clip, from its position: about
    :data:`MODEL_BATCHES_PER_BATCH` model batches of examples (or of clips) per batch."""
    embedder = recipe.embedder
    examples = recipe.examples_per_clip or 1
    per_batch = max(1, embedder.batch_examples * MODEL_BATCHES_PER_BATCH // (1 if embedder.batching == "clips"
                                                                               else examples))
    return lambda position: position // per_batch


def build_graph(root, plan: BuildPlan, files: ModelFiles, *, outcome: str | os.PathLike, fast: bool = True):
    """Add the build's steps to the Beam pipeline ``root``.

    Args:
        root: A ``beam.Pipeline``.
        plan: The build plan.
        files: The embedder's verified files (paths every worker can read).
        outcome: Where the write step records what happened (a path every worker can write).
        fast: See :class:`ravdess_prep.build.executors.Run`.

    The target and the recipe (:meth:`BuildPlan.recipe`) are made once, in steps of their
    own, and reach every Prepare, Key, Embed and Write as one side input.

    Returns:
        The PCollection of the outcome file's path.
    """
    records = [(position, call["name"], call["path"]) for position, call in enumerate(plan.clip_calls())]
    measured = (root | "Clips" >> beam.Create(records)
                | "Measure" >> beam.Map(lambda record: (record[0], attempt("Measure", record[0], plan.measure_clip,
                                                                           record[1], record[2]))))
    offsets = measured | "Measured" >> beam.Filter(lambda item: isinstance(item[1], ClipOffsets))
    recipe = beam.pvalue.AsSingleton(
        offsets
        | "Tally" >> beam.CombineGlobally(MergeTallies())
        | "Target" >> beam.Map(lambda tally: attempt("Target", -1, plan.target, tally))
        | "Recipe" >> beam.Map(lambda target: target if isinstance(target, Failure)
                               else attempt("Recipe", -1, plan.recipe, target, files))
    )
    prepared = (offsets
                | "Kept" >> beam.Filter(lambda item: not item[1].dropped)
                | "Prepare" >> beam.ParDo(Prepare(fast), recipe))
    computed = (
        prepared
        | "New" >> beam.Filter(lambda item: isinstance(item[1], PreparedClip) and item[1].cached is None)
        | "Key" >> beam.Map(lambda item, recipe: (batch_key(recipe)(item[0]), item), recipe)
        | "Group" >> beam.GroupByKey()
        | "Embed" >> beam.ParDo(Embed(), recipe)
    )
    cached = (prepared
              | "Cached" >> beam.Filter(lambda item: isinstance(item[1], PreparedClip) and item[1].cached is not None)
              | "FromCache" >> beam.Map(lambda item: Embedded(item[0], item[1].audio_sha256, item[1].cached)))
    failures = ((prepared | "PrepareFailures" >> beam.Map(lambda item: item[1]),
                 computed)
                | "Outcomes" >> beam.Flatten()
                | "Failures" >> beam.Filter(lambda item: isinstance(item, Failure)))
    done = ((computed | "Done" >> beam.Filter(lambda item: isinstance(item, Embedded)), cached)
            | "Embedded" >> beam.Flatten())
    return (done
            | "Gather" >> beam.combiners.ToList()
            | "Write" >> beam.ParDo(Write(plan, str(outcome)), beam.pvalue.AsList(measured), recipe,
                                    beam.pvalue.AsList(failures)))


def pipeline_options(options: Mapping[str, object] | Sequence[str] = (), *, jobs: int | None = None) -> PipelineOptions:
    """Beam pipeline options for a build.

    Args:
        options: ``{"runner": "FlinkRunner", ...}`` or ``["runner=FlinkRunner", "streaming"]``:
            each ``KEY=VALUE`` becomes ``--KEY=VALUE``, a bare ``KEY`` the switch ``--KEY``.
        jobs: Workers of the local runner (default: every core).

    Without a ``runner``, the build runs on Beam's local DirectRunner with ``jobs`` worker
    processes (``direct_running_mode=multi_processing``). The runner named is loaded first, so
    that the options it defines itself (``dask_client_address`` of the DaskRunner, say) are
    known.

    Raises:
        ParameterError: An unknown runner, an option Beam does not know, or a malformed one.
    """
    pairs = [(key, RUNNERS_BY_NAME.get(value, value) if key == "runner" else value) for key, value in _option_pairs(options)]
    given = dict(pairs)
    runner = given.get("runner") or "DirectRunner"
    if runner in ("DirectRunner", "direct"):
        defaults = {"runner": "DirectRunner", "direct_running_mode": "multi_processing",
                    "direct_num_workers": str(jobs or os.cpu_count() or 1),
                    "default_sdk_harness_log_level": "WARNING"}
        pairs = [(key, value) for key, value in defaults.items() if key not in given] + pairs
    try:
        create_runner(runner)  # imports the runner's module, and with it its option classes
    except (ValueError, ImportError) as error:
        raise ParameterError(f"Beam runner {runner!r} cannot be loaded ({error})") from None
    flags = [f"--{key}" if value is None else f"--{key}={value}" for key, value in pairs]
    parsed = PipelineOptions(flags)
    unknown = sorted(set(parsed.get_all_options(retain_unknown_options=True)) - set(parsed.get_all_options()))
    if unknown:
        raise ParameterError(f"unknown Beam pipeline option(s) {', '.join(unknown)}: not among the options of "
                             f"apache_beam.options.pipeline_options nor of the {runner}")
    return parsed


def check_dask_cluster(options: PipelineOptions, *, worker_wait_seconds: float) -> None:
    """Before any work on a Dask cluster (the DaskRunner with ``dask_client_address``): its
    scheduler answers within :data:`DASK_CONNECT_SECONDS`, and has a worker within
    ``worker_wait_seconds``. Nothing is checked for other runners.

    Raises:
        SourceError: The scheduler cannot be reached, or no worker joined in time; the message
            names the address and the time waited.
    """
    values = options.get_all_options()
    address = values.get("address")  # dask_client_address, as the DaskRunner's options store it
    if not address or "DaskRunner" not in str(values.get("runner", "")):
        return
    from distributed import Client

    try:
        client = Client(address, timeout=DASK_CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise SourceError(f"the Dask scheduler at {address} cannot be reached within {DASK_CONNECT_SECONDS} s "
                          f"({type(error).__name__}: {' '.join(str(error).split())[:200]})") from None
    try:
        client.wait_for_workers(1, timeout=worker_wait_seconds)
    except TimeoutError:
        raise SourceError(f"the Dask scheduler at {address} has no worker after {worker_wait_seconds:g} s (start one, "
                          f"or wait longer with {option('worker_wait_seconds')})") from None
    finally:
        client.close()


def _option_pairs(options) -> list[tuple[str, str | None]]:
    if isinstance(options, Mapping):
        return [(str(key), None if value is None else str(value)) for key, value in options.items()]
    pairs = []
    for given in options:
        key, equals, value = str(given).partition("=")
        key = key.strip().removeprefix("--")
        if not key or (equals and not value):
            raise ParameterError(f"a Beam option has to be KEY=VALUE or KEY, not {given!r}")
        pairs.append((key, value if equals else None))
    return pairs


def run(plan: BuildPlan, run: Run) -> BuildResult:
    """Run ``plan``'s steps on Apache Beam. The model files are verified here; every per-clip
    step runs on the workers.

    Returns:
        A :class:`BuildResult`; its ``seconds`` has ``model_files`` and ``beam`` (the whole
        Beam run).

    Raises:
        The first failing step's own error (see the module docstring).
    """
    settings = run.runner  # the BeamExecutor: its options
    options = pipeline_options(settings.beam_options, jobs=run.jobs)
    check_dask_cluster(options, worker_wait_seconds=settings.worker_wait_seconds)
    clock = StageClock()
    files = plan.model_files(cache_dir=run.cache_dir, progress=run.progress)
    clock.lap("model_files")
    outcome = (plan.cache_root or plan.out.parent) / "beam-runs" / f"{uuid.uuid4().hex}.json"
    outcome.parent.mkdir(parents=True, exist_ok=True)
    root = beam.Pipeline(options=options)
    build_graph(root, plan, files, outcome=outcome, fast=run.fast)
    try:
        result = root.run()
        try:
            result.wait_until_finish()
        finally:
            if getattr(result, "client", None) is not None:  # the DaskRunner's connection to its scheduler
                result.client.close()
        record = json.loads(outcome.read_text())
    except FileNotFoundError:
        raise RavdessPrepError(f"the Beam run ended without recording its outcome in {outcome}") from None
    finally:
        outcome.unlink(missing_ok=True)
    clock.lap("beam")
    if "failure" in record:
        raise Failure(**record["failure"]).error()
    manifest = Manifest.from_json(record["manifest"], path=Path(record["path"]))
    return BuildResult(manifest.path.parent, manifest, clock.seconds, record["computed"], record["cached"],
                       record["model_calls"], record["model_loads"])
