"""Emotion over time: a trained model's class probabilities for every voiced window of a
recording of any length.

Windows are embedded as the dataset's clips were (:mod:`ravdess_prep.build.timeline`), a block at a time, and
scored at once; nothing grows with the file's length but the table of probabilities. A model
trained with speaker normalisation standardises the windows with the statistics of an
enrolment (recordings of the speaker, given to :class:`ravdess_prep.predict.EmotionModel`),
or else with those of the file's own voiced windows: then the rows wait in a temporary file
on disk until the statistics are known (two passes over them, one over the audio).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path
import numpy as np

from ..evaluation.speaker_norm import reduced_axes, standardise
from ..predict import EmotionModel
from ..build.timeline import WindowSettings, file_windows, window_frames
from ..audio.windows import audio_length

#: How a timeline's windows were standardised, by case (the ``normalised_by`` of its record).
NOT_NORMALISED = "none (the model was trained without speaker normalisation)"


@dataclasses.dataclass(frozen=True)
class Timeline:
    """A file's windows and the emotion of each voiced one.

    Attributes:
        file: The file, as given.
        starts_s, ends_s: Each window's start and end in seconds, float64 ``(windows,)``.
        voiced: Whether a voice was found in it (unvoiced windows are not labelled).
        probabilities: float32 ``(windows, classes)``, NaN for unvoiced windows.
        class_names: Each class's name.
        normalised_by: Where the speaker statistics came from, in words.
    """

    file: str
    starts_s: np.ndarray
    ends_s: np.ndarray
    voiced: np.ndarray
    probabilities: np.ndarray
    class_names: tuple[str, ...]
    normalised_by: str = NOT_NORMALISED

    @property
    def labels(self) -> list[str | None]:
        """Each window's most probable class (None where unvoiced)."""
        return [self.class_names[int(row.argmax())] if voiced else None
                for row, voiced in zip(self.probabilities, self.voiced)]

    def __len__(self) -> int:
        return int(self.voiced.size)


class _Moments:
    """Mean and variance over rows given a block at a time (Chan et al.'s pairwise update, in
    float64), over the axes a speaker's statistics reduce."""

    def __init__(self, reduce: tuple[int, ...]):
        self.reduce, self.count, self.mean, self.m2 = reduce, 0, None, None

    def add(self, rows: np.ndarray) -> None:
        rows = rows.astype(np.float64)
        count = int(np.prod([rows.shape[axis] for axis in self.reduce]))
        if count == 0:
            return
        mean = rows.mean(axis=self.reduce, keepdims=True)
        m2 = ((rows - mean) ** 2).sum(axis=self.reduce, keepdims=True)
        if self.mean is None:
            self.count, self.mean, self.m2 = count, mean, m2
            return
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * count / total
        self.m2 = self.m2 + m2 + delta**2 * self.count * count / total
        self.count = total

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / self.count)


def timeline(path: str | os.PathLike, model: EmotionModel, *, window_s: float, hop_s: float) -> Timeline:
    """The emotion of every voiced window of ``path`` (see the module docstring).

    Raises:
        ParameterError: See :meth:`ravdess_prep.build.timeline.WindowSettings.check`.
        AudioError: The file is missing, unreadable or cut short; named.
    """
    settings = WindowSettings(model.embedding.config, model.embedding.files, window_s=window_s, hop_s=hop_s)
    settings.check()
    rate = audio_length(path).sample_rate_hz
    target = settings.recipe(rate).target if model.head.uses_frames else None  # where a window's frames lie
    blocks = file_windows(path, settings, session_of=model.embedding.session_for)
    own = model.speaker_norm and model.reference is None
    if model.speaker_norm and not own:
        normalised_by = f"the enrolment of {len(model.enrol)} recordings of the speaker"
    parts, waiting = [], []
    with tempfile.TemporaryDirectory(prefix="ravdess-prep-windows-") as folder:
        moments = None
        for number, block in enumerate(blocks):
            inputs = model.inputs(block.rows, frames=None if target is None else
                                  window_frames(block, target, embedder=settings.config.embedder))
            block = dataclasses.replace(block, rows=block.rows[:0])  # its times kept, not its rows
            if own:
                moments = moments or _Moments(reduced_axes(model.input_axes))
                moments.add(inputs)
                waiting.append(_set_aside(inputs, Path(folder) / f"{number}.npy"))
                parts.append((block, None))
                continue
            inputs = model.standardised(inputs)  # the enrolment's statistics, where the model wants them
            parts.append((block, model.probabilities(inputs) if len(inputs) else None))
        if own:
            voiced = sum(int(block.voiced.sum()) for block, _ in parts)
            normalised_by = f"the file's own {voiced} voiced windows (transductive: the scored windows included)"
            parts = [(block, model.probabilities(standardise(np.load(stored), mean=moments.mean, std=moments.std)
                                                 .astype(np.float32)) if block.voiced.any() else None)
                     for (block, _), stored in zip(parts, waiting)]
    classes = model.class_names(_classes(parts))
    return Timeline(str(path), *_joined(parts, classes=len(classes)), class_names=classes,
                    normalised_by=normalised_by if model.speaker_norm else NOT_NORMALISED)


def _set_aside(inputs: np.ndarray, path: Path) -> Path:
    np.save(path, inputs, allow_pickle=False)
    return path


def _classes(parts) -> int:
    return next((probabilities.shape[1] for _, probabilities in parts if probabilities is not None), 0)


def _joined(parts, *, classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Starts, ends, voiced and probabilities (NaN where unvoiced) of every block, in order."""
    starts = np.concatenate([block.starts_s for block, _ in parts]) if parts else np.zeros(0)
    ends = np.concatenate([block.ends_s for block, _ in parts]) if parts else np.zeros(0)
    voiced = np.concatenate([block.voiced for block, _ in parts]) if parts else np.zeros(0, bool)
    probabilities = np.full((voiced.size, classes), np.nan, np.float32)
    at = 0
    for block, scored in parts:
        if scored is not None:
            probabilities[at + np.flatnonzero(block.voiced)] = scored
        at += len(block)
    return starts, ends, voiced, probabilities
