"""The pipeline: each stage usable alone, and :func:`build` that runs them all.

In a notebook::

    from ravdess_prep import pipeline

    config = pipeline.Config()                         # the original project's settings
    clips = pipeline.source("data/ravdess")           # inventory: one row per clip
    clips = pipeline.split(clips, config)             # + a "split" column, actor-disjoint
    lengths = pipeline.measure(clips, config)         # trim offsets + the target length
    files = pipeline.model_files()                    # verified VGGish checkpoint + PCA
    embedded = pipeline.embed(lengths, config, files) # (N, 20, 128) float32, cached per clip
    pipeline.write("out", clips, lengths, embedded, config, files)

or all at once: ``pipeline.build(config, source="data/ravdess", out="out")``. New recordings
are embedded exactly as a dataset was with :func:`embed_files`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from . import __version__
from . import measure as _measure
from .bundle import Bundle, read_manifest, write_bundles
from .cache import cache_root
from .config import Config
from .embed import ClipCache, EmbedResult, clip_examples, embed_clips, settings_key
from .exceptions import ParameterError, SourceError
from .pad import pad_center
from .split import SPLITS, assign_splits

__all__ = [
    "Config", "ModelFiles", "BuildResult", "source", "split", "measure", "trim", "pad", "model_files",
    "embed", "write", "build", "embed_files",
]


# --- stages ------------------------------------------------------------------------------


def source(src=None, *, actors: Sequence[int] | None = None, cache_dir=None, progress: bool = False):
    """Stage 1: the inventory of a source (see :func:`ravdess_prep.ravdess.inventory`).

    Args:
        src: A folder, a zip, ``"zenodo"``/None (download), or a sequence of these.
        actors: Keep only these actors' clips (None: all).
        cache_dir: Cache root for downloads and extracted zips.
        progress: Show progress bars.

    Returns:
        The inventory DataFrame; ``clips.attrs["source_roots"]`` lists the folders scanned.
    """
    from .ravdess import raise_for_problems, survey

    result = survey(src, cache_dir=cache_dir, progress=progress)
    raise_for_problems(result)
    clips = result.clips
    if actors is not None:
        clips = clips[clips["actor"].isin([int(actor) for actor in actors])].reset_index(drop=True)
        if clips.empty:
            raise SourceError(f"no clip of actors {sorted(actors)} in {src}")
    clips.attrs["source_roots"] = [str(root) for root in result.roots]
    return clips


def split(clips, config: Config):
    """Stage: assign each clip to train/dev/test by actor; order clips within each split.

    Returns:
        A copy of ``clips`` with a ``split`` column, rows grouped by split (train, dev, test) and
        within a split in inventory order, or shuffled with ``config.shuffle_seed``.
    """
    clips = clips.copy()
    clips["split"] = assign_splits(clips["actor"], dev_actors=config.dev_actors, test_actors=config.test_actors)
    parts = []
    for name in SPLITS:
        part = clips[clips["split"] == name]
        if config.shuffle_seed is not None:
            order = np.random.default_rng([config.shuffle_seed, SPLITS.index(name)]).permutation(len(part))
            part = part.iloc[order]
        parts.append(part)
    import pandas as pd

    ordered = pd.concat(parts).reset_index(drop=True)
    ordered.attrs = dict(clips.attrs)
    return ordered


def measure(clips, config: Config, *, jobs: int | None = None, progress: bool = False) -> _measure.Measurement:
    """Stages trim + measure: every clip's trim offsets and the target length (one pass)."""
    return _measure.measure(clips, config, jobs=jobs, progress=progress)


def trim(path: str | os.PathLike, config: Config = Config()) -> tuple[np.ndarray, _measure.ClipOffsets]:
    """Stage trim, for one file: ``(trimmed samples, offsets)``, with the config's policies."""
    samples, rate, source_rate = _measure.load_for_config(path, config)
    offsets = _measure.clip_offsets(samples, rate, config=config, name=str(path), path=str(path),
                                    source_sample_rate_hz=source_rate)
    return samples[offsets.start : offsets.end], offsets


def pad(samples: np.ndarray, target_length_samples: int, config: Config = Config(), *, name: str = "clip") -> np.ndarray:
    """Stage pad: center a trimmed clip in silence (or crop it, per ``config.on_too_long``)."""
    padded, _ = pad_center(samples, target_length_samples=target_length_samples, on_too_long=config.on_too_long,
                           name=name)
    return padded


@dataclasses.dataclass(frozen=True)
class ModelFiles:
    """Verified model files and their SHA-256."""

    checkpoint: Path
    checkpoint_sha256: str
    pca_params: Path
    pca_sha256: str

    @property
    def official(self) -> bool:
        from vggish import params

        return self.checkpoint_sha256 == params.CHECKPOINT_SHA256 and self.pca_sha256 == params.PCA_PARAMS_SHA256


