"""The pipeline: each stage usable alone, and :func:`build` that runs them all.

In a notebook::

    from ravdess_prep import pipeline

    config = pipeline.Config(speakers=(1, 8, 11))      # the original's settings, three actors
    clips = pipeline.source("data/ravdess", config)     # inventory: one row per clip
    clips = pipeline.split(clips, config)               # + a "split" column, speaker-disjoint
    lengths = pipeline.measure(clips, config)           # trim offsets + the target length
    files = pipeline.model_files(config)                # the embedder's files, verified
    embedded = pipeline.embed(lengths, config, files)   # (N, 20, 128) float32, cached per clip
    pipeline.write("out", clips, lengths, embedded, config, files)

or all at once: ``pipeline.build(config, source="data/ravdess", out="out")``. Each function
calls the build's steps (:mod:`ravdess_prep.build.steps`), as the executors do. New recordings
are embedded exactly as a dataset was with :func:`embed_files`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .audio.io import load_at_rate
from .audio.measure import ClipOffsets, Measurement, clip_offsets
from .audio.pad import pad_center
from .build import local, steps
from .build.executors import BeamExecutor, Executor, LocalExecutor, Run
from .build.inference import EmbedResult
from .build.plan import BuildPlan, BuildResult
from .config import Config
from .corpora import get_corpus
from .corpora.base import ROOT_COLUMN
from .corpora.split import assign_splits
from .dataset.integrity import check_recorded
from .dataset.manifest import Manifest
from .embedders import (EGeMAPSEmbedder, HFEmbedder, HFFiles, ModelFiles, VGGishEmbedder, VGGishFiles, WhisperEmbedder,
                        WhisperFiles, YAMNetEmbedder, YAMNetFiles)
from .embedding import Embedding, recorded_files
from .exceptions import SourceError, SplitError, option
from .params import METADATA, SPLITS
from .storage.atomic import recover_leftovers
from .storage.cache import cache_root
from .storage.digest import file_digest
from .storage.guards import check_output, check_writable_folder
from .storage.lock import OutputLock

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas

_log = logging.getLogger("ravdess_prep")

__all__ = [
    "BeamExecutor", "BuildResult", "Config", "EGeMAPSEmbedder", "Executor", "LocalExecutor", "HFEmbedder", "HFFiles", "Manifest", "Run", "VGGishEmbedder",
    "VGGishFiles", "WhisperEmbedder", "WhisperFiles", "YAMNetEmbedder", "YAMNetFiles",
    "build", "embed", "embed_files", "measure", "model_files", "pad", "rebuild", "source", "split", "trim", "write",
]


# --- stages ------------------------------------------------------------------------------


def source(src=None, config: Config | None = None, *, corpus: str | None = None, speakers: Sequence[int] | None = None,
           cache_dir=None, progress: bool = False) -> "pandas.DataFrame":
    """Stage source: the inventory of a corpus's source.

    Args:
        src: A folder, a zip, None or a download name such as ``"zenodo"`` (download the
            corpus), or a sequence of these.
        config: The settings; its corpus and speakers are used unless ``corpus`` or
            ``speakers`` is given.
        corpus: The corpus's name (default: the config's, else ``"ravdess"``).
        speakers: Keep only these speakers' clips (default: the config's; None: all).
        cache_dir: Cache root for downloads and extracted zips.
        progress: Show progress bars.

    Returns:
        The inventory DataFrame: the corpus's columns, then ``source_root`` (the folder each
        clip was found under).

    Raises:
        SourceError: No clip of ``speakers``, or a problem of the source (see
            :meth:`ravdess_prep.corpora.base.Corpus.survey`).
    """
    return _survey(src, config or Config(**({"corpus": corpus} if corpus else {})), corpus=corpus,
                   speakers=speakers, cache_dir=cache_dir, progress=progress)[0]


def _survey(src, config: Config, *, corpus=None, speakers=None, cache_dir=None, progress=False):
    """``(inventory, {reason: files left out})`` of a source, restricted to the speakers."""
    found = get_corpus(corpus) if corpus else config.source_corpus()
    speakers = config.speakers if speakers is None else speakers
    result = found.survey(src, cache_dir=cache_dir, progress=progress)
    result.raise_for_problems()
    clips = result.clips
    if speakers is not None:
        absent = sorted(set(int(speaker) for speaker in speakers) - set(clips[found.speaker_column].astype(int)))
        if absent:
            _log.info("the speakers %s of %s have no clip in the source", ", ".join(f"{s:02d}" for s in absent),
                      option("speakers"))
        clips = clips[clips[found.speaker_column].isin([int(speaker) for speaker in speakers])].reset_index(drop=True)
        if clips.empty:
            where = ", ".join(str(root) for root in result.roots)
            raise SourceError(f"{where}: no clip of the speakers {', '.join(f'{int(s):02d}' for s in speakers)} "
                              f"({option('speakers')})")
    excluded = result.excluded_counts()
    preset = found.split_presets.get(config.split_preset)
    if preset is not None and preset.selection:
        keep = preset.keeps(clips)
        if not keep.all():
            reason = f"outside the {preset.name} split preset's clips"
            excluded[reason] = excluded.get(reason, 0) + int((~keep).sum())
            clips = clips[keep].reset_index(drop=True)
    return clips, excluded


def split(clips: "pandas.DataFrame", config: Config) -> "pandas.DataFrame":
    """Stage split: assign each clip to train/dev/test by speaker; order clips within each split.

    Returns:
        A copy of ``clips`` with a ``split`` column, rows grouped by split (train, dev, test) and
        within a split in inventory order, or shuffled with ``config.shuffle_seed``.

    Raises:
        SplitError: A dev or test speaker has no clip (and was not left out on purpose with
            ``config.speakers``), or a split is empty, unless ``config.allow_missing_speakers``;
            the message names them.
    """
    import pandas as pd

    clips = clips.copy()
    speakers = clips[config.source_corpus().speaker_column]
    clips["split"] = assign_splits(speakers, **config.split_kwargs())
    if not config.allow_missing_speakers:
        check_split_filled(clips, speakers, config)
    parts = []
    for name in SPLITS:
        part = clips[clips["split"] == name]
        if config.shuffle_seed is not None:
            order = np.random.default_rng([config.shuffle_seed, SPLITS.index(name)]).permutation(len(part))
            part = part.iloc[order]
        parts.append(part)
    return pd.concat(parts).reset_index(drop=True)


def check_split_filled(clips: "pandas.DataFrame", speakers, config: Config) -> None:
    """Raise :class:`SplitError` naming the dev and test speakers without a clip (those outside
    ``config.speakers`` are left out on purpose) and the empty splits."""
    present = set(int(speaker) for speaker in speakers)
    chosen = config.speakers
    problems = []
    for name, named in (("dev", config.dev_speakers), ("test", config.test_speakers)):
        missing = [speaker for speaker in named if speaker not in present and (chosen is None or speaker in chosen)]
        if missing:
            problems.append(f"the {name} speakers {', '.join(f'{s:02d}' for s in missing)} have no clip in the source")
    empty = [name for name in SPLITS if not (clips["split"] == name).any()]
    if empty:
        needed = {"dev": config.dev_speakers, "test": config.test_speakers}
        wanted = [f"{name}: {', '.join(f'{s:02d}' for s in needed[name])}" for name in empty if needed.get(name)]
        problems.append(f"the {' and '.join(empty)} split{'s are' if len(empty) > 1 else ' is'} empty"
                        + (f" (its speakers {'; '.join(wanted)})" if wanted else ""))
    if problems:
        raise SplitError("; ".join(problems) + f" (build without them with {option('allow_missing_speakers', True)})")


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
        calls = [{"name": name, "path": path}
                 for name, path in zip(clips["clip_name"].astype(str), clips["path"].astype(str))]
    else:
        calls = [{"name": str(path), "path": str(path)} for path in clips]
    return local.measure(config, calls, jobs=jobs, progress=progress)


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
    return steps.model_files(config.embedder, files, cache_dir=cache_dir, progress=progress)


def embed(measurement: Measurement, config: Config, files: ModelFiles, *, cache_dir=None, jobs: int | None = None,
          progress: bool = False, fast: bool = True) -> EmbedResult:
    """Stages pad + embed: the output of every kept clip, in measurement order, reusing clips
    cached by an earlier (or interrupted) run. ``fast=False`` takes the straightforward path
    (pad, resample every sample, the model on every example), which gives the same bytes."""
    recipe = steps.recipe(config, measurement.target, files, cache=cache_root(cache_dir))
    return local.embed(recipe, measurement, jobs=jobs, progress=progress, fast=fast)


def write(out, clips: "pandas.DataFrame", measurement: Measurement, embedded: EmbedResult, config: Config,
          files: ModelFiles) -> Manifest:
    """Stage write: bundles per split, ``manifest.json``, ``metadata.csv`` and the data card,
    atomically.

    Args:
        out: The output folder.
        clips: The split inventory (see :func:`split`).
        measurement: The measure pass (offsets, target, policies).
        embedded: The embed stage's result, aligned with ``measurement.kept``.
        config: The settings (saved in the manifest).
        files: The embedder's files (their SHA-256 go in the manifest).

    Returns:
        The manifest written.
    """
    plan = BuildPlan(config, clips, out=Path(out).absolute())
    return plan.write(measurement, embedded, steps.recipe(config, measurement.target, files))


# --- the whole build -----------------------------------------------------------------------


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
            official files, fetched on first use), or :class:`ModelFiles` already verified.
        speakers: Build from these speakers only (the same as ``config.speakers``).
        run: How to run it (threads, cache, progress, executor; see :class:`Run`).

    Returns:
        A :class:`BuildResult`. Nothing is written to ``out`` unless every clip succeeded.
    """
    if speakers is not None:
        config = config.replace(speakers=tuple(int(speaker) for speaker in speakers))
    config.embedder.check_machine()
    run.runner.check()
    clock = steps.StageClock()
    out = Path(out).expanduser().absolute()
    recover_leftovers(out)
    with OutputLock(out):
        protected = _protected(source, files, cache_root(run.cache_dir), config.source_corpus().download_names)
        out = check_output(out, protected=protected)
        check_writable_folder(cache_root(run.cache_dir), flag="cache_dir")
        clips, excluded = _survey(source, config, cache_dir=run.cache_dir, progress=run.progress)
        clock.lap("source")
        clips = split(clips, config)
        clock.lap("split")
        plan = BuildPlan(config, clips, out=out, cache_root=cache_root(run.cache_dir), files=files, excluded=excluded)
        result = run.runner.run(plan, run)
    return dataclasses.replace(result, seconds={**clock.seconds, **result.seconds})


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
        dataset: A folder written by :func:`build`, or its manifest file.
        out: The new output folder.
        source: The sources (as for :func:`build`; None: the folders the manifest records).
        files: Where the model files are now, if they moved (as for :func:`embed_files`).
        run: How to run it.

    Raises:
        ManifestError: The manifest is missing or not valid; the message names it.
        SourceError: A clip is missing from the source, or the source has one the dataset did
            not, or a file's SHA-256 differs; the message names it.
        ModelFileError: A model file is missing or differs from the recorded one.
    """
    import pandas as pd

    manifest = Manifest.read(dataset)
    folder = manifest.path.parent
    check_recorded(manifest, folder)  # its bundles may be damaged: they are what is built again
    model = recorded_files(manifest, files)
    source = manifest.source.get("roots") if source is None else source
    clips, _ = _survey(source, manifest.config, cache_dir=run.cache_dir, progress=run.progress)
    recorded = pd.read_csv(folder / METADATA, keep_default_na=False)
    dropped = set(recorded.loc[recorded["split"] == "dropped", "clip_name"])
    recorded = recorded[recorded["split"] != "dropped"].set_index("clip_name")["audio_sha256"]
    found = dict(zip(clips["clip_name"], clips["path"]))
    for name in recorded.index:
        if name not in found:
            raise SourceError(f"clip {name} of {folder} is not in the source")
    extra = sorted(set(found) - set(recorded.index) - dropped)
    if extra:
        raise SourceError(f"{found[extra[0]]}: clip {extra[0]} is in the source but not in {folder} "
                          f"({len(extra)} such clips)")
    for name, expected in recorded.items():
        digest = file_digest(found[name])
        if digest != expected:
            raise SourceError(f"{found[name]}: SHA-256 {digest} differs from {expected}, which {folder} was built "
                              f"from (clip {name})")
    roots = list(dict.fromkeys(clips[ROOT_COLUMN].astype(str)))
    return build(manifest.config, out=out, source=roots, files=model, run=run)


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
        float32 array shaped like one bundle row per path: ``(len(paths), *row shape)``.

    A file a policy handles (silent, cropped) is noted on the ``ravdess_prep`` logger.

    Raises:
        ManifestError: The dataset's manifest is missing or not valid.
        ModelFileError: A model file is missing or differs from the one the dataset was built with.
        ClipTooLongError: A clip is longer than the target and the policy is ``"error"``.
        AudioError: A file is unreadable.
    """
    with Embedding.of_dataset(dataset, files=files, on_too_long=on_too_long) as embedding:
        if not len(paths):
            return np.zeros((0,) + Manifest.read(dataset).row_shape, np.float32)
        return embedding.process_paths(paths, jobs=1)
