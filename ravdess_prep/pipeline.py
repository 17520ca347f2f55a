"""The pipeline: each stage usable alone, and :func:`build` that runs them all.

In a notebook::

    from ravdess_prep import pipeline

    config = pipeline.Config()                          # the original project's settings
    clips = pipeline.source("data/ravdess")            # inventory: one row per clip
    clips = pipeline.split(clips, config)              # + a "split" column, speaker-disjoint
    lengths = pipeline.measure(clips, config)          # trim offsets + the target length
    files = pipeline.model_files(config)               # the embedder's files, verified
    embedded = pipeline.embed(lengths, config, files)  # (N, 20, 128) float32, cached per clip
    pipeline.write("out", clips, lengths, embedded, config, files)

or all at once: ``pipeline.build(config, source="data/ravdess", out="out")``. New recordings
are embedded exactly as a dataset was with :func:`embed_files`.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .audio import load_at_rate
from .bundle import read_manifest
from .cache import cache_root
from .config import Config, Run
from .digest import file_digest
from .corpora import get_corpus
from .embed import EmbedResult, ModelSession, embed_clips
from .embedders import ModelFiles, VGGishEmbedder, VGGishFiles, YAMNetEmbedder, YAMNetFiles
from .exceptions import ParameterError, SourceError, SplitError
from .local import StageClock
from .output import OutputLock, check_output, recover_leftovers
from .measure import ClipOffsets, Measurement, clip_offsets, measure_file
from .measure import measure as measure_pass
from .pad import pad_center
from .params import MANIFEST, METADATA, SPLITS
from .plan import BuildPlan, clip_cache, decide_target, target_of, write_dataset
from .pool import pool_embeddings
from .runners import RUNNERS
from .split import assign_splits

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas

_log = logging.getLogger("ravdess_prep")

__all__ = [
    "BuildResult", "Config", "Run", "VGGishEmbedder", "VGGishFiles", "YAMNetEmbedder", "YAMNetFiles", "build", "embed",
    "embed_files", "measure", "model_files", "pad", "rebuild", "source", "split", "trim", "write",
]


# --- stages ------------------------------------------------------------------------------


def source(src=None, *, corpus: str = "ravdess", speakers: Sequence[int] | None = None, cache_dir=None,
           progress: bool = False) -> "pandas.DataFrame":
    """Stage source: the inventory of a corpus's source.

    Args:
        src: A folder, a zip, None or a download name such as ``"zenodo"`` (download the
            corpus), or a sequence of these.
        corpus: The corpus's name (see :mod:`ravdess_prep.corpora`).
        speakers: Keep only these speakers' clips (None: all).
        cache_dir: Cache root for downloads and extracted zips.
        progress: Show progress bars.

    Returns:
        The inventory DataFrame; ``clips.attrs["source_roots"]`` lists the folders scanned.

    Raises:
        SourceError: No clip of ``speakers``, or a problem of the source (see
            :meth:`ravdess_prep.corpora.base.Corpus.inventory`).
    """
    found = get_corpus(corpus)
    result = found.survey(src, cache_dir=cache_dir, progress=progress)
    result.raise_for_problems()
    clips = result.clips
    if speakers is not None:
        clips = clips[clips[found.speaker_column].isin([int(speaker) for speaker in speakers])].reset_index(drop=True)
        if clips.empty:
            raise SourceError(f"no clip of speakers {sorted(speakers)} in {src}")
    clips.attrs["source_roots"] = [str(root) for root in result.roots]
    clips.attrs["speakers"] = None if speakers is None else sorted(int(speaker) for speaker in speakers)
    return clips


def split(clips: "pandas.DataFrame", config: Config) -> "pandas.DataFrame":
    """Stage split: assign each clip to train/dev/test by speaker; order clips within each split.

    Returns:
        A copy of ``clips`` with a ``split`` column, rows grouped by split (train, dev, test) and
        within a split in inventory order, or shuffled with ``config.shuffle_seed``.

    Raises:
        SplitError: A dev or test speaker has no clip (and was not left out on purpose: see
            :func:`source`'s ``speakers``), or a split is empty, unless
            ``config.allow_missing_speakers``; the message names them.
    """
    import pandas as pd

    clips = clips.copy()
    speakers = clips[get_corpus(config.corpus).speaker_column]
    clips["split"] = assign_splits(speakers, **config.split_kwargs())
    if not config.allow_missing_speakers:
        check_split_filled(clips, speakers, config, chosen=clips.attrs.get("speakers"))
    parts = []
    for name in SPLITS:
        part = clips[clips["split"] == name]
        if config.shuffle_seed is not None:
            order = np.random.default_rng([config.shuffle_seed, SPLITS.index(name)]).permutation(len(part))
            part = part.iloc[order]
        parts.append(part)
    ordered = pd.concat(parts).reset_index(drop=True)
    ordered.attrs = dict(clips.attrs)
    return ordered


def check_split_filled(clips: "pandas.DataFrame", speakers, config: Config, *, chosen=None) -> None:
    """Raise :class:`SplitError` naming the dev and test speakers without a clip (those outside
    ``chosen``, a build's own speaker list, are left out on purpose) and the empty splits."""
    present = set(int(speaker) for speaker in speakers)
    problems = []
    for name, named in (("dev", config.dev_speakers), ("test", config.test_speakers)):
        missing = [speaker for speaker in named if speaker not in present and (chosen is None or speaker in chosen)]
        if missing:
            problems.append(f"the {name} speakers {', '.join(f'{s:02d}' for s in missing)} have no clip in the source")
    empty = [name for name in SPLITS if not (clips["split"] == name).any()]
    if empty:
        problems.append(f"the {' and '.join(empty)} split{'s are' if len(empty) > 1 else ' is'} empty")
    if problems:
        raise SplitError("; ".join(problems) + " (build without them with allow_missing_speakers=True)")


def measure(clips: "pandas.DataFrame | Sequence[str | os.PathLike]", config: Config = Config(), *,
            jobs: int | None = None, progress: bool = False) -> Measurement:
    """Stages trim + measure: every clip's trim offsets and the target length (one pass).

    Args:
        clips: An inventory (columns ``clip_name`` and ``path``) or audio files (each then named
            by its path).
        config: The settings.
        jobs: Threads (default: every core).
        progress: Show a progress bar.
    """
    if hasattr(clips, "columns"):
        named = list(zip(clips["clip_name"].astype(str), clips["path"].astype(str)))
    else:
        named = [(str(path), str(path)) for path in clips]
    return measure_pass(named, jobs=jobs, progress=progress, **config.measure_kwargs())


def trim(path: str | os.PathLike, config: Config = Config()) -> tuple[np.ndarray, ClipOffsets]:
    """Stage trim, for one file: ``(trimmed samples, offsets)``, with the config's policies."""
    samples, rate, source_rate = load_at_rate(path, sample_rate_hz=config.sample_rate_hz, channel=config.channel)
    kwargs = config.measure_kwargs()
    del kwargs["sample_rate_hz"], kwargs["channel"]
    offsets = clip_offsets(samples, rate, name=str(path), path=str(path), source_sample_rate_hz=source_rate, **kwargs)
    return samples[offsets.start : offsets.end], offsets


def pad(samples: np.ndarray, target_length_samples: int, config: Config = Config(), *, name: str = "clip") -> np.ndarray:
    """Stage pad: center a trimmed clip in silence (or crop it, per ``config.on_too_long``)."""
    padded, _ = pad_center(samples, target_length_samples=target_length_samples, on_too_long=config.on_too_long,
                           name=name)
    return padded


def model_files(config: Config = Config(), files=None, *, cache_dir=None, progress: bool = True) -> ModelFiles:
    """Stage model files: the config's embedder's files, the official ones (fetched on first
    use) or those ``files`` names (for VGGish a :class:`VGGishFiles`), verified."""
    folder = None if cache_dir is None else cache_root(cache_dir) / config.embedder.name
    return config.embedder.model_files(files, cache_dir=folder, progress=progress)


def embed(measurement: Measurement, config: Config, files: ModelFiles, *, cache_dir=None, jobs: int | None = None,
          progress: bool = False, fast: bool = True) -> EmbedResult:
    """Stages pad + embed: the embeddings of every kept clip, in measurement order, reusing
    clips cached by an earlier (or interrupted) run. ``fast=False`` takes the straightforward
    path (pad, resample every sample, the model on every example), which gives the same bytes."""
    target = target_of(measurement, config.embedder)
    return embed_clips(
        measurement.kept, target_length_samples=target.length_samples,
        open_session=functools.partial(ModelSession, config.embedder, files),
        cache=clip_cache(cache_root(cache_dir), config=config, target=target, files=files),
        jobs=jobs, progress=progress, fast=fast, **config.prepare_kwargs(),
    )


def write(out, clips: "pandas.DataFrame", measurement: Measurement, embedded: EmbedResult, config: Config,
          files: ModelFiles) -> Path:
    """Stage write: bundles per split, ``manifest.json`` and ``metadata.csv``, atomically.

    Args:
        out: The output folder.
        clips: The split inventory (see :func:`split`).
        measurement: The measure pass (offsets, target, policies).
        embedded: The embed stage's result, aligned with ``measurement.kept``.
        config: The settings (saved in the manifest).
        files: The embedder's files (their SHA-256 go in the manifest).
    """
    return write_dataset(out, clips, measurement, list(embedded.embeddings), embedded.audio_sha256, config=config,
                         files=files, examples_per_clip=target_of(measurement, config.embedder).examples_per_clip,
                         source_roots=clips.attrs.get("source_roots", ()))


# --- the whole build -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BuildResult:
    """What :func:`build` did.

    Attributes:
        out: The output folder.
        manifest: The manifest written there.
        seconds: Wall time per stage (``source``, ``split``, then the executor's stages).
        computed: Clips that went through the model.
        cached: Clips taken from the cache.
        model_calls: Model runs.
        model_loads: Times the model was loaded: 1 (0 if every clip was cached); with the
            Beam runner, once per worker process that embedded something.
        rejected: Damaged cache entries found and computed again, ``(path, why)``.
    """

    out: Path
    manifest: dict
    seconds: dict
    computed: int
    cached: int
    model_calls: int
    model_loads: int
    rejected: tuple = ()


def build(
    config: Config = Config(),
    *,
    out: str | os.PathLike,
    source=None,
    files=None,
    speakers: Sequence[int] | None = None,
    run: Run = Run(),
) -> BuildResult:
    """Run every stage: source, split, trim + measure, model files, pad + embed, write.

    Args:
        config: What to compute (defaults: the original project's).
        out: Output folder for the bundles.
        source: A folder, a zip, or None/``"zenodo"`` to download the corpus (a sequence of
            these is one source).
        files: Where the embedder's files are (for VGGish a :class:`VGGishFiles`; None: the
            official files, fetched on first use).
        speakers: Build from these speakers only (None: all).
        run: How to run it (threads, cache, progress, executor; see :class:`Run`).

    Returns:
        A :class:`BuildResult`. Nothing is written to ``out`` unless every clip succeeded.
    """
    clock = StageClock()
    out = Path(out).expanduser().absolute()
    recover_leftovers(out)
    with OutputLock(out):
        protected = _protected(source, files, cache_root(run.cache_dir), get_corpus(config.corpus).download_names)
        out = check_output(out, protected=protected)
        clips = _inventory(source, config, speakers=speakers, run=run)
        clock.lap("source")
        clips = split(clips, config)
        clock.lap("split")
        plan = BuildPlan(config, clips, out=out, cache_root=cache_root(run.cache_dir), files=files,
                         source_roots=tuple(clips.attrs.get("source_roots", ())),
                         speakers=None if speakers is None else tuple(int(speaker) for speaker in speakers))
        report = RUNNERS[run.runner](plan, run)
    return BuildResult(report.out, read_manifest(report.out), {**clock.seconds, **report.seconds}, report.computed,
                       report.cached, report.model_calls, report.model_loads, report.rejected)


def _protected(source, files, cache: Path, download_names: Sequence[str]) -> list[tuple[str, Path]]:
    """What an output folder must neither be nor contain: the cache, every local source, every
    model file."""
    protected = [("cache folder", cache)]
    items = [source] if source is None or isinstance(source, (str, os.PathLike)) else list(source)
    protected += [("source", Path(item)) for item in items if isinstance(item, (str, os.PathLike))
                  and str(item) not in download_names]
    if isinstance(files, ModelFiles):
        protected += [(f"model file ({role})", file.path) for role, file in files.files.items()]
    elif files is not None:
        protected += [(f"model file ({field.name})", Path(value)) for field in dataclasses.fields(files)
                      if isinstance(value := getattr(files, field.name), (str, os.PathLike)) and "://" not in str(value)]
    return protected


def _inventory(src, config: Config, *, speakers, run: Run) -> "pandas.DataFrame":
    return source(src, corpus=config.corpus, speakers=speakers, cache_dir=run.cache_dir, progress=run.progress)


def rebuild(
    dataset: str | os.PathLike,
    *,
    out: str | os.PathLike,
    source=None,
    files=None,
    run: Run = Run(),
) -> BuildResult:
    """Build again what a dataset's manifest describes, from the same sources and model files.

    The settings and the speakers come from the manifest; every clip of the source is checked
    against the dataset's ``metadata.csv`` (the same clips, each with the SHA-256 it had) and
    every model file against the manifest's SHA-256, before any work; the bundles then come
    out byte-identical.

    Args:
        dataset: A folder written by :func:`build`, or its ``manifest.json``.
        out: The new output folder.
        source: The sources (as for :func:`build`).
        files: Where the model files are now, if they moved (as for :func:`embed_files`).
        run: How to run it.

    Raises:
        SourceError: A clip is missing from the source, or the source has one the dataset did
            not, or a file's SHA-256 differs; the message names it.
        ModelFileError: A model file is missing or differs from the recorded one.
    """
    import pandas as pd

    folder = Path(dataset)
    folder = folder.parent if folder.name == MANIFEST else folder
    manifest = read_manifest(folder)
    config = Config.from_dict(manifest["config"])
    record = _recorded_files(manifest)
    given = {} if files is None else {role: path for role, path in dataclasses.asdict(files).items()
                                      if role in record["files"] and path is not None}
    model = ModelFiles.from_record(record, paths=given)
    speakers = manifest.get("build", {}).get("speakers")
    clips = _inventory(source, config, speakers=speakers, run=run)
    recorded = pd.read_csv(folder / METADATA, keep_default_na=False)
    recorded = recorded[recorded["split"] != "dropped"].set_index("clip_name")["audio_sha256"]
    found = dict(zip(clips["clip_name"], clips["path"]))
    for name in recorded.index:
        if name not in found:
            raise SourceError(f"clip {name} of {folder} is not in the source")
    extra = sorted(set(found) - set(recorded.index) - _dropped_clips(folder))
    if extra:
        raise SourceError(f"{found[extra[0]]}: clip {extra[0]} is in the source but not in {folder} "
                          f"({len(extra)} such clips)")
    for name, expected in recorded.items():
        digest = file_digest(found[name])
        if digest != expected:
            raise SourceError(f"{found[name]}: SHA-256 {digest} differs from {expected}, which {folder} was built "
                              f"from (clip {name})")
    return build(config, out=out, source=clips.attrs["source_roots"], files=model, speakers=speakers, run=run)


def _dropped_clips(folder: Path) -> set[str]:
    import pandas as pd

    table = pd.read_csv(folder / METADATA, keep_default_na=False)
    return set(table.loc[table["split"] == "dropped", "clip_name"])


# --- new recordings, embedded as a dataset was ------------------------------------------


def embed_files(
    paths: Sequence[str | os.PathLike],
    dataset: str | os.PathLike,
    *,
    files=None,
    on_too_long: str | None = None,
) -> np.ndarray:
    """Embed new audio files with a dataset's exact settings, read from its manifest.

    The clip is resampled to the dataset's rate if needed, trimmed with the dataset's rule,
    padded (or, with ``on_too_long="crop"``, cropped) to its target length, embedded with its
    embedder, settings and model files (each checked by SHA-256), and pooled as its bundles.

    Args:
        paths: Audio files.
        dataset: A folder written by :func:`build`.
        files: Where the dataset's model files are now, if they moved (for VGGish a
            :class:`VGGishFiles`); each must have the SHA-256 the manifest recorded.
        on_too_long: Override the dataset's policy for clips longer than its target.

    Returns:
        float32 array shaped like one bundle row per path: ``(len(paths), examples, dim)``, or
        ``(len(paths), dim)`` for pooled and clip-level datasets.

    A file a policy handles (silent, cropped) is noted on the ``ravdess_prep`` logger.

    Raises:
        ModelFileError: A model file is missing or differs from the one the dataset was built with.
        ClipTooLongError: A clip is longer than the target and the policy is ``"error"``.
        AudioError: A file is unreadable.
    """
    manifest = read_manifest(dataset)
    target, rate = int(manifest["target_length_samples"]), int(manifest["sample_rate_hz"])
    config = Config.from_dict(manifest["config"])
    config = config.replace(target_length_samples=target, sample_rate_hz=rate,
                            on_silent="keep" if config.on_silent == "drop" else config.on_silent,
                            **({"on_too_long": on_too_long} if on_too_long else {}))
    embedder = config.embedder
    record = _recorded_files(manifest)
    given = {} if files is None else {role: path for role, path in dataclasses.asdict(files).items()
                                      if role in record["files"] and path is not None}
    model = ModelFiles.from_record(record, paths=given)
    offsets = [measure_file(path, name=str(path), **config.measure_kwargs()) for path in paths]
    for clip in offsets:
        if clip.handled:
            _log.info("%s: %s", clip.name, clip.handled)
    examples = decide_target(target, rate, longest=None, embedder=embedder).examples_per_clip
    if not offsets:
        stacked = np.zeros((0, examples, embedder.output_dim), np.float32)
    else:
        stacked = embed_clips(offsets, target_length_samples=target, jobs=1,
                              open_session=functools.partial(ModelSession, embedder, model),
                              **config.prepare_kwargs()).embeddings
    return stacked[:, 0] if embedder.clip_level else pool_embeddings(stacked, pool=config.pool)


def _recorded_files(manifest: dict) -> dict:
    """The model files a manifest records, ``{"official", "files": {role: {"path", "sha256"}}}``
    (version 1 manifests kept them under ``model``)."""
    if "embedder" in manifest:
        return manifest["embedder"]
    model = manifest.get("model")
    if not model:
        raise ParameterError("the dataset's manifest records no model files")
    return {"official": model.get("official", False),
            "files": {role: {"path": model[role], "sha256": model[f"{role}_sha256"]}
                      for role in ("checkpoint", "pca_params")}}
