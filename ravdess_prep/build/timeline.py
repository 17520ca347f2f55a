"""The rows of a recording's windows: each voiced window embedded as a file holding exactly
its samples would be, with the settings of a dataset (or an embedder's own).

A window is resampled to the settings' rate if the file has another, trimmed by the trim rule
(a window whose active part is missing or shorter than :data:`MIN_VOICE_S` is unvoiced: not
embedded), centre-padded to the target and run through the model in batches across windows:
its row is the row :meth:`ravdess_prep.embedding.Embedding.process_signal` gives its samples,
to the rounding of batching. Without a dataset, the target is the window itself.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from typing import Callable, Iterator

import numpy as np

from ..audio.measure import Target
from ..audio.resample import resample
from ..audio.windows import BLOCK_WINDOWS, WindowBlock, audio_length, check_window_seconds, read_windows
from ..config import Config
from ..dataset.manifest import Manifest
from ..embedders import Embedder, ModelFiles
from ..embedders.outputs import clip_frame_spans
from ..exceptions import ParameterError, option
from . import steps
from .inference import ModelSession, PreparedClip, clip_examples, model_outputs
from .recipe import ClipRecipe

_log = logging.getLogger("ravdess_prep")
#: The shortest active part that makes a window voiced, in seconds (a click is not a voice).
MIN_VOICE_S = 0.1
#: How the caller hands over the loaded model of an embedder.
SessionOf = Callable[[Embedder], ModelSession]


@dataclasses.dataclass(frozen=True)
class WindowRows:
    """Successive windows of one file and the rows of those with a voice.

    Attributes:
        file: The file, as given.
        starts_s, ends_s: Each window's start and end in seconds, float64 ``(windows,)``.
        voiced: Whether the trim rule found a voice in it, bool ``(windows,)``.
        rows: The voiced windows' rows, float32 ``(voiced windows, *row shape)``.
        trimmed_samples: Each voiced window's length after trimming, at the working rate.
    """

    file: str
    starts_s: np.ndarray
    ends_s: np.ndarray
    voiced: np.ndarray
    rows: np.ndarray
    trimmed_samples: np.ndarray

    def __len__(self) -> int:
        return int(self.voiced.size)


@dataclasses.dataclass(frozen=True)
class WindowSettings:
    """How windows are cut and embedded: the settings (a dataset's, its target fixed, or an
    embedder's own), the model's files, the window and the hop."""

    config: Config
    files: ModelFiles
    window_s: float
    hop_s: float
    block_windows: int = BLOCK_WINDOWS

    @property
    def standalone(self) -> bool:
        """No dataset: each window is its own target."""
        return self.config.target_length_samples is None

    def check(self) -> None:
        """Refuse a window the settings cannot embed (before any file is read).

        Raises:
            ParameterError: A window or hop that is not a positive number of seconds, a window
                longer than the dataset's target (unless its clips are cropped), or one too short
                for the embedder (its minimum named).
        """
        config = self.config
        maximum = None
        if not self.standalone and config.on_too_long == "error":
            maximum = config.target_length_samples / config.sample_rate_hz
        check_window_seconds(window_s=self.window_s, hop_s=self.hop_s, minimum_s=minimum_window_s(config),
                             maximum_s=maximum, maximum_what="the length the dataset pads every clip to (its "
                             "longest clip): give a shorter window, or crop longer windows with "
                             f"{option('on_too_long', 'crop')}")

    def recipe(self, sample_rate_hz: int) -> ClipRecipe:
        """The recipe of a file at ``sample_rate_hz``'s windows: the dataset's target, or the window."""
        config = self.config
        if self.standalone:
            target = Target(max(1, round(self.window_s * sample_rate_hz)), sample_rate_hz)
        else:
            target = Target(config.target_length_samples, config.sample_rate_hz)
        return steps.recipe(config, target, self.files)


def minimum_window_s(config: Config) -> float:
    """The shortest window the settings embed: the trim rule's window, and, for an embedder that
    pads without a dataset (each window its own target), one example's length."""
    rate = config.sample_rate_hz or 16000
    shortest = config.trim_window_samples / rate
    embedder = config.embedder
    if embedder.pads and config.target_length_samples is None and embedder.sample_rate_hz:
        model_rate = embedder.sample_rate_hz
        low, high = 1, 60 * model_rate
        while low < high:  # the fewest samples that give one example
            middle = (low + high) // 2
            if embedder.num_examples(middle, sample_rate_hz=model_rate) >= 1:
                high = middle
            else:
                low = middle + 1
        shortest = max(shortest, low / model_rate)
    return shortest


def dataset_window_s(dataset: str | os.PathLike) -> float:
    """The window a dataset suggests: the length it pads every clip to (its longest clip after
    trimming), rounded down to a tenth of a second, so that a window holds the longest of its
    clips, as its model saw them.

    Raises:
        ManifestError: The folder is not a dataset.
    """
    target = Manifest.read(dataset).target
    return max(0.1, math.floor(10 * target.length_samples / target.sample_rate_hz) / 10)


def file_windows(path: str | os.PathLike, settings: WindowSettings, *, session_of: SessionOf) -> Iterator[WindowRows]:
    """The windows of one file and their rows, a block at a time (see the module docstring).

    Args:
        path: An audio file of any length.
        settings: The windows and how they are embedded.
        session_of: The loaded model of an embedder (kept open by the caller).

    Raises:
        AudioError: The file is missing, unreadable or cut short; named.
        ClipTooLongError: A trimmed window longer than the target under the ``error`` policy.
    """
    config = settings.config
    length = audio_length(path)
    if length.seconds < settings.window_s:
        _log.info("%s: %.2f s long, shorter than the %g s window: one window, the whole file", path, length.seconds,
                  settings.window_s)
    rate = config.sample_rate_hz or length.sample_rate_hz
    recipe = settings.recipe(length.sample_rate_hz if settings.standalone else rate)
    rule = config.trim_rule()
    for block in read_windows(path, window_s=settings.window_s, hop_s=settings.hop_s, channel=config.channel,
                              block_windows=settings.block_windows):
        yield embed_block(block, recipe=recipe, rule=rule, rate=rate, session_of=session_of,
                          on_too_long=config.on_too_long, name=str(path))


def embed_block(block: WindowBlock, *, recipe: ClipRecipe, rule, rate: int, session_of: SessionOf,
                on_too_long: str = "error", name: str = "file") -> WindowRows:
    """One block's windows: each resampled to ``rate``, trimmed by ``rule``, its examples made
    with ``recipe`` and run with the model ``session_of`` gives (batches across the block's
    windows; asked for only when a window has a voice). A window of digital silence is
    unvoiced at once."""
    voiced = np.zeros(len(block.samples), bool)
    trimmed, prepared = [], []
    silent_example = recipe.front_end.silent_example()
    for index, samples in enumerate(block.samples):
        if not samples.any():
            continue
        if rate != block.sample_rate_hz:
            samples = resample(samples, from_hz=block.sample_rate_hz, to_hz=rate)
        offsets = rule.offsets(samples)
        if offsets is None or offsets[1] - offsets[0] < MIN_VOICE_S * rate:
            continue
        voiced[index] = True
        sound = samples[offsets[0] : offsets[1]]
        trimmed.append(sound.size)
        where = f"{name} at {block.starts_s[index]:.2f}-{block.ends_s[index]:.2f} s"
        examples = clip_examples(sound, embedder=recipe.front_end, sample_rate_hz=rate,
                                 target_length_samples=recipe.target.length_samples, on_too_long=on_too_long,
                                 name=where)
        silent = None
        if silent_example is not None:
            silent = np.all(examples == silent_example, axis=tuple(range(1, examples.ndim)))
            examples = examples[~silent]
        prepared.append(PreparedClip(str(index), "", examples, silent))
    outputs = {}
    if prepared:
        for clip, output, _ in model_outputs(prepared, embedder=recipe.embedder,
                                             session=session_of(recipe.embedder), open_session=_no_session):
            outputs[clip.name] = output
    ordered = [outputs[clip.name] for clip in prepared]
    rows = (recipe.rows(np.stack(ordered)).astype(np.float32) if ordered
            else np.zeros((0,) + row_shape(recipe), np.float32))
    return WindowRows(name, block.starts_s, block.ends_s, voiced, rows, np.asarray(trimmed, np.int64))


def row_shape(recipe: ClipRecipe) -> tuple[int, ...]:
    """The shape of one window's row."""
    return tuple(recipe.rows(np.zeros((1,) + recipe.clip_shape, np.float32)).shape[1:])


def window_frames(rows: WindowRows, target: Target, *, embedder: Embedder) -> np.ndarray:
    """Each voiced window's own frames among those of its input padded to ``target`` (for heads
    that read frames; see :func:`ravdess_prep.embedders.outputs.clip_frame_spans`)."""
    return clip_frame_spans(rows.trimmed_samples, target_length_samples=target.length_samples,
                            sample_rate_hz=target.sample_rate_hz, model_rate_hz=embedder.sample_rate_hz,
                            frames_of=lambda samples: embedder.num_examples(samples,
                                                                            sample_rate_hz=embedder.sample_rate_hz))


def _no_session() -> ModelSession:
    raise ParameterError("no model session to run the windows with")  # a session is always given
