"""The build plan: every step of a build as a function of the plan, run by either executor.

Source and split run before the plan exists (:func:`ravdess_prep.pipeline.build`); the plan
then holds the split inventory and the settings, and its steps are what the executors
(:mod:`ravdess_prep.local`, :mod:`ravdess_prep.beam`) call, in this order::

    measure_clip (per clip) -> target (one global step) -> model_files -> prepare (per clip)
    -> the model on batches (ravdess_prep.embed.ModelSession) -> write (one global step)

An executor decides only where and when each step runs; the plan decides what it computes, so
both write the same bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from . import __version__
from .bundle import Bundle, write_bundles
from .card import CARD, COUNTS_FIGURE, LENGTHS_FIGURE, counts_figure, lengths_figure, render_card
from .cache import ClipCache, settings_key
from .config import Config
from .corpora import Corpus, get_corpus
from .embed import PreparedClip, prepare_clip
from .embedders import Embedder, ModelFiles
from .exceptions import ParameterError
from .measure import ClipOffsets, LengthTally, Measurement, measure_file
from .params import CLIP_CACHE_FOLDER, FEATURE_NAMES, MANIFEST_FORMAT, SPLITS
from .pool import pool_embeddings
from .source import read_extraction_record

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas

#: Packages whose versions a manifest records, when installed.
RECORDED_PACKAGES = ("tensorflow", "tensorflow-cpu", "tf-slim", "keras", "numpy", "resampy", "soundfile", "librosa",
                     "opensmile")


@dataclasses.dataclass(frozen=True)
class Target:
    """The global decision of a build: the length every clip is padded to.

    Attributes:
        length_samples: Target length at ``sample_rate_hz``.
        sample_rate_hz: The collection's rate.
        longest: The clip that reaches it (None when it was fixed and no clip does).
        examples_per_clip: The embedder's examples of a padded clip.
    """

    length_samples: int
    sample_rate_hz: int
    longest: str | None
    examples_per_clip: int


def decide_target(length_samples: int, sample_rate_hz: int, *, longest: str | None, embedder: Embedder) -> Target:
    """The :class:`Target` of a measured collection, checked against the embedder.

    Raises:
        ParameterError: A padded clip would give no example.
    """
    at_model_rate = (int(length_samples * embedder.sample_rate_hz / sample_rate_hz) if embedder.sample_rate_hz
                     else length_samples)
    examples = embedder.num_examples(at_model_rate, sample_rate_hz=embedder.sample_rate_hz or sample_rate_hz)
    if examples < 1:
        raise ParameterError(
            f"target length {length_samples} samples at {sample_rate_hz} Hz is shorter than one {embedder.name} "
            "example: no embedding would be computed"
        )
    return Target(length_samples, sample_rate_hz, longest, examples)


def target_of(measurement: Measurement, embedder: Embedder) -> Target:
    """The :class:`Target` of a finished measure pass (see :func:`decide_target`)."""
    return decide_target(measurement.target_length_samples, measurement.sample_rate_hz,
                         longest=measurement.longest, embedder=embedder)


def clip_cache(root: Path, *, config: Config, target: Target, files: ModelFiles) -> ClipCache:
    """The cache of clips embedded with ``config``'s settings, ``target`` and ``files``, under
    the cache root ``root``."""
    key = settings_key(config=config.embedding_digest(), target_length_samples=target.length_samples,
                       files=files.digests(), embedder=config.embedder.describe())
    return ClipCache(root / CLIP_CACHE_FOLDER, key, shape=(target.examples_per_clip, config.embedder.output_dim),
                     dtype=config.embedder.output_dtype)


@dataclasses.dataclass(frozen=True)
class BuildPlan:
    """What a build computes, decided before any clip is read.

    Attributes:
        config: The settings.
        clips: The split inventory (see :func:`ravdess_prep.pipeline.split`), in build order.
        out: The output folder.
        cache_root: The cache root (per-clip embeddings under ``<cache_root>/clips``).
        files: Where the embedder's files are (an instance of its ``files_type``; None: the
            official ones), or :class:`ModelFiles` already verified (a rebuild from a manifest).
        source_roots: The folders the inventory was read from (for the manifest).
        speakers: The speakers the build was restricted to (None: all), for the manifest.
    """

    config: Config
    clips: "pandas.DataFrame"
    out: Path
    cache_root: Path
    files: object | None = None
    source_roots: tuple[str, ...] = ()
    speakers: tuple[int, ...] | None = None

    @property
    def corpus(self) -> Corpus:
        return get_corpus(self.config.corpus)

    @property
    def embedder(self) -> Embedder:
        return self.config.embedder

    def named_paths(self) -> list[tuple[str, str]]:
        """``(clip name, path)`` of every clip, in build order."""
        return list(zip(self.clips["clip_name"].astype(str), self.clips["path"].astype(str)))

    # --- the steps ---------------------------------------------------------------------

    def measure_clip(self, name: str, path: str) -> ClipOffsets:
        """Step measure: one clip's trim offsets, with the policies applied."""
        return measure_file(path, name=name, **self.config.measure_kwargs())

    def target(self, tally: LengthTally) -> Target:
        """Step target, from the tally of every clip (see :func:`decide_target`).

        Raises:
            SourceError: No clip, or every clip was dropped.
            SampleRateError: Clips have different rates and none are resampled.
            ParameterError: A padded clip would give no example.
        """
        length, rate, longest = tally.target(**self.config.target_kwargs())
        return decide_target(length, rate, longest=longest, embedder=self.embedder)

    def target_of(self, measurement: Measurement) -> Target:
        """Step target, from a finished measure pass (see :func:`decide_target`)."""
        return target_of(measurement, self.embedder)

    def model_files(self, *, cache_dir: str | os.PathLike | None = None, progress: bool = False) -> ModelFiles:
        """Step model files: the embedder's files, fetched or verified."""
        if isinstance(self.files, ModelFiles):
            self.files.check()
            return self.files
        folder = None if cache_dir is None else Path(cache_dir) / self.embedder.name
        return self.embedder.model_files(self.files, cache_dir=folder, progress=progress)

    def clip_cache(self, target: Target, files: ModelFiles) -> ClipCache:
        """The cache of clips embedded with these settings, this target and these files."""
        return clip_cache(self.cache_root, config=self.config, target=target, files=files)

    def prepare(self, offsets: ClipOffsets, *, target: Target, cache: ClipCache | None,
                fast: bool = True) -> PreparedClip:
        """Step prepare: one clip hashed and, unless cached, decoded, padded and through the
        embedder's front-end (see :func:`ravdess_prep.embed.prepare_clip`)."""
        return prepare_clip(offsets=offsets, target_length_samples=target.length_samples, cache=cache, fast=fast,
                            **self.config.prepare_kwargs())

    def write(self, measurement: Measurement, embeddings: Sequence[np.ndarray], audio_sha256: Sequence[str],
              files: ModelFiles, *, examples_per_clip: int) -> Path:
        """Step write: see :func:`write_dataset`."""
        return write_dataset(self.out, self.clips, measurement, embeddings, audio_sha256, config=self.config,
                             files=files, examples_per_clip=examples_per_clip, source_roots=self.source_roots,
                             speakers=self.speakers)


