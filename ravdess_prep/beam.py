"""The build on Apache Beam: the same stages, run by any Beam runner.

Install the extra first: ``pip install -e ".[beam]"``. The graph::

    clips --Trim--> offsets --TargetLength (one global combine)--> tally (side input)
                    offsets --Prepare (decode, pad, front-end)--> examples --BatchElements-->
                    --Embed (VGGish, loaded once per worker)--> raw --Postprocess--> embeddings
                    embeddings --GroupByKey (split)--> --Write (one atomic write)--> <out>

Every per-clip step runs in parallel on the workers: trimming, padding, the front-end, the model
(in batches) and post-processing. Two steps are global: the combine that finds the target
length (every clip's padding waits for it) and the final write, which gathers the embeddings
(about 10 kB per clip) and writes the bundles with :func:`ravdess_prep.pipeline.write`, so they
are byte for byte those of the default executor.

The steps call the stage functions of :mod:`ravdess_prep.measure`, :mod:`ravdess_prep.embed` and
:mod:`ravdess_prep.pipeline`; nothing here computes audio or embeddings itself. A clip that
fails in a worker fails the build with the stage's own error, which names the clip; policies
(``on_silent``, ``on_too_long``) act as in the default executor. Nothing is written to ``out``
unless every clip succeeded. Finished clips go to the per-clip cache as they are done, so a
failed or interrupted run resumes where it stopped (the cache has to be on storage every worker
sees, like the source and the model files).
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .config import Config
from .exceptions import ModelFileError, ParameterError, RavdessPrepError

__all__ = ["build", "build_graph", "pipeline_options", "METRICS_NAMESPACE"]

METRICS_NAMESPACE = "ravdess_prep"
# examples per BatchElements batch, in model batches: fewer partly filled model batches
MODEL_BATCHES_PER_BATCH = 8


def _beam():
    try:
        import apache_beam
    except ImportError:
        raise RavdessPrepError(
            "the Beam runner needs Apache Beam: pip install -e \".[beam]\" (or pip install apache-beam)"
        ) from None
    return apache_beam


# --- the per-clip steps -------------------------------------------------------------------


def trim_clip(record: tuple[int, str, str, str], *, config: Config):
    """Step Trim: ``(position, split, name, path)`` to ``(position, split, ClipOffsets)``."""
    from .measure import measure_file

    position, split, name, path = record
    return position, split, measure_file(path, name=name, config=config)


def clip_cache(tally, *, config: Config, files, cache_dir: str):
    """The :class:`ravdess_prep.embed.ClipCache` of a build whose length tally is ``tally``."""
    from .embed import ClipCache, settings_key

    target, _, _ = tally.target(config)
    key = settings_key(config, target_length_samples=target, checkpoint_sha256=files.checkpoint_sha256,
                       pca_sha256=files.pca_sha256)
    return ClipCache(Path(cache_dir) / "clips", key)


def make_steps():
    """The DoFn and CombineFn classes of the build (defined on first use, so that importing
    this module does not need Apache Beam)."""
    global _STEPS
    if _STEPS is None:
        _STEPS = _define_steps(_beam())
    return _STEPS


_STEPS = None


def _define_steps(beam):
    from apache_beam.metrics import Metrics
    from apache_beam.utils.shared import Shared

    class TargetLength(beam.CombineFn):
        """Step TargetLength: the one global combine, a :class:`ravdess_prep.measure.LengthTally`
        of every clip, checked (sample rates, something kept)."""

        def __init__(self, config: Config):
            self.config = config

        def create_accumulator(self):
            from .measure import LengthTally

            return LengthTally()

        def add_input(self, tally, item):
            from .measure import LengthTally

            position, _, offsets = item
            return tally.merge(LengthTally.of(offsets, position=position))

        def merge_accumulators(self, tallies):
            tallies = iter(tallies)
            merged = next(tallies)
            for tally in tallies:
                merged = merged.merge(tally)
            return merged

        def extract_output(self, tally):
            from .pipeline import check_examples

            target, rate, _ = tally.target(self.config)  # raises if the build cannot go on
            check_examples(target, rate, self.config)
            return tally

    class Prepare(beam.DoFn):
        """Step Prepare: hash, decode, pad and run the front-end on one clip
        (:func:`ravdess_prep.embed.prepare_clip`); a clip found in the cache goes to the
        ``cached`` output with its embedding."""

        def __init__(self, config: Config, files, cache_dir: str):
            self.config, self.files, self.cache_dir = config, files, cache_dir
            self.cached_clips = Metrics.counter(METRICS_NAMESPACE, "clips_cached")

        def process(self, item, tally):
            from .embed import prepare_clip

            position, split, offsets = item
            target, _, _ = tally.target(self.config)
            cache = clip_cache(tally, config=self.config, files=self.files, cache_dir=self.cache_dir)
            clip = prepare_clip(offsets=offsets, target_length_samples=target, config=self.config, cache=cache)
            if clip.examples is None:
                self.cached_clips.inc()
                yield beam.pvalue.TaggedOutput(
                    "cached", (position, split, clip.name, clip.audio_sha256, cache.get(clip.audio_sha256))
                )
            else:
                yield position, split, clip

    class Embed(beam.DoFn):
        """Step Embed: VGGish on a batch of prepared clips; raw embeddings per clip.

        The model is loaded once per worker process, in ``setup``, and shared by the process's
        threads (:class:`apache_beam.utils.shared.Shared`); every load is counted in the
        ``model_loads`` counter.
        """

        def __init__(self, config: Config, files):
            self.config, self.files = config, files
            self.shared = Shared()
            self.loads = Metrics.counter(METRICS_NAMESPACE, "model_loads")
            self.runs = Metrics.counter(METRICS_NAMESPACE, "model_calls")
            self.embedded = Metrics.counter(METRICS_NAMESPACE, "clips_embedded")
            self.model = None

        def setup(self):
            self.model = self.shared.acquire(lambda: _LoadedModel(self.files, self.config))

        def process(self, batch):
            from .embed import with_silent_rows

            if self.model.take_load_report():
                self.loads.inc()
            clips = [clip for _, _, clip in batch]
            raw = self.model.embed(np.concatenate([clip.examples for clip in clips]))
            self.runs.inc()
            self.embedded.inc(len(clips))
            first = 0
            for (position, split, clip) in batch:
                rows = raw[first : first + clip.examples.shape[0]]
                first += clip.examples.shape[0]
                if clip.silent is not None and clip.silent.any():
                    rows = with_silent_rows(rows, clip.silent, self.model.silent_row())
                yield position, split, clip.name, clip.audio_sha256, rows

    class Postprocess(beam.DoFn):
        """Step Postprocess: PCA and quantization of one clip; the result goes to the cache."""

        def __init__(self, config: Config, files, cache_dir: str):
            self.config, self.files, self.cache_dir = config, files, cache_dir
            self.postprocessor = None

        def setup(self):
            from vggish.postprocess import Postprocessor

            _check_model_file(self.files.pca_params, self.files.pca_sha256, "PCA parameters")
            self.postprocessor = Postprocessor(self.files.pca_params)

        def process(self, item, tally):
            position, split, name, digest, raw = item
            embedding = self.postprocessor.postprocess(raw)
            clip_cache(tally, config=self.config, files=self.files, cache_dir=self.cache_dir).put(digest, embedding)
            yield position, split, name, digest, embedding

    class Write(beam.DoFn):
        """Step Write: every split's clips in position order, written at once with
        :func:`ravdess_prep.pipeline.write` (the bundles, manifest and metadata)."""

        def __init__(self, out: str, clips, config: Config, files):
            self.out, self.clips, self.config, self.files = out, clips, config, files
            self.attrs = dict(clips.attrs)  # source roots, for the manifest; pickling drops them

        def process(self, groups, offsets, tally):
            clips = self.clips.copy()
            clips.attrs = dict(self.attrs)
            yield str(write_groups(groups, offsets=offsets, tally=tally, out=self.out, clips=clips,
                                   config=self.config, files=self.files))

    return {"TargetLength": TargetLength, "Prepare": Prepare, "Embed": Embed, "Postprocess": Postprocess,
            "Write": Write}


class _LoadedModel:
    """VGGish, post-processing aside, as one worker process holds it."""

    def __init__(self, files, config: Config):
        from .pipeline import load_model

        _check_model_file(files.checkpoint, files.checkpoint_sha256, "checkpoint")
        self.vggish, _ = load_model(files, config)
        self._lock = threading.Lock()
        self._silent_row = None
        self._unreported = True

    def take_load_report(self) -> bool:
        """True once per load: the first caller reports it."""
        with self._lock:
            unreported, self._unreported = self._unreported, False
            return unreported

    def embed(self, examples: np.ndarray) -> np.ndarray:
        return self.vggish.embed(examples)

    def silent_row(self) -> np.ndarray:
        from .embed import silent_example

        with self._lock:
            if self._silent_row is None:
                self._silent_row = self.vggish.embed(silent_example()[None])[0]
            return self._silent_row


def _check_model_file(path, sha256: str, what: str) -> None:
    """A worker's copy of a model file has to be the one the driver verified."""
    from vggish.files import model_file_sha256

    try:
        found = model_file_sha256(path)
    except OSError as error:
        raise ModelFileError(f"{path}: the {what} cannot be read on this worker ({error})") from None
    if found != sha256:
        raise ModelFileError(f"{path}: the {what} on this worker has SHA-256 {found}, the build verified {sha256}")


