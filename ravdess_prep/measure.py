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
from .exceptions import AudioError, ClipTooLongError, SampleRateError, SilentClipError, SourceError
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
    return _decide(offsets, config=config, name=name, path=path, sample_rate_hz=sample_rate_hz,
                   source_sample_rate_hz=source_sample_rate_hz, num_samples=int(samples.size))


def _decide(offsets, *, config, name, path, sample_rate_hz, source_sample_rate_hz, num_samples) -> ClipOffsets:
    """:func:`clip_offsets` after the trim: the silent-clip and too-long policies."""
    handled = None
    if offsets is None:
        if config.on_silent == "error":
            raise SilentClipError(
                f"{name}: no active sample under the {config.trim_method} trim rule "
                "(keep it whole with on_silent='keep', or drop it with on_silent='drop')"
            )
        offsets = (0, num_samples)
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
        num_samples=num_samples,
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
    rate = config.working_rate_hz(source_rate)
    return resample(samples, from_hz=source_rate, to_hz=rate), rate, source_rate


def measure_file(path: str | os.PathLike, *, name: str, config: Config) -> ClipOffsets:
    """Read one file and return its :class:`ClipOffsets` (see :func:`clip_offsets`).

    Under the rolling rule, an 8-, 16- or 24-bit PCM file that is not resampled is not decoded
    whole: :func:`scan_rolling_offsets` reads its edges, up to the first and the last active
    window, and finds the same offsets.
    """
    if config.trim_method == "rolling":
        scanned = scan_rolling_offsets(path, config=config)
        if scanned is not None:
            offsets, num_samples, rate = scanned
            return _decide(offsets, config=config, name=name, path=str(path), sample_rate_hz=rate,
                           source_sample_rate_hz=rate, num_samples=num_samples)
    samples, rate, source_rate = load_for_config(path, config)
    return clip_offsets(samples, rate, config=config, name=name, path=str(path), source_sample_rate_hz=source_rate)


# Subtypes whose samples are multiples of 2**-15 or 2**-23: every window sum is exact whichever
# samples it is computed from, so sums over a block equal sums over the whole clip.
EXACT_SUM_SUBTYPES = frozenset({"PCM_S8", "PCM_U8", "PCM_16", "PCM_24"})
SCAN_BLOCK_SAMPLES = 16384


def scan_rolling_offsets(
    path: str | os.PathLike, *, config: Config, block_samples: int = SCAN_BLOCK_SAMPLES
) -> tuple[tuple[int, int] | None, int, int] | None:
    """The rolling rule's trim offsets of a file, decoding only its edges.

    Blocks are read from the start until one holds an active window, then from the end
    backwards until one does; consecutive blocks overlap by ``window_samples - 1`` samples, so
    every window is seen whole. The silent edges of a clip are usually a third of it.

    Args:
        path: The audio file.
        config: The build configuration (rolling rule; ``sample_rate_hz``).
        block_samples: Samples decoded per read.

    Returns:
        ``(offsets, num_samples, sample_rate_hz)`` with ``offsets`` as
        :func:`ravdess_prep.trim.rolling_trim_offsets` gives them for the whole first channel
        (None for a silent clip); or None when the file has to be decoded whole instead (its
        samples are not 8-, 16- or 24-bit PCM, or the config resamples it).

    Raises:
        AudioError: The file is unreadable, empty, or shorter than its header says.
    """
    from .audio import empty_message, open_audio, unreadable_message
    from .trim import active_window_ends

    window, threshold = config.trim_window_samples, config.trim_threshold
    with open_audio(path) as stream:
        rate, num_samples = int(stream.samplerate), int(stream.frames)
        if stream.subtype not in EXACT_SUM_SUBTYPES or config.working_rate_hz(rate) != rate:
            return None
        if num_samples == 0:
            raise AudioError(empty_message(path))
        block_samples = max(block_samples, 2 * window)

        def read(first: int, count: int) -> np.ndarray:
            try:
                if stream.tell() != first:
                    stream.seek(first)
                block = stream.read(count, dtype="float64", always_2d=True)
            except Exception as error:
                raise AudioError(unreadable_message(path, error)) from None
            if block.shape[0] != count:
                raise AudioError(f"{path}: the audio file ends after {first + block.shape[0]} of its "
                                 f"{num_samples} samples")
            return block[:, 0]

        first_active = None
        carry = np.zeros(0)
        position = 0  # samples read from the start
        while position < num_samples:
            block = np.concatenate((carry, read(position, min(block_samples, num_samples - position))))
            ends = active_window_ends(block, window_samples=window, threshold=threshold)
            if ends is not None:
                first_active = position - carry.size + ends[0]
                break
            position += block.size - carry.size
            carry = block[block.size - (window - 1):] if window > 1 else np.zeros(0)
        if first_active is None:
            return None, num_samples, rate
        stop = num_samples
        lowest = first_active - (window - 1)  # the first active window starts here
        while True:
            begin = max(lowest, stop - block_samples)
            ends = active_window_ends(read(begin, stop - begin), window_samples=window, threshold=threshold)
            if ends is not None:
                last_active = begin + ends[1]
                break
            stop = begin + window - 1
    return (first_active, min(last_active + window, num_samples)), num_samples, rate


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
    tally = LengthTally()
    results = []
    calls = [{"path": path, "name": name, "config": config} for name, path in items]
    for position, offsets in enumerate(_progress(map_calls(measure_file, calls, jobs=jobs), len(items), progress)):
        tally = tally.merge(LengthTally.of(offsets, position=position))
        tally.check_rates(config)  # in input order: fails at the first clip of another rate
        results.append(offsets)
    return tally.measurement(config, clips=results)


