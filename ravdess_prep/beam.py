"""The Apache Beam executor: the build plan's steps, run by any Beam runner.

Install the extra first: ``pip install -e ".[beam]"``. The graph::

    clips --Measure--> offsets --Tally (one global combine)--> --Target--> target (side input)
                       offsets --Prepare (decode, pad, front-end)--> examples --Batch-->
                       --Embed (the model, loaded once per worker; post-processed; cached)-->
                       embeddings --Gather--> --Write (one atomic write)--> <out>

Every per-clip step runs in parallel on the workers. Two steps are global: the target length
(every clip's padding waits for it) and the write, which gathers the embeddings and writes the
dataset with :meth:`ravdess_prep.plan.BuildPlan.write`, so the bytes are those of the default
executor. Each step calls the plan; nothing here computes audio or embeddings itself.

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
import os
import threading
import uuid
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from . import exceptions
from .atomic import atomic_path
from .config import Run
from .embed import ModelSession
from .embedders import ModelFiles
from .exceptions import ParameterError, RavdessPrepError
from .local import RunReport, StageClock
from .measure import ClipOffsets, LengthTally
from .plan import BuildPlan, Target

__all__ = ["run_beam", "build_graph", "pipeline_options", "METRICS_NAMESPACE"]

METRICS_NAMESPACE = "ravdess_prep"
# examples per BatchElements batch, in model batches: fewer partly filled model batches
MODEL_BATCHES_PER_BATCH = 8
# the order in which the default executor meets failures: measure, target, then the rest
STEP_ORDER = ("Measure", "Target", "Prepare", "Embed")


def _beam():
    try:
        import apache_beam
    except ImportError:
        raise RavdessPrepError(
            "the Beam runner needs Apache Beam: pip install -e \".[beam]\" (or pip install apache-beam)"
        ) from None
    return apache_beam


@dataclasses.dataclass(frozen=True)
class Failure:
    """A step's error for one clip (or for the whole build, position -1), carried as data."""

    position: int
    step: str
    kind: str
    message: str

    @classmethod
    def of(cls, error: RavdessPrepError, *, position: int, step: str) -> "Failure":
        return cls(position, step, type(error).__name__, str(error))

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


class SharedSession:
    """A worker process's model session, shared by its threads; counts its load once."""

    def __init__(self, plan: BuildPlan, files: ModelFiles):
        files.check()  # the worker's copy of every file has to be the one the launcher verified
        self.session = ModelSession(plan.embedder, files)
        self._lock = threading.Lock()
        self._unreported = True

    def take_load_report(self) -> bool:
        """True once per load: the first caller reports it."""
        with self._lock:
            unreported, self._unreported = self._unreported, False
            return unreported

    def silent_row(self) -> np.ndarray:
        with self._lock:
            return self.session.silent_row()