def model_files(
    checkpoint=None, pca_params=None, *, allow_custom_checkpoint: bool = False,
    allow_custom_pca_params: bool = False, cache_dir=None, progress: bool = True,
) -> ModelFiles:
    """The VGGish checkpoint and PCA parameters: the official ones (fetched on first use into
    the model folder) or the given paths, verified (see :mod:`vggish.files`)."""
    from vggish.files import verified_checkpoint, verified_pca_params

    model_dir = None if cache_dir is None else cache_root(cache_dir) / "vggish"
    ckpt, ckpt_sha256 = verified_checkpoint(checkpoint, allow_custom=allow_custom_checkpoint, cache_dir=model_dir,
                                            progress=progress)
    pca, pca_sha256 = verified_pca_params(pca_params, allow_custom=allow_custom_pca_params, cache_dir=model_dir,
                                          progress=progress)
    return ModelFiles(ckpt.resolve(), ckpt_sha256, pca.resolve(), pca_sha256)


def embed(
    measurement: _measure.Measurement, config: Config, files: ModelFiles, *, cache_dir=None,
    jobs: int | None = None, progress: bool = False, fast: bool = True,
) -> EmbedResult:
    """Stages pad + embed: the post-processed embeddings of every kept clip, in measurement
    order, reusing clips cached by an earlier (or interrupted) run. ``fast=False`` takes the
    straightforward path (pad, then the VGGish front-end on every sample and the model on every
    example), which gives the same bytes."""
    target = measurement.target_length_samples
    key = settings_key(config, target_length_samples=target, checkpoint_sha256=files.checkpoint_sha256,
                       pca_sha256=files.pca_sha256)
    check_examples(target, measurement.sample_rate_hz, config)

    return embed_clips(
        measurement.kept, target_length_samples=target, config=config,
        cache=ClipCache(cache_root(cache_dir) / "clips", key), load_model=functools.partial(load_model, files, config),
        jobs=jobs, progress=progress, fast=fast,
    )


def load_model(files: ModelFiles, config: Config):
    """``(VGGish model, Postprocessor)`` for ``files`` with the config's fc2 activation and batch
    size. The files are not hashed again: :func:`model_files` verified them."""
    from vggish.model import VGGish
    from vggish.postprocess import Postprocessor

    model = VGGish(files.checkpoint, fc2_activation=config.fc2_activation, batch_size=config.batch_size, verify=False)
    return model, Postprocessor(files.pca_params)


def write(out, clips, measurement: _measure.Measurement, embedded: EmbedResult, config: Config,
          files: ModelFiles) -> Path:
    """Stage write: bundles per split, ``manifest.json`` and ``metadata.csv``, atomically.

    Args:
        out: The output folder.
        clips: The split inventory (see :func:`split`).
        measurement: The measure pass (offsets, target, policies).
        embedded: The embed stage's result, aligned with ``measurement.kept``.
        config: The configuration (saved in the manifest).
        files: The model files (their SHA-256 go in the manifest).
    """
    import pandas as pd

    offsets = pd.DataFrame([dataclasses.asdict(clip) for clip in measurement.clips]).rename(
        columns={"name": "clip_name", "start": "trim_start", "end": "trim_end", "num_samples": "num_samples_at_rate"}
    ).drop(columns=["path", "sample_rate_hz", "source_sample_rate_hz"])
    offsets["trimmed_length_samples"] = offsets["trim_end"] - offsets["trim_start"]
    kept_names = [clip.name for clip in measurement.kept]
    hashes = pd.DataFrame({"clip_name": kept_names, "audio_sha256": embedded.audio_sha256})
    row = {name: position for position, name in enumerate(kept_names)}
    table = clips.merge(offsets, on="clip_name", how="left").merge(hashes, on="clip_name", how="left")
    bundles, summary = {}, {}
    for name in SPLITS:
        part = table[(table["split"] == name) & table["clip_name"].isin(row)]
        positions = [row[clip] for clip in part["clip_name"]]
        labels = part["label"].to_numpy(np.int32)
        bundles[name] = Bundle(part["clip_name"].to_numpy(str), embedded.embeddings[positions], labels)
        summary[name] = {
            "clips": int(len(part)),
            "actors": sorted(int(actor) for actor in part["actor"].unique()),
            "label_counts": np.bincount(labels, minlength=8).tolist(),
            "vocal_channels": {channel: int(count) for channel, count in part["vocal_channel"].value_counts().sort_index().items()},
        }
    manifest = {
        "format": "ravdess-prep bundles, version 1",
        "config": config.to_dict(),
        "target_length_samples": measurement.target_length_samples,
        "target_length_seconds": measurement.target_length_seconds,
        "sample_rate_hz": measurement.sample_rate_hz,
        "longest_clip": measurement.longest,
        "examples_per_clip": int(embedded.embeddings.shape[1]),
        "embeddings": "float32 (clips, examples, 128), post-processed VGGish values 0..255",
        "order": "inventory order (vocal channel, actor, name)" if config.shuffle_seed is None
        else f"seeded shuffle within each split (shuffle_seed={config.shuffle_seed})",
        "splits": summary,
        "handled_by_policy": [{"clip": clip.name, "policy": clip.handled} for clip in measurement.handled],
        "source": _source_record(clips, kept_names, embedded.audio_sha256),
        "model": {
            "checkpoint": str(files.checkpoint), "checkpoint_sha256": files.checkpoint_sha256,
            "pca_params": str(files.pca_params), "pca_params_sha256": files.pca_sha256,
            "official": files.official,
        },
        "versions": _versions(),
    }
    metadata = table.drop(columns=["path"]).assign(split=table["split"].where(table["clip_name"].isin(row), "dropped"))
    return write_bundles(out, bundles, manifest=manifest, metadata=metadata)