def write_groups(groups, *, offsets, tally, out, clips, config: Config, files) -> Path:
    """Write the bundles from the gathered steps' outputs.

    Args:
        groups: ``(split, clips)`` pairs; each clip ``(position, split, name, sha256, embedding)``.
        offsets: Every clip's ``(position, split, ClipOffsets)``, dropped clips included.
        tally: The length tally of every clip.
        out, clips, config, files: As for :func:`ravdess_prep.pipeline.write`.
    """
    from .embed import EmbedResult
    from .pipeline import write

    done = {item[0]: item for _, items in groups for item in items}
    measured = [clip for _, _, clip in sorted(offsets, key=lambda item: item[0])]
    measurement = tally.measurement(config, clips=measured)
    kept = [position for position, clip in enumerate(measured) if not clip.dropped]
    missing = [measured[position].name for position in kept if position not in done]
    if missing or len(done) != len(kept):
        raise RavdessPrepError(
            f"{len(missing)} clip(s) measured but not embedded (first: {missing[:1]}); nothing was written"
        )
    embedded = EmbedResult(
        embeddings=np.stack([done[position][4] for position in kept]).astype(np.float32),
        audio_sha256=tuple(done[position][3] for position in kept),
        computed=0, model_calls=0,  # not written; the driver reads them from the metrics
    )
    return write(out, clips, measurement, embedded, config, files)