@functools.lru_cache(maxsize=1)
def step_classes():
    """The DoFn and CombineFn classes of the build (defined on first use, so that importing
    this module does not need Apache Beam)."""
    beam = _beam()
    from apache_beam.metrics import Metrics
    from apache_beam.utils.shared import Shared

    class MergeTallies(beam.CombineFn):
        """Step Tally: the one global combine, a :class:`ravdess_prep.measure.LengthTally`."""

        def create_accumulator(self):
            return LengthTally()

        def add_input(self, tally, item):
            position, offsets = item
            return tally.merge(LengthTally.of(offsets, position=position))

        def merge_accumulators(self, tallies):
            return functools.reduce(LengthTally.merge, tallies, LengthTally())

        def extract_output(self, tally):
            return tally

    class Prepare(beam.DoFn):
        """Step Prepare (:meth:`BuildPlan.prepare`); a cached clip goes to the ``cached`` output
        with its embedding, a failure to ``failed``."""

        def __init__(self, plan: BuildPlan, files: ModelFiles, fast: bool):
            self.plan, self.files, self.fast = plan, files, fast
            self.cached_clips = Metrics.counter(METRICS_NAMESPACE, "clips_cached")

        def process(self, item, target):
            if isinstance(target, Failure):
                return
            position, offsets = item
            cache = self.plan.clip_cache(target, self.files)
            clip = attempt("Prepare", position, self.plan.prepare, offsets, target=target, cache=cache, fast=self.fast)
            if isinstance(clip, Failure):
                yield beam.pvalue.TaggedOutput("failed", clip)
            elif clip.cached is not None:
                self.cached_clips.inc()
                yield beam.pvalue.TaggedOutput("cached", (position, clip.audio_sha256, clip.cached))
            else:
                yield position, clip

    class Embed(beam.DoFn):
        """Step Embed: the model on a batch of prepared clips, each clip post-processed and
        stored in the cache. The model is loaded once per worker process, on first use, and
        shared by the process's threads; every load is counted in ``model_loads``."""

        def __init__(self, plan: BuildPlan, files: ModelFiles):
            self.plan, self.files = plan, files
            self.shared = Shared()
            self.loads = Metrics.counter(METRICS_NAMESPACE, "model_loads")
            self.runs = Metrics.counter(METRICS_NAMESPACE, "model_calls")
            self.embedded = Metrics.counter(METRICS_NAMESPACE, "clips_embedded")

        def process(self, batch, target):
            shared = attempt("Embed", batch[0][0], self.shared.acquire, lambda: SharedSession(self.plan, self.files))
            if isinstance(shared, Failure):
                for position, _ in batch:
                    yield beam.pvalue.TaggedOutput("failed", dataclasses.replace(shared, position=position))
                return
            if shared.take_load_report():
                self.loads.inc()
            examples = np.concatenate([clip.examples for _, clip in batch])
            if examples.shape[0]:
                raw = shared.session.run(examples)
                self.runs.inc()
            else:  # every example of the batch is silent
                raw = np.zeros((0,) + shared.silent_row().shape, np.float32)
            cache = self.plan.clip_cache(target, self.files)
            first = 0
            for position, clip in batch:
                rows = raw[first : first + clip.examples.shape[0]]
                first += clip.examples.shape[0]
                if clip.silent is not None and clip.silent.any():
                    shared.silent_row()  # computed under the lock, once per process
                embedding = shared.session.finish(rows, clip.silent)
                cache.put(clip.audio_sha256, embedding)
                self.embedded.inc()
                yield position, clip.audio_sha256, embedding

    class Write(beam.DoFn):
        """Step Write: every kept clip's embedding in build order, written at once with
        :meth:`BuildPlan.write`; or, after a failure, nothing. Either way the outcome file says
        what happened."""

        def __init__(self, plan: BuildPlan, files: ModelFiles, outcome: str):
            self.plan, self.files, self.outcome = plan, files, outcome

        def process(self, done, measured, target, failures):
            failures = [item for _, item in measured if isinstance(item, Failure)] + list(failures)
            if isinstance(target, Failure):
                failures.append(target)
            failure = first_failure(failures)
            if failure is None:
                failure = attempt("Write", -1, self._write, done, measured, target)
            record = {"failure": dataclasses.asdict(failure)} if isinstance(failure, Failure) else {"written": str(failure)}
            with atomic_path(self.outcome) as temporary:
                temporary.write_text(json.dumps(record))
            yield record

        def _write(self, done, measured, target: Target) -> Path:
            embedded = {position: (digest, embedding) for position, digest, embedding in done}
            offsets = [clip for _, clip in sorted(measured, key=lambda item: item[0])]
            tally = functools.reduce(LengthTally.merge, (LengthTally.of(clip, position=position)
                                                         for position, clip in enumerate(offsets)), LengthTally())
            measurement = tally.measurement(offsets, **self.plan.config.target_kwargs())
            kept = [position for position, clip in enumerate(offsets) if not clip.dropped]
            missing = [offsets[position].name for position in kept if position not in embedded]
            if missing:
                raise RavdessPrepError(f"{len(missing)} clip(s) measured but not embedded (first: {missing[0]}); "
                                       "nothing was written")
            return self.plan.write(measurement, [embedded[position][1] for position in kept],
                                   [embedded[position][0] for position in kept], self.files,
                                   examples_per_clip=target.examples_per_clip)

    return {"MergeTallies": MergeTallies, "Prepare": Prepare, "Embed": Embed, "Write": Write}


def build_graph(root, plan: BuildPlan, files: ModelFiles, *, outcome: str | os.PathLike, fast: bool = True):
    """Add the build's steps to the Beam pipeline ``root``.

    Args:
        root: A ``beam.Pipeline``.
        plan: The build plan.
        files: The embedder's verified files (paths every worker can read).
        outcome: Where the write step records what happened (a path every worker can write).
        fast: See :class:`ravdess_prep.config.Run`.

    Returns:
        The PCollection of the outcome record.
    """
    beam = _beam()
    steps = step_classes()
    records = [(position, name, path) for position, (name, path) in enumerate(plan.named_paths())]
    batch_examples = plan.embedder.batch_examples * MODEL_BATCHES_PER_BATCH

    measured = (root | "Clips" >> beam.Create(records)
                | "Measure" >> beam.Map(lambda record: (record[0], attempt("Measure", record[0], plan.measure_clip,
                                                                           record[1], record[2]))))
    offsets = measured | "Measured" >> beam.Filter(lambda item: isinstance(item[1], ClipOffsets))
    target = beam.pvalue.AsSingleton(
        offsets
        | "Tally" >> beam.CombineGlobally(steps["MergeTallies"]())
        | "Target" >> beam.Map(lambda tally: attempt("Target", -1, plan.target, tally))
    )
    prepared = (
        offsets
        | "Kept" >> beam.Filter(lambda item: not item[1].dropped)
        | "Prepare" >> beam.ParDo(steps["Prepare"](plan, files, fast), target).with_outputs("cached", "failed", main="new")
    )
    computed = (
        prepared.new
        | "Batch" >> beam.BatchElements(min_batch_size=batch_examples, max_batch_size=batch_examples,
                                        element_size_fn=lambda item: max(1, item[1].examples.shape[0]))
        | "Embed" >> beam.ParDo(steps["Embed"](plan, files), target).with_outputs("failed", main="done")
    )
    failures = (prepared.failed, computed.failed) | "Failures" >> beam.Flatten()
    return (
        (computed.done, prepared.cached)
        | "Embedded" >> beam.Flatten()
        | "Gather" >> beam.combiners.ToList()
        | "Write" >> beam.ParDo(steps["Write"](plan, files, str(outcome)), beam.pvalue.AsList(measured), target,
                                beam.pvalue.AsList(failures))
    )


