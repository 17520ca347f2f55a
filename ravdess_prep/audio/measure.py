"""The global length: each clip's trim offsets (:func:`measure_file`) and the length every
clip is padded to (:class:`Target`), decided by a :class:`LengthTally` of every clip.

Only offsets are kept (a few integers per clip), never audio, so peak memory does not grow
with the number of clips. Tallies of parts add up in any order, so the maximum is one
associative combine: a loop in the default executor, one global combine on Apache Beam.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Iterable

import numpy as np

from ..exceptions import SampleRateError, SourceError, option
from .io import check_complete, load_at_rate, read_audio
from .pad import CROPPED, too_long_policy
from .trim import SILENT_DECISIONS, TrimRule, scan_rolling_offsets, silent_policy


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
        silent: What the silent-clip policy decided of a clip without active sample
            (``"kept"`` whole or ``"dropped"``; see :func:`ravdess_prep.audio.trim.silent_policy`),
            None for a clip with sound.
        cropped: Whether the too-long policy centre-crops it.
        active_channels: For a clip silent in its chosen channel, the other channels (1-based)
            that are not silent.
    """

    name: str
    path: str
    source_sample_rate_hz: int
    sample_rate_hz: int
    num_samples: int
    start: int
    end: int
    silent: str | None = None
    cropped: bool = False
    active_channels: tuple[int, ...] = ()

    @property
    def trimmed_length_samples(self) -> int:
        return self.end - self.start

    @property
    def dropped(self) -> bool:
        return self.silent == "dropped"

    @property
    def handled(self) -> str | None:
        """What the policies did, in words (None: nothing), for reports and ``metadata.csv``."""
        parts = []
        if self.silent is not None:
            parts.append(SILENT_DECISIONS[self.silent] + (f"; {channels_note(self.active_channels)}"
                                                          if self.active_channels else ""))
        if self.cropped:
            parts.append(CROPPED)
        return "; ".join(parts) or None


@dataclasses.dataclass(frozen=True)
class Target:
    """The global decision of a build: the length every clip is padded to.

    Attributes:
        length_samples: The target length, at ``sample_rate_hz``.
        sample_rate_hz: The collection's sample rate.
        longest: Name of the clip with the maximum trimmed length (None when the target was fixed
            and no clip reaches it).
    """

    length_samples: int
    sample_rate_hz: int
    longest: str | None = None

    @property
    def length_seconds(self) -> float:
        return self.length_samples / self.sample_rate_hz


@dataclasses.dataclass(frozen=True)
class Measurement:
    """The result of the measure pass.

    Attributes:
        target: The length every clip is padded to.
        clips: One entry per input clip, in input order (dropped clips included, marked).
    """

    target: Target
    clips: tuple[ClipOffsets, ...]

    @property
    def handled(self) -> tuple[ClipOffsets, ...]:
        """The clips a policy acted on."""
        return tuple(clip for clip in self.clips if clip.handled is not None)

    @property
    def kept(self) -> tuple[ClipOffsets, ...]:
        """The clips that go on to padding."""
        return tuple(clip for clip in self.clips if not clip.dropped)


