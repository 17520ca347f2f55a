"""Silence trimming: where a clip's sound starts and ends.

The default rule is the original project's: a rolling window of ``window_samples`` samples
ends at every index ``i >= window_samples - 1``; its *signed* sum is active where its absolute
value exceeds ``threshold``; with ``a`` the first and ``b`` the last active index, the trimmed
clip is ``samples[a : b + window_samples]`` (a Python slice, so the end is clipped to the clip).
An energy rule (librosa's ``effects.trim`` with ``top_db``) is the alternative.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from ..exceptions import AudioError, ParameterError, SilentClipError, option
from .io import empty_message, open_audio, unreadable_message

TRIM_METHODS = ("rolling", "energy")
SILENT_POLICIES = ("keep", "drop", "error")
#: What the silent-clip policy decided, by decision (``"kept"``, ``"dropped"``), for reports.
SILENT_DECISIONS = {"kept": "no active sample: kept whole", "dropped": "no active sample: dropped"}
KEPT_SILENT = SILENT_DECISIONS["kept"]
DROPPED_SILENT = SILENT_DECISIONS["dropped"]


@dataclasses.dataclass(frozen=True)
class TrimRule:
    """A trimming rule and the parameters of every rule (its method's go to :func:`trim_offsets`).

    Attributes:
        method: ``"rolling"`` (the original's rule) or ``"energy"`` (librosa, ``top_db``).
        window_samples: Rolling rule: window length in samples.
        threshold: Rolling rule: threshold on the absolute signed window sum.
        top_db: Energy rule: silence threshold below the peak, in dB.
        frame_length_samples: Energy rule: frame length in samples.
        hop_length_samples: Energy rule: hop in samples.
    """

    method: str = "rolling"
    window_samples: int = 50
    threshold: float = 0.01
    top_db: float = 60.0
    frame_length_samples: int = 2048
    hop_length_samples: int = 512

    def offsets(self, samples: np.ndarray) -> tuple[int, int] | None:
        """:func:`trim_offsets` of ``samples`` under this rule (its method's parameters)."""
        return trim_offsets(samples, method=self.method, **{name: getattr(self, name)
                                                            for name in RULE_PARAMETERS.get(self.method, ())})


def rolling_trim_offsets(
    samples: np.ndarray, *, window_samples: int = 50, threshold: float = 0.01
) -> tuple[int, int] | None:
    """The original project's trim: offsets of the active part of a clip.

    Args:
        samples: float array of shape ``(num_samples,)``, values in [-1, 1].
        window_samples: Length of the rolling window.
        threshold: A window is active where ``|sum of its samples| > threshold``.

    Returns:
        ``(start, end)`` such that ``samples[start:end]`` is the trimmed clip, or None when no
        window is active (a silent clip, or one shorter than a window).

    Raises:
        ParameterError: ``samples`` is not one-dimensional, or a parameter is out of range.
    """
    samples = _mono(samples)
    if window_samples < 1:
        raise ParameterError(f"window_samples has to be at least 1, not {window_samples}")
    if threshold < 0:
        raise ParameterError(f"threshold has to be non-negative, not {threshold}")
    ends = active_window_ends(samples, window_samples=window_samples, threshold=threshold)
    if ends is None:
        return None
    first, last = ends
    return first, min(last + window_samples, samples.size)


def active_window_ends(samples: np.ndarray, *, window_samples: int, threshold: float) -> tuple[int, int] | None:
    """The rolling rule's core: the end indices of the first and the last active window.

    The window ending at index ``i`` (``i >= window_samples - 1``) is active where the absolute
    value of its signed sum exceeds ``threshold``.

    Args:
        samples: float array of shape ``(num_samples,)``.
        window_samples: Window length (at least 1).
        threshold: Activity threshold.

    Returns:
        ``(a, b)``, the indices where the first and the last active windows end, or None.
    """
    if samples.size < window_samples:
        return None
    # Cumulative sums of float64 samples that are multiples of 2**-15 (16-bit audio) are exact,
    # so these window sums equal the sums of the samples, bit for bit.
    cumulative = np.concatenate(([0.0], np.cumsum(samples, dtype=np.float64)))
    window_sums = cumulative[window_samples:] - cumulative[:-window_samples]
    active = np.flatnonzero(np.abs(window_sums) > threshold)
    if active.size == 0:
        return None
    # window_sums[k] is the window ending at index k + window_samples - 1.
    return int(active[0]) + window_samples - 1, int(active[-1]) + window_samples - 1


def energy_trim_offsets(
    samples: np.ndarray,
    *,
    top_db: float = 60.0,
    frame_length_samples: int = 2048,
    hop_length_samples: int = 512,
) -> tuple[int, int] | None:
    """Energy-based trim (librosa's ``effects.trim``): offsets of the part above ``-top_db``.

    Args:
        samples: float array of shape ``(num_samples,)``.
        top_db: Frames quieter than the loudest frame by more than this many dB are silence.
        frame_length_samples: Analysis frame length.
        hop_length_samples: Analysis hop.

    Returns:
        ``(start, end)``, or None when every frame is silent.
    """
    import librosa

    samples = _mono(samples)
    if top_db <= 0:
        raise ParameterError(f"top_db has to be positive, not {top_db}")
    if not np.any(samples):
        return None
    _, (start, end) = librosa.effects.trim(
        samples, top_db=top_db, frame_length=frame_length_samples, hop_length=hop_length_samples
    )
    if end <= start:
        return None
    return int(start), int(end)


def trim_offsets(samples: np.ndarray, *, method: str = "rolling", **parameters) -> tuple[int, int] | None:
    """Offsets of the active part of a clip under the chosen rule (see the module docstring).

    Args:
        samples: float array of shape ``(num_samples,)``.
        method: ``"rolling"`` (the original's rule, :func:`rolling_trim_offsets`) or
            ``"energy"`` (:func:`energy_trim_offsets`).
        **parameters: The rule's own keyword arguments (its defaults where left out).

    Returns:
        ``(start, end)``, or None when the clip has no active part.

    Raises:
        ParameterError: Unknown method, a parameter the rule does not have, or one out of range.
    """
    rule = RULES.get(method)
    if rule is None:
        raise ParameterError(f"method has to be one of {', '.join(TRIM_METHODS)}, not {method!r}")
    unknown = sorted(set(parameters) - set(RULE_PARAMETERS[method]))
    if unknown:
        raise ParameterError(f"{unknown[0]} is not a parameter of the {method} trim rule (its parameters: "
                             f"{', '.join(RULE_PARAMETERS[method])})")
    return rule(samples, **parameters)


#: Each rule's function, and the parameters it takes.
RULES = {"rolling": rolling_trim_offsets, "energy": energy_trim_offsets}
RULE_PARAMETERS = {"rolling": ("window_samples", "threshold"),
                   "energy": ("top_db", "frame_length_samples", "hop_length_samples")}


def trim(samples: np.ndarray, **rule) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Trim a clip; a clip without active part is returned whole.

    Args:
        samples: float array of shape ``(num_samples,)``.
        **rule: Keyword arguments of :func:`trim_offsets`.

    Returns:
        ``(trimmed, offsets)``: the trimmed samples and the ``(start, end)`` offsets, or the
        samples unchanged and None when the clip has no active part.
    """
    offsets = trim_offsets(samples, **rule)
    if offsets is None:
        return samples, None
    start, end = offsets
    return samples[start:end], offsets


def _mono(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ParameterError(f"samples have to be one-dimensional, not of shape {samples.shape}")
    return samples


def silent_policy(offsets: tuple[int, int] | None, *, num_samples: int, on_silent: str = "keep",
                  name: str = "clip", method: str = "rolling", note: str | None = None) -> tuple[int, int, str | None]:
    """What happens to a clip whose trim found ``offsets`` (None: no active sample).

    Args:
        note: More about a silent clip (for example, another channel is not silent), added to
            the error.

    Returns:
        ``(start, end, decision)``: the offsets, or the whole clip ``(0, num_samples)`` for a
        silent one, and None or what the policy decided: ``"kept"`` or ``"dropped"`` (see
        :data:`SILENT_DECISIONS`).

    Raises:
        SilentClipError: No active sample and ``on_silent="error"``; the message names the clip
            and the options that keep or drop it.
    """
    if on_silent not in SILENT_POLICIES:
        raise ParameterError(f"{option('on_silent')} has to be one of {', '.join(SILENT_POLICIES)}, not {on_silent!r}")
    if offsets is not None:
        return int(offsets[0]), int(offsets[1]), None
    if on_silent == "error":
        more = f"; {note}" if note else ""
        raise SilentClipError(
            f"{name}: no active sample under the {method} trim rule{more} (keep it whole with "
            f"{option('on_silent', 'keep')}, or drop it with {option('on_silent', 'drop')})"
        )
    return 0, int(num_samples), "kept" if on_silent == "keep" else "dropped"


# Subtypes whose samples are multiples of 2**-15 or 2**-23: every window sum is exact whichever
# samples it is computed from, so sums over a block equal sums over the whole clip.
EXACT_SUM_SUBTYPES = frozenset({"PCM_S8", "PCM_U8", "PCM_16", "PCM_24"})
SCAN_BLOCK_SAMPLES = 16384


def scan_rolling_offsets(
    path: str | os.PathLike, *, window_samples: int = 50, threshold: float = 0.01,
    resample_to_hz: int | None = None, block_samples: int = SCAN_BLOCK_SAMPLES,
) -> tuple[tuple[int, int] | None, int, int] | None:
    """The rolling rule's trim offsets of a file, decoding only its edges.

    Blocks are read from the start until one holds an active window, then from the end
    backwards until one does; consecutive blocks overlap by ``window_samples - 1`` samples, so
    every window is seen whole. The silent edges of a clip are usually a third of it.

    Args:
        path: The audio file.
        window_samples: The rolling rule's window.
        threshold: The rolling rule's threshold.
        resample_to_hz: The rate the file would be resampled to before trimming (None: none).
        block_samples: Samples decoded per read.

    Returns:
        ``(offsets, num_samples, sample_rate_hz)`` with ``offsets`` as
        :func:`ravdess_prep.audio.trim.rolling_trim_offsets` gives them for the whole first channel
        (None for a silent clip); or None when the file has to be decoded whole instead (its
        samples are not 8-, 16- or 24-bit PCM, or it is resampled).

    Raises:
        AudioError: The file is unreadable, empty, or shorter than its header says.
    """
    window = window_samples
    with open_audio(path) as stream:
        rate, num_samples = int(stream.samplerate), int(stream.frames)
        if stream.subtype not in EXACT_SUM_SUBTYPES or (resample_to_hz or rate) != rate:
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