def write_dataset(
    out: str | os.PathLike,
    clips: "pandas.DataFrame",
    measurement: Measurement,
    embeddings: Sequence[np.ndarray],
    audio_sha256: Sequence[str],
    *,
    config: Config,
    files: ModelFiles,
    examples_per_clip: int,
    source_roots: Sequence[str] = (),
    speakers: Sequence[int] | None = None,
) -> Path:
    """Bundles per split, ``manifest.json`` and ``metadata.csv``, written atomically.

    Args:
        out: The output folder.
        clips: The split inventory.
        measurement: The measure pass (offsets, target, policies).
        embeddings: Each kept clip's embeddings, ``(examples, dim)``, in ``measurement.kept`` order.
        audio_sha256: Each kept clip's file SHA-256, in the same order.
        config: The settings.
        files: The embedder's files (their SHA-256 go in the manifest).
        examples_per_clip: Examples of a padded clip.
        source_roots: The folders the inventory was read from.
        speakers: The speakers the build was restricted to (None: all).
    """
    import pandas as pd

    corpus = get_corpus(config.corpus)
    embedder = config.embedder
    names = embedder.feature_names()
    stacked = (np.stack(embeddings).astype(np.float32) if len(embeddings)
               else np.zeros((0, examples_per_clip, embedder.output_dim), np.float32))
    stacked = stacked[:, 0] if embedder.clip_level else pool_embeddings(stacked, pool=config.pool)
    offsets = pd.DataFrame([dataclasses.asdict(clip) for clip in measurement.clips]).rename(
        columns={"name": "clip_name", "start": "trim_start", "end": "trim_end", "num_samples": "num_samples_at_rate"}
    ).drop(columns=["path", "sample_rate_hz", "source_sample_rate_hz"])
    offsets["trimmed_length_samples"] = offsets["trim_end"] - offsets["trim_start"]
    kept_names = [clip.name for clip in measurement.kept]
    hashes = pd.DataFrame({"clip_name": kept_names, "audio_sha256": list(audio_sha256)})
    row = {name: position for position, name in enumerate(kept_names)}
    table = clips.merge(offsets, on="clip_name", how="left").merge(hashes, on="clip_name", how="left")
    bundles, summary = {}, {}
    for name in SPLITS:
        part = table[(table["split"] == name) & table["clip_name"].isin(row)]
        positions = [row[clip] for clip in part["clip_name"]]
        labels = part[corpus.label_column].to_numpy(np.int32)
        bundles[name] = Bundle(part["clip_name"].to_numpy(str), stacked[positions], labels)
        summary[name] = {
            "clips": int(len(part)),
            "speakers": sorted(int(speaker) for speaker in part[corpus.speaker_column].unique()),
            "label_counts": np.bincount(labels, minlength=len(corpus.label_names)).tolist(),
            "counts": {column: {str(value): int(count) for value, count in part[column].value_counts().sort_index().items()}
                       for column in corpus.facet_columns},
        }
    shape = "(clips, dim)" if stacked.ndim == 2 else "(clips, examples, dim)"
    manifest = {
        "format": MANIFEST_FORMAT,
        "config": config.to_dict(),
        "corpus": corpus.describe(),
        "embedder": {"name": embedder.name, "settings": embedder.settings(), "output": embedder.output,
                     "license": embedder.license, "citation": embedder.citation, **embedder.describe(), **files.record(),
                     **({"feature_names": list(names)} if names else {})},
        "target_length_samples": measurement.target_length_samples,
        "target_length_seconds": measurement.target_length_seconds,
        "sample_rate_hz": measurement.sample_rate_hz,
        "longest_clip": measurement.longest,
        "examples_per_clip": int(examples_per_clip),
        "pool": config.pool,
        "embeddings": f"float32 {shape} = {stacked.shape[1:]}, {embedder.output}"
                      + ("" if config.pool == "none" else f", pooled over examples ({config.pool})"),
        "order": "inventory order" if config.shuffle_seed is None
        else f"seeded shuffle within each split (shuffle_seed={config.shuffle_seed})",
        "splits": summary,
        "handled_by_policy": [{"clip": clip.name, "policy": clip.handled} for clip in measurement.handled],
        "source": _source_record(source_roots, kept_names, audio_sha256),
        "build": {"speakers": None if speakers is None else sorted(int(speaker) for speaker in speakers)},
        "versions": _versions(),
    }
    metadata = table.drop(columns=["path"]).assign(split=table["split"].where(table["clip_name"].isin(row), "dropped"))
    extra = {
        CARD: render_card(manifest, metadata, count_columns=corpus.card_columns),
        LENGTHS_FIGURE: lengths_figure(metadata, sample_rate_hz=measurement.sample_rate_hz,
                                       target_length_samples=measurement.target_length_samples),
        COUNTS_FIGURE: counts_figure(metadata, label_column=corpus.label_column, label_names=list(corpus.label_names)),
        **({FEATURE_NAMES: "".join(f"{name}\n" for name in names)} if names else {}),
    }
    return write_bundles(out, bundles, manifest=manifest, metadata=metadata, extra=extra)


def _source_record(roots: Sequence[str], names: Sequence[str], hashes: Sequence[str]) -> dict:
    lines = "".join(f"{name}\t{digest}\n" for name, digest in sorted(zip(names, hashes)))
    return {
        "roots": list(roots),
        "archives": [record for root in roots if (record := read_extraction_record(root)) is not None],
        "clips": len(names),
        "clips_sha256": hashlib.sha256(lines.encode()).hexdigest(),
    }


def _versions() -> dict:
    found = {"ravdess_prep": __version__}
    for package in RECORDED_PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found