# --- the whole build -----------------------------------------------------------------------

RUNNERS = ("local", "beam")


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
    """What :func:`build` did.

    Attributes:
        out: The output folder.
        manifest: The manifest written there.
        seconds: Wall time per stage (``source``, ``split``, ``measure``, ``model_files``,
            ``embed``, ``write``).
        computed: Clips that went through the model.
        cached: Clips taken from the cache.
        model_calls: Model runs (``VGGish.embed`` calls).
        model_loads: Times the checkpoint was loaded: 1 (0 if every clip was cached); with the
            Beam runner, once per worker process that embedded something.
    """

    out: Path
    manifest: dict
    seconds: dict
    computed: int
    cached: int
    model_calls: int
    model_loads: int


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
    fast: bool = True,
    runner: str = "local",
    beam_options=(),
) -> BuildResult:
    """Run every stage: source, split, trim + measure, pad + embed, write.

    Args:
        config: The settings (defaults: the original project's).
        out: Output folder for the bundles.
        source_path: A folder, a zip, or None/``"zenodo"`` to download RAVDESS.
        actors: Restrict the build to these actors (None: all).
        checkpoint: VGGish checkpoint path (None: the official one, fetched on first use).
        pca_params: PCA parameters path (None: the official ones).
        allow_custom_checkpoint: Accept a non-official checkpoint with the official layout.
        allow_custom_pca_params: Accept non-official PCA parameters.
        cache_dir: Cache root (downloads, per-clip embeddings, model files).
        jobs: Threads for the per-clip stages (default: every core).
        progress: Progress bars per stage.
        fast: Skip work whose result is known (see :func:`embed`); same bytes either way.
        runner: ``"local"`` (threads of this process) or ``"beam"`` (Apache Beam, see
            :mod:`ravdess_prep.beam`; same bytes).
        beam_options: Beam pipeline options, ``["KEY=VALUE", ...]`` or a mapping (runner
            ``"beam"`` only; see :func:`ravdess_prep.beam.pipeline_options`).

    Returns:
        A :class:`BuildResult`. Nothing is written to ``out`` unless every clip succeeded.
    """
    if runner not in RUNNERS:
        raise ParameterError(f"runner has to be one of {', '.join(RUNNERS)}, not {runner!r}")
    if runner == "beam":
        from . import beam

        return beam.build(config, out=out, source_path=source_path, actors=actors, checkpoint=checkpoint,
                          pca_params=pca_params, allow_custom_checkpoint=allow_custom_checkpoint,
                          allow_custom_pca_params=allow_custom_pca_params, cache_dir=cache_dir, jobs=jobs,
                          progress=progress, options=beam_options)
    if beam_options:
        raise ParameterError("beam_options are for runner='beam'")
    clock = StageClock()
    lap = clock.lap

    clips = source(source_path, actors=actors, cache_dir=cache_dir, progress=progress); lap("source")
    clips = split(clips, config); lap("split")
    lengths = measure(clips, config, jobs=jobs, progress=progress); lap("measure")
    files = model_files(checkpoint, pca_params, allow_custom_checkpoint=allow_custom_checkpoint,
                        allow_custom_pca_params=allow_custom_pca_params, cache_dir=cache_dir,
                        progress=progress); lap("model_files")
    embedded = embed(lengths, config, files, cache_dir=cache_dir, jobs=jobs, progress=progress, fast=fast)
    lap("embed")
    written = write(out, clips, lengths, embedded, config, files); lap("write")
    return BuildResult(written, read_manifest(written), clock.seconds, embedded.computed,
                       len(lengths.kept) - embedded.computed, embedded.model_calls, int(embedded.computed > 0))


