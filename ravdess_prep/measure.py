"""The global length: trim offsets of every clip and their maximum, in one streaming pass.

Only offsets are kept (a few integers per clip), never audio, so peak memory does not grow
with the number of clips. Clips are decoded and trimmed by worker threads
(:func:`ravdess_prep.parallel.map_calls`).
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, BinaryIO, Iterable, Sequence

import numpy as np

from .audio import load_clip, resample
from .config import Config
from .exceptions import ClipTooLongError, SampleRateError, SilentClipError, SourceError
from .parallel import map_calls
from .trim import trim_offsets

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas

KEPT_SILENT = "no active sample: kept whole"
DROPPED_SILENT = "no active sample: dropped"
CROPPED = "longer than the target length: center-cropped"


@dataclasses.dataclass(frozen=True)
class ClipOffsets:
    """Where one clip's sound is, and what a policy decided about it.

    Attributes:
        name: The clip's name (bundle clip name, or the path for loose files).
        path: The audio file.
        source_sample_rate_hz: The file's sample rate.
        sample_rate_hz: The rate the offsets refer to (after resampling, if any).
        num_samples: Length at ``sample_rate_hz``.
        start: First sample of the trimmed clip.
        end: One past its last sample.
        handled: None, or what a policy did (:data:`KEPT_SILENT`, :data:`DROPPED_SILENT`,
            :data:`CROPPED`).
    """

    name: str
    path: str
    source_sample_rate_hz: int
    sample_rate_hz: int
    num_samples: int
    start: int
    end: int
    handled: str | None = None

    @property
    def trimmed_length_samples(self) -> int:
        return self.end - self.start

    @property
    def dropped(self) -> bool:
        return self.handled == DROPPED_SILENT


@dataclasses.dataclass(frozen=True)
class Measurement:
    """The result of the measure pass.

    Attributes:
        target_length_samples: The length every clip is padded to.
        sample_rate_hz: The collection's sample rate.
        longest: Name of the clip with the maximum trimmed length (None when the target was fixed
            and no clip reaches it).
        clips: One entry per input clip, in input order (dropped clips included, marked).
    """

    target_length_samples: int
    sample_rate_hz: int
    longest: str | None
    clips: tuple[ClipOffsets, ...]

    @property
    def target_length_seconds(self) -> float:
        return self.target_length_samples / self.sample_rate_hz

    @property
    def handled(self) -> tuple[ClipOffsets, ...]:
        """The clips a policy acted on."""
        return tuple(clip for clip in self.clips if clip.handled is not None)

    @property
    def kept(self) -> tuple[ClipOffsets, ...]:
        """The clips that go on to padding."""
        return tuple(clip for clip in self.clips if not clip.dropped)


def clip_offsets(
    samples: np.ndarray, sample_rate_hz: int, *, config: Config, name: str, path: str = "",
    source_sample_rate_hz: int | None = None,
) -> ClipOffsets:
    """Trim offsets of one clip, with the silent-clip and too-long policies applied.

    Args:
        samples: float array of shape ``(num_samples,)`` at ``sample_rate_hz``.
        sample_rate_hz: Its rate.
        config: The build configuration (trim rule, ``on_silent``, fixed target, ``on_too_long``).
        name: The clip's name, for reports and errors.
        path: The clip's file.
        source_sample_rate_hz: The file's own rate, when the samples were resampled.

    Returns:
        The clip's :class:`ClipOffsets`.

    Raises:
        SilentClipError: No active sample and ``on_silent="error"``.
        ClipTooLongError: Longer than a fixed target and ``on_too_long="error"``.
    """
    offsets = trim_offsets(samples, **config.trim_kwargs())
    handled = None
    if offsets is None:
        if config.on_silent == "error":
            raise SilentClipError(
                f"{name}: no active sample under the {config.trim_method} trim rule "
                "(keep it whole with on_silent='keep', or drop it with on_silent='drop')"
            )
        offsets = (0, samples.size)
        handled = KEPT_SILENT if config.on_silent == "keep" else DROPPED_SILENT
    start, end = offsets
    target = config.target_length_samples
    if target is not None and end - start > target and handled != DROPPED_SILENT:
        if config.on_too_long == "error":
            raise ClipTooLongError(
                f"{name}: trimmed length {end - start} samples is longer than the target length "
                f"{target} samples (center-crop it with on_too_long='crop')"
            )
        handled = CROPPED if handled is None else f"{handled}; {CROPPED}"
    return ClipOffsets(
        name=name,
        path=path,
        source_sample_rate_hz=source_sample_rate_hz or sample_rate_hz,
        sample_rate_hz=sample_rate_hz,
        num_samples=int(samples.size),
        start=int(start),
        end=int(end),
        handled=handled,
    )


def load_for_config(
    path: str | os.PathLike | BinaryIO, config: Config, *, name: str | None = None
) -> tuple[np.ndarray, int, int]:
    """A clip's first channel, resampled to ``config.sample_rate_hz`` when that is set.

    Args:
        path: The file, or a binary stream holding one.
        config: The build configuration.
        name: How errors name the file (default: ``path``).

    Returns:
        ``(samples, sample_rate_hz, source_sample_rate_hz)``.
    """
    samples, source_rate = load_clip(path, name=name)
    rate = config.sample_rate_hz or source_rate
    return resample(samples, from_hz=source_rate, to_hz=rate), rate, source_rate


def measure_file(path: str | os.PathLike, *, name: str, config: Config) -> ClipOffsets:
    """Read one file and return its :class:`ClipOffsets` (see :func:`clip_offsets`)."""
    samples, rate, source_rate = load_for_config(path, config)
    return clip_offsets(samples, rate, config=config, name=name, path=str(path), source_sample_rate_hz=source_rate)


def measure(
    clips: "pandas.DataFrame | Sequence[str | os.PathLike]",
    config: Config = Config(),
    *,
    jobs: int | None = None,
    progress: bool = False,
) -> Measurement:
    """Trim offsets of every clip and the target length, in one streaming pass.

    Args:
        clips: An inventory (columns ``clip_name`` and ``path``) or a sequence of file paths
            (each then named by its path).
        config: The build configuration.
        jobs: Threads; default: every CPU core. 1 runs in the calling thread.
        progress: Show a progress bar.

    Returns:
        The :class:`Measurement`.

    Raises:
        SourceError: ``clips`` is empty, or every clip was dropped.
        SampleRateError: Clips have different rates and ``config.sample_rate_hz`` is None.
        AudioError: A clip is unreadable, empty, holds non-finite values, or a policy said
            ``"error"``; the message names the clip.
    """
    items = _named_paths(clips)
    if not items:
        raise SourceError("no clip to measure")
    first_rate = None
    first_name = None
    results = []
    calls = [{"path": path, "name": name, "config": config} for name, path in items]
    for offsets in _progress(map_calls(measure_file, calls, jobs=jobs), len(items), progress):
        if first_rate is None:
            first_rate, first_name = offsets.source_sample_rate_hz, offsets.name
        elif config.sample_rate_hz is None and offsets.source_sample_rate_hz != first_rate:
            raise SampleRateError(
                f"{offsets.name}: sample rate {offsets.source_sample_rate_hz} Hz differs from "
                f"{first_rate} Hz of {first_name} (resample every clip with sample_rate_hz=...)"
            )
        results.append(offsets)
    kept = [clip for clip in results if not clip.dropped]
    if not kept:
        raise SourceError(f"every one of the {len(results)} clips was dropped as silent")
    longest = max(kept, key=lambda clip: clip.trimmed_length_samples)
    if config.target_length_samples is None:
        target, longest_name = longest.trimmed_length_samples, longest.name
    else:
        target = config.target_length_samples
        longest_name = longest.name if longest.trimmed_length_samples == target else None
    return Measurement(
        target_length_samples=int(target),
        sample_rate_hz=int(kept[0].sample_rate_hz),
        longest=longest_name,
        clips=tuple(results),
    )


def _named_paths(clips) -> list[tuple[str, str]]:
    if hasattr(clips, "columns"):
        return [(str(name), str(path)) for name, path in zip(clips["clip_name"], clips["path"])]
    return [(str(path), str(path)) for path in clips]


def _progress(results: Iterable, total: int, enabled: bool) -> Iterable:
    if not enabled:
        return results
    from tqdm.auto import tqdm

    return tqdm(results, total=total, desc="measure", unit="clip")