def clip_offsets(
    samples: np.ndarray,
    sample_rate_hz: int,
    *,
    name: str,
    path: str = "",
    source_sample_rate_hz: int | None = None,
    trim_rule: TrimRule = TrimRule(),
    on_silent: str = "keep",
    target_length_samples: int | None = None,
    on_too_long: str = "error",
) -> ClipOffsets:
    """Trim offsets of one clip, with the silent-clip and too-long policies applied.

    Args:
        samples: float array of shape ``(num_samples,)`` at ``sample_rate_hz``.
        sample_rate_hz: Its rate.
        name: The clip's name, for reports and errors.
        path: The clip's file.
        source_sample_rate_hz: The file's own rate, when the samples were resampled.
        trim_rule: The trimming rule.
        on_silent: See :func:`ravdess_prep.audio.trim.silent_policy`.
        target_length_samples: A fixed target length (None: measured).
        on_too_long: See :func:`ravdess_prep.audio.pad.too_long_policy`.

    Returns:
        The clip's :class:`ClipOffsets`.

    Raises:
        SilentClipError: No active sample and ``on_silent="error"``.
        ClipTooLongError: Longer than a fixed target and ``on_too_long="error"``.
    """
    return _decide(trim_rule.offsets(samples), name=name, path=path, sample_rate_hz=sample_rate_hz,
                   source_sample_rate_hz=source_sample_rate_hz, num_samples=int(samples.size), method=trim_rule.method,
                   on_silent=on_silent, target_length_samples=target_length_samples, on_too_long=on_too_long)


def _decide(offsets, *, name, path, sample_rate_hz, source_sample_rate_hz, num_samples, method, on_silent,
            target_length_samples, on_too_long, active_channels=()) -> ClipOffsets:
    """:func:`clip_offsets` after the trim: the silent-clip and too-long policies
    (``active_channels``: the other channels of a silent clip that are not silent)."""
    start, end, silent = silent_policy(offsets, num_samples=num_samples, on_silent=on_silent, name=name,
                                       method=method, note=channels_note(active_channels, hint=True))
    cropped = target_length_samples is not None and silent != "dropped" and too_long_policy(
        end - start, target_length_samples=target_length_samples, on_too_long=on_too_long, name=name)
    return ClipOffsets(name=name, path=path, source_sample_rate_hz=source_sample_rate_hz or sample_rate_hz,
                       sample_rate_hz=sample_rate_hz, num_samples=num_samples, start=start, end=end, silent=silent,
                       cropped=cropped, active_channels=tuple(active_channels) if silent is not None else ())


def measure_file(
    path: str | os.PathLike,
    *,
    name: str,
    trim_rule: TrimRule = TrimRule(),
    sample_rate_hz: int | None = None,
    on_silent: str = "keep",
    target_length_samples: int | None = None,
    on_too_long: str = "error",
    channel: str = "first",
) -> ClipOffsets:
    """Read one file and return its :class:`ClipOffsets` (see :func:`clip_offsets`).

    Args:
        path: The audio file.
        name: The clip's name.
        sample_rate_hz: Resample the file to this rate before trimming (None: its own rate).
        trim_rule, on_silent, target_length_samples, on_too_long: See :func:`clip_offsets`.
        channel: Which channel of a multichannel file (see :func:`ravdess_prep.audio.io.mono`). A
            clip silent in it while another channel is not gets a note saying so.

    The file must hold every sample its header announces (:func:`ravdess_prep.audio.io.check_complete`).
    Under the rolling rule, an 8-, 16- or 24-bit PCM file that is not resampled is not decoded
    whole: :func:`ravdess_prep.audio.trim.scan_rolling_offsets` reads its edges, up to the first and
    the last active window, and finds the same offsets.
    """
    check_complete(path)
    scanned = None
    if trim_rule.method == "rolling" and channel == "first":
        scanned = scan_rolling_offsets(path, window_samples=trim_rule.window_samples, threshold=trim_rule.threshold,
                                       resample_to_hz=sample_rate_hz)
    if scanned is not None:
        offsets, num_samples, rate = scanned
        source_rate = rate
    else:
        samples, rate, source_rate = load_at_rate(path, sample_rate_hz=sample_rate_hz, channel=channel)
        offsets, num_samples = trim_rule.offsets(samples), int(samples.size)
    return _decide(offsets, name=name, path=str(path), sample_rate_hz=rate, source_sample_rate_hz=source_rate,
                   num_samples=num_samples, method=trim_rule.method, on_silent=on_silent,
                   target_length_samples=target_length_samples, on_too_long=on_too_long,
                   active_channels=() if offsets is not None else _active_channels(path, trim_rule, channel))


