"""Windows over audio of any length: where they fall, which hold a voice, and their samples
read block by block (never the whole file).

A window of ``window_samples`` starts every ``hop_samples``; where the last full window ends
before the file does, one more window is aligned to the file's end, so every sample lies in a
window and every window has the same length. A file shorter than one window is one window,
the whole file. A window holds a voice where the dataset's trim rule finds an active part in
it (:meth:`ravdess_prep.audio.trim.TrimRule.offsets`, the rule that decided where each of the
dataset's clips starts and ends), at least a tenth of a second long (see
:data:`ravdess_prep.build.timeline.MIN_VOICE_S`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Iterator

import numpy as np

from .io import check_complete, check_rate, load_clip, open_audio, truncated_message
from ..exceptions import AudioError, ParameterError, option

#: Windows read and embedded together (bounds memory: about 25 MB of 48 kHz samples at a 1 s hop).
BLOCK_WINDOWS = 64


def window_starts(num_samples: int, *, window_samples: int, hop_samples: int) -> np.ndarray:
    """The first sample of every window, int64 ``(windows,)`` (see the module docstring).

    Raises:
        ParameterError: A window or hop of less than one sample, or no sample.
    """
    if window_samples < 1 or hop_samples < 1:
        raise ParameterError(f"a window of {window_samples} and a hop of {hop_samples} samples: both have to be at "
                             "least one sample")
    if num_samples < 1:
        raise ParameterError("no sample to cut into windows")
    if num_samples <= window_samples:
        return np.zeros(1, np.int64)
    starts = np.arange(0, num_samples - window_samples + 1, hop_samples, dtype=np.int64)
    if starts[-1] + window_samples < num_samples:
        starts = np.append(starts, num_samples - window_samples)
    return starts


def check_window_seconds(*, window_s: float, hop_s: float, minimum_s: float = 0.0, maximum_s: float | None = None,
                         maximum_what: str = "") -> None:
    """Refuse a window or hop that is not a positive, finite number of seconds, a window shorter
    than ``minimum_s``, or one longer than ``maximum_s`` (``maximum_what`` says why).

    Raises:
        ParameterError: Naming the option and the value.
    """
    for name, value in (("window_s", window_s), ("hop_s", hop_s)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ParameterError(f"{option(name, value if isinstance(value, (int, float)) else str(value))} has to be "
                                 "a positive number of seconds")
    if window_s < minimum_s:
        raise ParameterError(f"{option('window_s', window_s)} is shorter than the {minimum_s:g} s the embedder needs "
                             "at least")
    if maximum_s is not None and window_s > maximum_s:
        raise ParameterError(f"{option('window_s', window_s)} is longer than {maximum_s:g} s, {maximum_what}")


@dataclasses.dataclass(frozen=True)
class WindowBlock:
    """Successive windows of one file, read together.

    Attributes:
        starts: First sample of each window, at :attr:`sample_rate_hz` (int64).
        ends: One past its last sample.
        samples: Each window's samples, one channel, float64, as :func:`ravdess_prep.audio.io.load_clip`
            reads them.
        sample_rate_hz: The file's rate.
    """

    starts: np.ndarray
    ends: np.ndarray
    samples: list[np.ndarray]
    sample_rate_hz: int

    @property
    def starts_s(self) -> np.ndarray:
        return self.starts / self.sample_rate_hz

    @property
    def ends_s(self) -> np.ndarray:
        return self.ends / self.sample_rate_hz


@dataclasses.dataclass(frozen=True)
class AudioLength:
    """What a file's header says: its rate and length."""

    sample_rate_hz: int
    num_samples: int

    @property
    def seconds(self) -> float:
        return self.num_samples / self.sample_rate_hz


def audio_length(path: str | os.PathLike) -> AudioLength:
    """A file's rate and length from its header, checked against what it holds (a WAV file
    cut short is named here, before any window is read).

    Raises:
        AudioError: Missing, unreadable, truncated, or holding no sample.
        SampleRateError: A rate the library does not read.
    """
    with open_audio(path) as sound:
        rate, frames = int(sound.samplerate), int(sound.frames)
    check_rate(rate, where=path)
    if frames < 1:
        raise AudioError(f"{path}: the audio file holds no samples")
    check_complete(path)
    return AudioLength(rate, frames)


def read_windows(path: str | os.PathLike, *, window_s: float, hop_s: float, channel: str = "first",
                 block_windows: int = BLOCK_WINDOWS) -> Iterator[WindowBlock]:
    """The windows of a file (see the module docstring), ``block_windows`` at a time, each block
    read on its own: memory grows with the block, not with the file.

    Raises:
        ParameterError: See :func:`check_window_seconds`.
        AudioError: See :func:`audio_length`; a file that ends before its header says, named
            where it ends.
    """
    check_window_seconds(window_s=window_s, hop_s=hop_s)
    length = audio_length(path)
    rate = length.sample_rate_hz
    window, hop = max(1, round(window_s * rate)), max(1, round(hop_s * rate))
    starts = window_starts(length.num_samples, window_samples=window, hop_samples=hop)
    ends = np.minimum(starts + window, length.num_samples)
    for first in range(0, starts.size, block_windows):
        block_starts, block_ends = starts[first : first + block_windows], ends[first : first + block_windows]
        low, high = int(block_starts[0]), int(block_ends.max())
        samples, _ = load_clip(path, start=low, stop=high, channel=channel)
        if samples.size < high - low:
            raise AudioError(truncated_message(path, found=low + samples.size, declared=length.num_samples))
        yield WindowBlock(block_starts, block_ends, [samples[start - low : end - low]
                                                     for start, end in zip(block_starts, block_ends)], rate)