@dataclasses.dataclass(frozen=True)
class LengthTally:
    """What the target length depends on, summed over any set of clips.

    Tallies of parts merge, in any order and grouping, into the tally of the whole, so the
    maximum is one associative combine: a loop here, a global combine on Apache Beam (see
    :mod:`ravdess_prep.beam`). Clips are identified by their position in the input, so ties
    go to the first clip in input order, wherever it was measured.

    Attributes:
        clips: Clips counted.
        kept: Clips not dropped.
        longest: ``(trimmed length, -position, name)`` of the longest kept clip.
        first_kept: ``(position, sample_rate_hz)`` of the first kept clip.
        rates: ``(source rate, position, name)`` of the first clip of each source rate.
    """

    clips: int = 0
    kept: int = 0
    longest: tuple[int, int, str] | None = None
    first_kept: tuple[int, int] | None = None
    rates: tuple[tuple[int, int, str], ...] = ()

    @classmethod
    def of(cls, offsets: ClipOffsets, *, position: int) -> "LengthTally":
        """The tally of one clip, at ``position`` in the input."""
        rates = ((offsets.source_sample_rate_hz, position, offsets.name),)
        if offsets.dropped:
            return cls(clips=1, rates=rates)
        return cls(clips=1, kept=1, longest=(offsets.trimmed_length_samples, -position, offsets.name),
                   first_kept=(position, offsets.sample_rate_hz), rates=rates)

    def merge(self, other: "LengthTally") -> "LengthTally":
        """The tally of both parts."""
        longest = max((t for t in (self.longest, other.longest) if t is not None), default=None)
        first_kept = min((t for t in (self.first_kept, other.first_kept) if t is not None), default=None)
        rates = {}
        for rate, position, name in sorted(self.rates + other.rates, key=lambda entry: entry[1]):
            rates.setdefault(rate, (rate, position, name))
        return LengthTally(self.clips + other.clips, self.kept + other.kept, longest, first_kept,
                           tuple(sorted(rates.values(), key=lambda entry: entry[1])))

    def check_rates(self, config: Config) -> None:
        """Raise :class:`SampleRateError` if clips have different rates and the config does not
        resample them; the message names the first clip and the first clip of another rate."""
        if config.sample_rate_hz is None and len(self.rates) > 1:
            (first_rate, _, first_name), (rate, _, name) = self.rates[:2]
            raise SampleRateError(
                f"{name}: sample rate {rate} Hz differs from {first_rate} Hz of {first_name} "
                "(resample every clip with sample_rate_hz=...)"
            )

    def target(self, config: Config) -> tuple[int, int, str | None]:
        """``(target length in samples, sample rate in Hz, longest clip's name)``.

        The name is None when the target was fixed and no clip reaches it.

        Raises:
            SourceError: No clip, or every clip was dropped.
            SampleRateError: See :meth:`check_rates`.
        """
        if not self.clips:
            raise SourceError("no clip to measure")
        self.check_rates(config)
        if self.longest is None:
            raise SourceError(f"every one of the {self.clips} clips was dropped as silent")
        length, _, name = self.longest
        if config.target_length_samples is not None:
            target = config.target_length_samples
            name = name if length == target else None
        else:
            target = length
        return int(target), int(self.first_kept[1]), name

    def measurement(self, config: Config, *, clips: Sequence[ClipOffsets]) -> Measurement:
        """The :class:`Measurement` of ``clips`` (in input order), whose tally this is."""
        target, rate, longest = self.target(config)
        return Measurement(target_length_samples=target, sample_rate_hz=rate, longest=longest, clips=tuple(clips))


def _named_paths(clips) -> list[tuple[str, str]]:
    if hasattr(clips, "columns"):
        return [(str(name), str(path)) for name, path in zip(clips["clip_name"], clips["path"])]
    return [(str(path), str(path)) for path in clips]


def _progress(results: Iterable, total: int, enabled: bool) -> Iterable:
    if not enabled:
        return results
    from tqdm.auto import tqdm

    return tqdm(results, total=total, desc="measure", unit="clip")
