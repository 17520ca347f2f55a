"""The build plan: a build's inventory, its output and its last step, and :func:`run_steps`,
which runs every step in the one order (:mod:`.steps`) with the per-clip steps mapped onto an
executor's workers.

Source and split run before the plan exists (:func:`ravdess_prep.pipeline.build`); the plan
then holds the split inventory and the settings. An executor (:mod:`.local`, :mod:`.beam`)
decides only where and when each step runs; the steps decide what it computes, so every
executor writes the same bytes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..audio.measure import ClipOffsets, Measurement, Target
from ..config import Config
from ..corpora import Corpus
from ..dataset.card import card_files
from ..dataset.contents import metadata_table, source_record, split_bundles, versions, written_metadata
from ..dataset.layout import write_folder
from ..dataset.manifest import Manifest, output_record
from ..embedders import Embedder, ModelFiles
from ..embedders.outputs import bundle_rows
from ..params import MANIFEST
from . import steps
from .inference import EmbedResult
from .recipe import ClipRecipe

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas


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

    @property
    def corpus(self) -> Corpus:
        return self.config.source_corpus()

    @property
    def embedder(self) -> Embedder:
        return self.config.embedder

    def clip_calls(self) -> list[dict]:
        """The keyword arguments of :meth:`measure_clip` for every clip, in build order."""
        return [{"name": name, "path": path}
                for name, path in zip(self.clips["clip_name"].astype(str), self.clips["path"].astype(str))]

    # --- the steps, with this build's settings ------------------------------------------

    def measure_clip(self, name: str, path: str) -> ClipOffsets:
        """Step measure (per clip): see :func:`.steps.measure_clip`."""
        return steps.measure_clip(self.config, name=name, path=path)

    def target(self, tally) -> Target:
        """Step target (global): see :func:`.steps.target`."""
        return steps.target(self.config, tally)

    def model_files(self, *, cache_dir=None, progress: bool = False) -> ModelFiles:
        """Step model files (global): see :func:`.steps.model_files`."""
        return steps.model_files(self.embedder, self.files, cache_dir=cache_dir, progress=progress)

    def recipe(self, target: Target, files: ModelFiles) -> ClipRecipe:
        """Step recipe (global), with this build's cache: see :func:`.steps.recipe`."""
        return steps.recipe(self.config, target, files, cache=self.cache_root)

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
        names, files, embedder = self.embedder.feature_names(), recipe.files, recipe.embedder
        manifest = Manifest(
            config=self.config.replace(embedder=embedder),
            corpus=self.corpus.describe(split_preset=self.config.split_preset),
            embedder={"name": embedder.name, "settings": embedder.settings(), "output": embedder.output,
                      **({"resolved_from": recipe.resolved_from} if recipe.resolved_from else {}),
                      "license": embedder.license,
                      "citation": embedder.citation,
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


def run_steps(plan: BuildPlan, run, *, measure: Callable[[BuildPlan], Measurement],
              embed: Callable[[ClipRecipe, Measurement], EmbedResult]) -> BuildResult:
    """Every step of ``plan``, in the order of :mod:`.steps`: model files, measure and target,
    recipe, prepare and embed, write; timed per stage.

    Args:
        plan: The build.
        run: How it runs (:class:`~ravdess_prep.build.executors.Run`: its cache and progress).
        measure: The measure step of every clip mapped onto workers, then the target
            (``measure(plan)`` returns :func:`.steps.measurement` of the offsets).
        embed: The prepare and embed steps of every kept clip mapped onto workers
            (``embed(recipe, measurement)``).
    """
    clock = steps.StageClock()
    files = plan.model_files(cache_dir=run.cache_dir, progress=run.progress)
    clock.lap("model_files")
    measurement = measure(plan)
    clock.lap("measure")
    recipe, embedded = steps.embed_measured(plan.config, measurement, files, cache=plan.cache_root, embed=embed)
    clock.lap("embed")
    manifest = plan.write(measurement, embedded, recipe)
    clock.lap("write")
    return BuildResult(manifest.path.parent, manifest, clock.seconds, embedded.computed,
                       len(embedded.audio_sha256) - embedded.computed, embedded.model_calls,
                       int(embedded.computed > 0), embedded.rejected)