def pipeline_options(options: Mapping[str, object] | Sequence[str] = (), *, jobs: int | None = None):
    """Beam pipeline options for a build.

    Args:
        options: ``{"runner": "FlinkRunner", ...}`` or ``["runner=FlinkRunner", "streaming"]``:
            each ``KEY=VALUE`` becomes ``--KEY=VALUE``, a bare ``KEY`` the switch ``--KEY``.
        jobs: Workers of the local runner (default: every core).

    Without a ``runner``, the build runs on Beam's local DirectRunner with ``jobs`` worker
    processes (``direct_running_mode=multi_processing``).

    Raises:
        ParameterError: An option Beam does not know, or a malformed one.
    """
    _beam()
    from apache_beam.options.pipeline_options import PipelineOptions

    pairs = _option_pairs(options)
    given = dict(pairs)
    if given.get("runner", "DirectRunner") in ("DirectRunner", "direct"):
        defaults = {"runner": "DirectRunner", "direct_running_mode": "multi_processing",
                    "direct_num_workers": str(jobs or os.cpu_count() or 1),
                    "default_sdk_harness_log_level": "WARNING"}
        pairs = [(key, value) for key, value in defaults.items() if key not in given] + pairs
    flags = [f"--{key}" if value is None else f"--{key}={value}" for key, value in pairs]
    parsed = PipelineOptions(flags)
    unknown = sorted(set(parsed.get_all_options(retain_unknown_options=True)) - set(parsed.get_all_options()))
    if unknown:
        raise ParameterError(f"unknown Beam pipeline option(s) {', '.join(unknown)}: "
                             "not among the options of apache_beam.options.pipeline_options")
    return parsed


def _option_pairs(options) -> list[tuple[str, str | None]]:
    if isinstance(options, Mapping):
        return [(str(key), None if value is None else str(value)) for key, value in options.items()]
    pairs = []
    for option in options:
        key, equals, value = str(option).partition("=")
        key = key.strip().removeprefix("--")
        if not key or (equals and not value):
            raise ParameterError(f"a Beam option has to be KEY=VALUE or KEY, not {option!r}")
        pairs.append((key, value if equals else None))
    return pairs


def run_beam(plan: BuildPlan, run: Run) -> RunReport:
    """Run ``plan``'s steps on Apache Beam. The model files are verified here; every per-clip
    step runs on the workers.

    Returns:
        A :class:`ravdess_prep.local.RunReport`; its ``seconds`` has ``model_files`` and
        ``beam`` (the whole Beam run).

    Raises:
        The first failing step's own error (see the module docstring).
    """
    beam = _beam()
    options = pipeline_options(run.beam_options, jobs=run.jobs)
    clock = StageClock()
    files = plan.model_files(cache_dir=run.cache_dir, progress=run.progress)
    clock.lap("model_files")
    outcome = plan.cache_root / "beam-runs" / f"{uuid.uuid4().hex}.json"
    outcome.parent.mkdir(parents=True, exist_ok=True)
    root = beam.Pipeline(options=options)
    build_graph(root, plan, files, outcome=outcome, fast=run.fast)
    try:
        result = root.run()
        result.wait_until_finish()
        record = json.loads(outcome.read_text())
    except FileNotFoundError:
        raise RavdessPrepError(f"the Beam run ended without recording its outcome in {outcome}") from None
    finally:
        outcome.unlink(missing_ok=True)
    clock.lap("beam")
    if "failure" in record:
        raise Failure(**record["failure"]).error()
    counters = counter_values(result)
    return RunReport(Path(record["written"]), clock.seconds, counters.get("clips_embedded", 0),
                     counters.get("clips_cached", 0), counters.get("model_calls", 0), counters.get("model_loads", 0))


def counter_values(result) -> dict[str, int]:
    """The build's counters of a finished Beam run: ``model_loads``, ``model_calls``,
    ``clips_embedded``, ``clips_cached``."""
    from apache_beam.metrics.metric import MetricsFilter

    values: dict[str, int] = {}
    for counter in result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        values[counter.key.metric.name] = values.get(counter.key.metric.name, 0) + int(value or 0)
    return values