# --- new recordings, embedded as a dataset was ------------------------------------------


def embed_files(
    paths: Sequence[str | os.PathLike],
    dataset: str | os.PathLike,
    *,
    checkpoint=None,
    pca_params=None,
    on_too_long: str | None = None,
) -> np.ndarray:
    """Embed new audio files with a dataset's exact settings, read from its manifest.

    The clip is resampled to the dataset's rate if needed, trimmed with the dataset's rule,
    padded (or, with ``on_too_long="crop"``, cropped) to its target length, and embedded with
    its checkpoint, fc2 activation, hop, batch size and PCA parameters.

    Args:
        paths: Audio files.
        dataset: A folder written by :func:`build`.
        checkpoint: Another path to the dataset's checkpoint (its SHA-256 must match).
        pca_params: Another path to the dataset's PCA parameters (its SHA-256 must match).
        on_too_long: Override the dataset's policy for clips longer than its target.

    Returns:
        float32 array ``(len(paths), examples_per_clip, 128)``, values 0..255.

    Raises:
        ModelFileError: The model files differ from those the dataset was built with.
        ClipTooLongError: A clip is longer than the target and the policy is ``"error"``.
        AudioError: A file is unreadable.
    """
    from vggish.files import model_file_sha256
    from vggish.model import VGGish
    from vggish.postprocess import Postprocessor

    from .exceptions import ModelFileError

    manifest = read_manifest(dataset)
    target = int(manifest["target_length_samples"])
    rate = int(manifest["sample_rate_hz"])
    config = Config.from_dict(manifest["config"]).replace(
        target_length_samples=target, sample_rate_hz=rate,
        **({"on_too_long": on_too_long} if on_too_long else {}),
    )
    model_record = manifest["model"]
    resolved = {}
    for key, given in (("checkpoint", checkpoint), ("pca_params", pca_params)):
        path = Path(given or model_record[key])
        expected = model_record[f"{key}_sha256"]
        if not path.exists() and not Path(f"{path}.index").exists():
            raise ModelFileError(f"{path}: the dataset's {key} is missing (pass its path)")
        if model_file_sha256(path) != expected:
            raise ModelFileError(f"{path}: SHA-256 differs from the dataset's {key} ({expected})")
        resolved[key] = path
    examples = []
    for path in paths:
        trimmed, offsets = trim(path, config)
        examples.append(clip_examples(
            trimmed, sample_rate_hz=rate, start=0, end=trimmed.size, target_length_samples=target,
            hop_seconds=config.hop_seconds, on_too_long=config.on_too_long, name=str(path),
        ))
    if not examples:
        return np.zeros((0, int(manifest["examples_per_clip"]), 128), np.float32)
    with VGGish(resolved["checkpoint"], fc2_activation=config.fc2_activation, batch_size=config.batch_size,
                verify=False) as model:  # its SHA-256 was just compared with the dataset's
        raw = model.embed(np.concatenate(examples))
    codes = Postprocessor(resolved["pca_params"]).postprocess(raw)
    return codes.reshape(len(examples), -1, codes.shape[-1]).astype(np.float32)


# --- helpers -------------------------------------------------------------------------------


def check_examples(target_length_samples: int, sample_rate_hz: int, config: Config) -> None:
    from vggish import params

    samples_16k = int(target_length_samples * params.SAMPLE_RATE_HZ / sample_rate_hz)
    window = int(round(params.STFT_WINDOW_LENGTH_SECONDS * params.SAMPLE_RATE_HZ))
    hop = int(round(params.STFT_HOP_LENGTH_SECONDS * params.SAMPLE_RATE_HZ))
    if samples_16k < window + (params.NUM_FRAMES - 1) * hop:
        raise ParameterError(
            f"target length {target_length_samples} samples at {sample_rate_hz} Hz is shorter than one VGGish "
            "example (0.975 s): no embedding would be computed"
        )


def _source_record(clips, names, hashes) -> dict:
    from .source import read_extraction_record

    roots = clips.attrs.get("source_roots", [])
    lines = "".join(f"{name}\t{digest}\n" for name, digest in sorted(zip(names, hashes)))
    return {
        "roots": roots,
        "archives": [record for root in roots if (record := read_extraction_record(root)) is not None],
        "clips": len(names),
        "clips_sha256": hashlib.sha256(lines.encode()).hexdigest(),
    }


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"ravdess_prep": __version__}
    for package in ("tensorflow", "tensorflow-cpu", "tf-slim", "numpy", "resampy", "soundfile", "librosa"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found
