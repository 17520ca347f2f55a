"""The build's steps, in the one order every executor, the notebook stages and the embedding
object follow::

    model_files (global) -> measure_clip (per clip) -> measurement, its target (global)
    -> recipe (global, once) -> recipe.prepare (per clip) -> recipe.embed (the model on
    batches; each clip finished and cached) -> write (global)

Each step but the write is a function of the settings (a :class:`~ravdess_prep.config.Config`,
its embedder, the model's files): none needs the build's inventory, so the notebook stages and
the embedding object call them as they are. The inventory and the write belong to a build's
plan (:class:`~ravdess_prep.build.plan.BuildPlan`); :func:`run_steps` runs every step in this
order, with the per-clip steps mapped onto workers by an executor.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Iterable

from ..audio.measure import ClipOffsets, LengthTally, Measurement, Target, measure_file, tally_in_order
from ..config import Config
from ..dataset.manifest import Manifest
from ..dataset.manifest import examples_per_clip as padded_examples
from ..embedders import Embedder, ModelFiles
from ..exceptions import ParameterError
from ..params import CLIP_CACHE_FOLDER
from ..storage.cache import ClipCache, cache_root, settings_key
from .inference import EmbedResult
from .recipe import ClipRecipe


class StageClock:
    """Wall seconds per stage of a build: ``lap(stage)`` closes the stage that just ran."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._last, 3)
        self._last = now


def dataset_config(manifest: Manifest, **changes) -> Config:
    """The settings that treat new clips exactly as a dataset's clips were: its settings, its
    target length and rate fixed, a silent clip kept whole (``changes``: other policies)."""
    return manifest.config.replace(
        target_length_samples=manifest.target.length_samples, sample_rate_hz=manifest.target.sample_rate_hz,
        on_silent="keep" if manifest.config.on_silent == "drop" else manifest.config.on_silent, **changes)


def model_files(embedder: Embedder, files=None, *, cache_dir: str | os.PathLike | None = None,
                progress: bool = False) -> ModelFiles:
    """Step model files (global): the embedder's files, fetched (into the cache root's folder
    of the embedder) or verified; ``files``: where they are (an instance of the embedder's
    files type; None: the official ones), or :class:`ModelFiles` already verified (checked
    again)."""
    if isinstance(files, ModelFiles):
        files.check()
        return files
    folder = None if cache_dir is None else cache_root(cache_dir) / embedder.name
    return embedder.model_files(files, cache_dir=folder, progress=progress)


def measure_clip(config: Config, *, name: str, path: str) -> ClipOffsets:
    """Step measure (per clip): a clip's trim offsets, with the policies applied."""
    return measure_file(path, name=name, **config.measure_kwargs())


def measurement(config: Config, offsets: Iterable[ClipOffsets]) -> Measurement:
    """Steps measure (every clip) and target: the clips' offsets in build order, and the target
    length (checked against the embedder when the recipe is made).

    Raises:
        SourceError: No clip, or every clip was dropped.
        SampleRateError: Clips have different rates and none are resampled.
    """
    tally, clips = tally_in_order(offsets, sample_rate_hz=config.sample_rate_hz)
    return Measurement(tally.target(**config.target_kwargs()), tuple(clips))


def target(config: Config, tally: LengthTally) -> Target:
    """Step target (global), from the tally of every clip (one global combine on Beam),
    checked against the embedder (see :func:`examples_per_clip`)."""
    found = tally.target(**config.target_kwargs())
    examples_per_clip(config.embedder, found)
    return found


def examples_per_clip(embedder: Embedder, target: Target) -> int | None:
    """Examples of a clip padded to ``target`` (None: the embedder does not pad).

    Raises:
        ParameterError: A padded clip would give no example.
    """
    if not embedder.pads:
        return None
    examples = padded_examples(embedder, target)
    if examples < 1:
        raise ParameterError(f"target length {target.length_samples} samples at {target.sample_rate_hz} Hz is "
                             f"shorter than one {embedder.name} example: no embedding would be computed")
    return examples


def recipe(config: Config, target: Target, files: ModelFiles, *, cache: Path | None = None) -> ClipRecipe:
    """Step recipe (global): what every clip is embedded with, made once and handed to every
    worker: the target, the model's files, the shape of a clip's output, the cache of clips
    embedded with these settings and files (under the cache root ``cache``; None: no cache), and
    the embedder as its front-end runs for these files, every setting chosen at build time (a
    batch size ``auto``) made a number (:meth:`~ravdess_prep.embedders.base.Embedder.resolved`).

    Only what changes a clip's row is in the cache's key: the measured target only for an
    embedder that pads. One that does not pad sees a clip as it is; it would crop a clip
    longer than the target, but a measured target is the longest clip, and a fixed one is a
    setting, in the key already."""
    examples = examples_per_clip(config.embedder, target)  # a batch size changes no example
    digest = config.embedding_digest()
    read = {name: value for name, value in config.prepare_kwargs().items() if name != "embedder"}
    rate = config.embedder.sample_rate_hz or target.sample_rate_hz
    embedder = config.embedder.resolved(files, longest_samples=target.length_samples * rate // target.sample_rate_hz)
    asked = config.embedder.settings()
    chosen = {name: value for name, value in embedder.settings().items() if asked[name] != value}
    shape = embedder.clip_shape(examples=examples, files=files)
    key = settings_key(config=digest, **({"chosen": chosen} if chosen else {}),
                       target_length_samples=target.length_samples if embedder.pads else None, files=files.digests(),
                       embedder=embedder.describe())
    clips = None if cache is None else ClipCache(cache / CLIP_CACHE_FOLDER, key, shape=shape,
                                                 dtype=embedder.output_dtype)
    return ClipRecipe(embedder, embedder.for_files(files), target, files, examples, tuple(shape), clips, read,
                      {name: asked[name] for name in chosen})


def embed_measured(config: Config, measurement: Measurement, files: ModelFiles, *, cache: Path | None = None,
                   embed: Callable[[ClipRecipe, Measurement], EmbedResult]) -> tuple[ClipRecipe, EmbedResult]:
    """Steps recipe, prepare and embed, in order: from the measured clips to their outputs.
    ``embed(recipe, measurement)`` maps the per-clip steps onto workers (an executor's)."""
    made = recipe(config, measurement.target, files, cache=cache)
    return made, embed(made, measurement)