def _active_channels(path, trim_rule: TrimRule, channel: str) -> tuple[int, ...]:
    """For a clip silent in its chosen channel: the other channels (1-based) that are not silent."""
    samples, _ = read_audio(path)
    if samples.shape[1] < 2 or channel == "mean":
        return ()
    return tuple(index + 1 for index in range(1, samples.shape[1]) if trim_rule.offsets(samples[:, index]) is not None)


def channels_note(active_channels: tuple[int, ...], *, hint: bool = False) -> str | None:
    """What a clip silent in its first channel has in others (None: nothing), with the setting
    that takes every channel when ``hint``."""
    if not active_channels:
        return None
    note = f"silent in channel 1 but not in channel {', '.join(map(str, active_channels))}"
    return f"{note} ({option('channel', 'mean')} takes every channel)" if hint else note


@dataclasses.dataclass(frozen=True)
class LengthTally:
    """What the target length depends on, summed over any set of clips.

    Tallies of parts add up, in any order and grouping, to the tally of the whole, so the
    maximum is one associative combine: a loop here, a global combine on Apache Beam (see
    :mod:`ravdess_prep.build.beam`). Clips are identified by their position in the input, so ties
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

    def __add__(self, other: "LengthTally") -> "LengthTally":
        """The tally of both parts (``first + second``)."""
        longest = max((t for t in (self.longest, other.longest) if t is not None), default=None)
        first_kept = min((t for t in (self.first_kept, other.first_kept) if t is not None), default=None)
        rates = {}
        for rate, position, name in sorted(self.rates + other.rates, key=lambda entry: entry[1]):
            rates.setdefault(rate, (rate, position, name))
        return LengthTally(self.clips + other.clips, self.kept + other.kept, longest, first_kept,
                           tuple(sorted(rates.values(), key=lambda entry: entry[1])))

    def check_rates(self, *, sample_rate_hz: int | None = None) -> None:
        """Raise :class:`SampleRateError` if clips have different rates and they are not
        resampled (``sample_rate_hz`` None); the message names the first clip and the first clip
        of another rate."""
        if sample_rate_hz is None and len(self.rates) > 1:
            (first_rate, _, first_name), (rate, _, name) = self.rates[:2]
            raise SampleRateError(
                f"{name}: sample rate {rate} Hz differs from {first_rate} Hz of {first_name} "
                f"(resample every clip with {option('sample_rate_hz', first_rate)})"
            )

    def target(self, *, target_length_samples: int | None = None, sample_rate_hz: int | None = None) -> Target:
        """The :class:`Target` of the clips tallied.

        Args:
            target_length_samples: A fixed target (None: the longest kept clip's length).
            sample_rate_hz: The rate clips are resampled to (None: none; see :meth:`check_rates`).

        Raises:
            SourceError: No clip, or every clip was dropped.
            SampleRateError: See :meth:`check_rates`.
        """
        if not self.clips:
            raise SourceError("no clip to measure")
        self.check_rates(sample_rate_hz=sample_rate_hz)
        if self.longest is None:
            raise SourceError(f"every one of the {self.clips} clips was dropped as silent")
        length, _, name = self.longest
        if target_length_samples is not None:
            target = target_length_samples
            name = name if length == target else None
        else:
            target = length
        return Target(int(target), int(self.first_kept[1]), name)


def tally_in_order(offsets: Iterable[ClipOffsets], *, sample_rate_hz: int | None = None) -> tuple[LengthTally, list]:
    """The tally of clips measured in input order, and the clips; a clip of another rate fails
    at once (when clips are not resampled), naming it and the first clip."""
    tally, clips = LengthTally(), []
    for position, clip in enumerate(offsets):
        tally = tally + LengthTally.of(clip, position=position)
        tally.check_rates(sample_rate_hz=sample_rate_hz)
        clips.append(clip)
    return tally, clips