# --- the graph and its run ----------------------------------------------------------------


def build_graph(root, clips, *, config: Config, files, out: str | os.PathLike, cache_dir: str | os.PathLike):
    """Add the build's steps to the Beam pipeline ``root``.

    Args:
        root: A ``beam.Pipeline``.
        clips: The split inventory (see :func:`ravdess_prep.pipeline.split`).
        config: The build configuration.
        files: Verified :class:`ravdess_prep.pipeline.ModelFiles` (paths every worker can read).
        out: The output folder.
        cache_dir: The cache root (per-clip embeddings go to ``<cache_dir>/clips``).

    Returns:
        The PCollection of the one written folder's path.
    """
    beam = _beam()
    steps = make_steps()
    cache_dir = str(Path(cache_dir).absolute())
    records = [(position, str(split), str(name), str(path))
               for position, (split, name, path) in enumerate(zip(clips["split"], clips["clip_name"], clips["path"]))]
    batch_examples = config.batch_size * MODEL_BATCHES_PER_BATCH

    offsets = root | "Clips" >> beam.Create(records) | "Trim" >> beam.Map(trim_clip, config=config)
    tally = beam.pvalue.AsSingleton(offsets | "TargetLength" >> beam.CombineGlobally(steps["TargetLength"](config)))
    prepared = (
        offsets
        | "Kept" >> beam.Filter(lambda item: not item[2].dropped)
        | "Prepare" >> beam.ParDo(steps["Prepare"](config, files, cache_dir), tally).with_outputs("cached", main="new")
    )
    computed = (
        prepared.new
        | "Batch" >> beam.BatchElements(min_batch_size=batch_examples, max_batch_size=batch_examples,
                                        element_size_fn=lambda item: max(1, item[2].examples.shape[0]))
        | "Embed" >> beam.ParDo(steps["Embed"](config, files))
        | "Postprocess" >> beam.ParDo(steps["Postprocess"](config, files, cache_dir), tally)
    )
    return (
        (computed, prepared.cached)
        | "Embedded" >> beam.Flatten()
        | "BySplit" >> beam.Map(lambda item: (item[1], item))
        | "GroupBySplit" >> beam.GroupByKey()
        | "Gather" >> beam.combiners.ToList()
        | "Write" >> beam.ParDo(steps["Write"](str(Path(out).absolute()), clips, config, files),
                                beam.pvalue.AsList(offsets), tally)
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


def build(
    config: Config = Config(),
    *,
    out: str | os.PathLike,
    source_path=None,
    actors: Sequence[int] | None = None,
    checkpoint=None,
    pca_params=None,
    allow_custom_checkpoint: bool = False,
    allow_custom_pca_params: bool = False,
    cache_dir=None,
    jobs: int | None = None,
    progress: bool = True,
    options: Mapping[str, object] | Sequence[str] = (),
):
    """:func:`ravdess_prep.pipeline.build` on Apache Beam: the same arguments and result, plus
    ``options`` (see :func:`pipeline_options`). The inventory, the split and the model files'
    verification run here; every per-clip stage runs on the workers.

    Returns:
        A :class:`ravdess_prep.pipeline.BuildResult`; its ``seconds`` has ``source``, ``split``,
        ``model_files`` and ``beam`` (the whole Beam run).
    """
    beam = _beam()
    from .cache import cache_root
    from .pipeline import BuildResult, StageClock, model_files, read_manifest, source, split

    beam_options = pipeline_options(options, jobs=jobs)
    clock = StageClock()
    lap = clock.lap

    clips = source(source_path, actors=actors, cache_dir=cache_dir, progress=progress); lap("source")
    clips = split(clips, config); lap("split")
    files = model_files(checkpoint, pca_params, allow_custom_checkpoint=allow_custom_checkpoint,
                        allow_custom_pca_params=allow_custom_pca_params, cache_dir=cache_dir,
                        progress=progress); lap("model_files")
    root = beam.Pipeline(options=beam_options)
    build_graph(root, clips, config=config, files=files, out=out, cache_dir=cache_root(cache_dir))
    try:
        result = root.run()
        result.wait_until_finish()
    except Exception as error:
        raise _worker_error(error) from error
    lap("beam")
    counters = counter_values(result)
    return BuildResult(Path(out).absolute(), read_manifest(out), clock.seconds, counters.get("clips_embedded", 0),
                       counters.get("clips_cached", 0), counters.get("model_calls", 0), counters.get("model_loads", 0))


_STAGE_ERROR = re.compile(r"^ravdess_prep\.exceptions\.(\w+): (.*?)(?: \[while running '([^']*)'\])?$", re.MULTILINE)


def _worker_error(error: Exception) -> Exception:
    """The stage's own error, raised again here, for a build that failed in a worker.

    Runners hand back a worker's exception as it was (in-process runners, with the step's name
    appended) or as text (multi-process and remote runners: a ``RuntimeError`` holding the
    worker's traceback). Either way, the error of ravdess_prep's stage found in it is raised
    again with its own type and message, plus the step it happened in; any other error is
    returned unchanged.
    """
    from . import exceptions

    text = str(error)
    if isinstance(error, RavdessPrepError):  # raised in this process: the message has the step
        text = f"ravdess_prep.exceptions.{type(error).__name__}: {text}"
    found = _STAGE_ERROR.findall(text)
    if not found:
        return error
    kind, message, _ = found[0]
    step = next((step for _, _, step in found if step), None)
    kind = getattr(exceptions, kind, None)
    if not (isinstance(kind, type) and issubclass(kind, RavdessPrepError)):
        return error
    message = message.rstrip()
    return kind(f"{message} [Beam step {step!r}]" if step else message)


def counter_values(result) -> dict[str, int]:
    """The build's counters of a finished Beam run: ``model_loads``, ``model_calls``,
    ``clips_embedded``, ``clips_cached``."""
    from apache_beam.metrics.metric import MetricsFilter

    values: dict[str, int] = {}
    for counter in result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        values[counter.key.metric.name] = values.get(counter.key.metric.name, 0) + int(value or 0)
    return values
