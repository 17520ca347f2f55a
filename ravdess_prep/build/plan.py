"""The build plan: the build's inventory and its global steps.

Source and split run before the plan exists (:func:`ravdess_prep.pipeline.build`); the plan
then holds the split inventory and the settings. Its steps, and those of the per-clip recipe it
makes once (:class:`~ravdess_prep.build.recipe.ClipRecipe`), are all an executor calls::

    plan.measure_clip (per clip) -> plan.target (global) -> plan.model_files (global)
    -> plan.recipe (global, once) -> recipe.prepare (per clip) -> recipe.embed (the model on
    batches; each clip finished and cached) -> plan.write (global)

An executor (:mod:`.local`, :mod:`.beam`) decides only where and when each step runs; the
plan and the recipe decide what it computes, so every executor writes the same bytes. A plan
made from a manifest (:meth:`BuildPlan.from_manifest`) embeds new recordings exactly as that
dataset was.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from ..storage.cache import ClipCache, cache_root, settings_key
from ..config import Config
from ..corpora import Corpus, get_corpus
from ..dataset.card import card_files
from ..dataset.contents import metadata_table, source_record, split_bundles, versions, written_metadata
from .inference import EmbedResult
from ..embedders import Embedder, ModelFiles
from ..exceptions import ParameterError
from ..dataset.manifest import Manifest, examples_per_clip, output_record
from ..audio.measure import ClipOffsets, LengthTally, Measurement, Target, measure_file, tally_in_order
from ..dataset.layout import write_folder
from ..embedders.outputs import bundle_rows
from ..params import CLIP_CACHE_FOLDER, MANIFEST
from .recipe import ClipRecipe

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas


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
class BuildResult:
    """What a build did (every executor returns one; :func:`ravdess_prep.pipeline.build` adds
    the source and split stages' seconds).

    Attributes:
        out: The output folder.
        manifest: The manifest written there.
        seconds: Wall time per stage.
        computed: Clips that went through the model.
        cached: Clips taken from the cache.
        model_calls: Model runs.
        model_loads: Times the model was loaded: 1 (0 if every clip was cached); with the
            Beam runner, once per worker process that embedded something.
        rejected: Damaged cache entries found and computed again, ``(path, why)`` (the Beam
            runner's workers log theirs).
    """

    out: Path
    manifest: Manifest
    seconds: dict
    computed: int
    cached: int
    model_calls: int
    model_loads: int
    rejected: tuple = ()


@dataclasses.dataclass(frozen=True)
class BuildPlan:
    """What a build computes, decided before any clip is read.

    Attributes:
        config: The settings.
        clips: The split inventory (see :func:`ravdess_prep.pipeline.split`), in build order.
        out: The output folder (None: nothing is written).
        cache_root: The cache root (per-clip embeddings under ``<cache_root>/clips``; None: no
            cache).
        files: Where the embedder's files are (an instance of its ``files_type``; None: the
            official ones), or :class:`ModelFiles` already verified (a plan from a manifest).
        excluded: ``{reason: files}`` the corpus left out of the source (for the manifest).
    """

    config: Config
    clips: "pandas.DataFrame"
    out: Path | None = None
    cache_root: Path | None = None
    files: object | None = None
    excluded: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_manifest(cls, manifest: Manifest, clips: "pandas.DataFrame", *, files: ModelFiles,
                      **changes) -> "BuildPlan":
        """The plan that treats ``clips`` exactly as a dataset's clips were: its settings, its
        target length and rate fixed, its model files (verified), a silent clip kept whole."""
        config = manifest.config.replace(
            target_length_samples=manifest.target.length_samples, sample_rate_hz=manifest.target.sample_rate_hz,
            on_silent="keep" if manifest.config.on_silent == "drop" else manifest.config.on_silent, **changes)
        return cls(config, clips, files=files)

    @property
    def corpus(self) -> Corpus:
        return get_corpus(self.config.corpus)

    @property
    def embedder(self) -> Embedder:
        return self.config.embedder

    def clip_calls(self) -> list[dict]:
        """The keyword arguments of :meth:`measure_clip` for every clip, in build order."""
        return [{"name": name, "path": path}
                for name, path in zip(self.clips["clip_name"].astype(str), self.clips["path"].astype(str))]

    # --- the steps ---------------------------------------------------------------------

    def measure_clip(self, name: str, path: str) -> ClipOffsets:
        """Step measure (per clip): its trim offsets, with the policies applied."""
        return measure_file(path, name=name, **self.config.measure_kwargs())

    def measurement(self, offsets: Iterable[ClipOffsets]) -> Measurement:
        """The measure pass: every clip's offsets in build order, and the target length.

        Raises:
            SourceError: No clip, or every clip was dropped.
            SampleRateError: Clips have different rates and none are resampled.
        """
        tally, clips = tally_in_order(offsets, sample_rate_hz=self.config.sample_rate_hz)
        return Measurement(tally.target(**self.config.target_kwargs()), tuple(clips))

    def target(self, tally: LengthTally) -> Target:
        """Step target (global), from the tally of every clip (one global combine on Beam),
        checked against the embedder (see :meth:`examples_per_clip`)."""
        target = tally.target(**self.config.target_kwargs())
        self.examples_per_clip(target)
        return target

    def examples_per_clip(self, target: Target) -> int | None:
        """Examples of a clip padded to ``target`` (None: the embedder does not pad).

        Raises:
            ParameterError: A padded clip would give no example.
        """
        if not self.embedder.pads:
            return None
        examples = examples_per_clip(self.embedder, target)
        if examples < 1:
            raise ParameterError(f"target length {target.length_samples} samples at {target.sample_rate_hz} Hz is "
                                 f"shorter than one {self.embedder.name} example: no embedding would be computed")
        return examples

    def model_files(self, *, cache_dir: str | os.PathLike | None = None, progress: bool = False) -> ModelFiles:
        """Step model files (global): the embedder's files, fetched or verified."""
        if isinstance(self.files, ModelFiles):
            self.files.check()
            return self.files
        folder = None if cache_dir is None else cache_root(cache_dir) / self.embedder.name
        return self.embedder.model_files(self.files, cache_dir=folder, progress=progress)

    def recipe(self, target: Target, files: ModelFiles) -> ClipRecipe:
        """Step recipe (global): what every clip is embedded with, made once and handed to every
        worker: the target, the model's files, the shape of a clip's output, the cache of clips
        embedded with these settings and files, and the embedder as its front-end runs for
        these files.

        Only what changes a clip's row is in the cache's key: the measured target only for an
        embedder that pads. One that does not pad sees a clip as it is; it would crop a clip
        longer than the target, but a measured target is the longest clip, and a fixed one is a
        setting, in the key already."""
        examples = self.examples_per_clip(target)
        shape = self.embedder.clip_shape(examples=examples, files=files)
        key = settings_key(config=self.config.embedding_digest(),
                           target_length_samples=target.length_samples if self.embedder.pads else None,
                           files=files.digests(), embedder=self.embedder.describe())
        cache = None if self.cache_root is None else ClipCache(self.cache_root / CLIP_CACHE_FOLDER, key, shape=shape,
                                                                 dtype=self.embedder.output_dtype)
        read = {name: value for name, value in self.config.prepare_kwargs().items() if name != "embedder"}
        return ClipRecipe(self.embedder, self.embedder.for_files(files), target, files, examples, tuple(shape), cache,
                          read)

    def write(self, measurement: Measurement, embedded: EmbedResult, recipe: ClipRecipe) -> Manifest:
        """Step write (global): bundles per split, ``manifest.json``, ``metadata.csv``, the card
        and its figures, written atomically into :attr:`out`.

        Args:
            measurement: The measure pass (offsets, target, policies).
            embedded: Every kept clip's output and file SHA-256, in ``measurement`` order.
            recipe: What the clips were embedded with (the files' SHA-256 go in the manifest).

        Returns:
            The manifest written.
        """
        table = metadata_table(self.clips, measurement, embedded.audio_sha256)
        output = output_record(self.embedder, recipe.clip_shape, self.embedder.output_facts(recipe.files))
        rows = bundle_rows(embedded.embeddings, kind=self.embedder.clip_kind(), pool=self.embedder.pool)
        bundles, splits = split_bundles(table, rows, corpus=self.corpus, axes=tuple(output["axes"][1:]))
        source, metadata, recorded = source_record(table, excluded=self.excluded), written_metadata(table), versions()
        names, files = self.embedder.feature_names(), recipe.files
        manifest = Manifest(
            config=self.config, corpus=self.corpus.describe(split_preset=self.config.split_preset),
            embedder={"name": self.embedder.name, "settings": self.embedder.settings(), "output": self.embedder.output,
                      "license": self.embedder.license, "citation": self.embedder.citation,
                      **self.embedder.describe(), **files.record(), **({"feature_names": list(names)} if names else {})},
            output=output,
            target=measurement.target, examples_per_clip=recipe.examples_per_clip, splits=splits,
            handled_by_policy=tuple({"clip": clip.name, "policy": clip.handled,
                                     **({"active_channels": list(clip.active_channels)} if clip.active_channels else {})}
                                    for clip in measurement.handled),
            source=source, versions=recorded)
        extra = card_files(manifest.to_json(), metadata, count_columns=self.corpus.card_columns,
                           label_column=self.corpus.label_column, label_names=self.corpus.label_names,
                           feature_names=names)
        digests = write_folder(self.out, bundles, manifest=manifest.to_json(), metadata=metadata, extra=extra)
        return dataclasses.replace(manifest, bundle_sha256=digests, path=Path(self.out).absolute() / MANIFEST)
