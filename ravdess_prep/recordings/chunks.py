"""What one chunk of files gives a job: rows or emotions, of whole files or of their windows,
as columns (see :mod:`.jobs`), and the files that failed, each with one line saying why.

Clips are embedded together (the model's batches run across them); a chunk that fails is
embedded again file by file, so that one bad file costs only itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..embedding import Embedding
from ..exceptions import RavdessPrepError
from ..predict import EmotionModel
from .emotion import Timeline, timeline
from .jobs import failure_of
from .tables import EMBEDDING

#: The errors that fail one file and not the job.
FILE_ERRORS = (RavdessPrepError, OSError)


def embed_clips(embedding: Embedding, chunk: Sequence[Path]) -> tuple[dict, list]:
    """Each file's row: ``file`` and ``embedding``."""
    rows, good, failures = _each_or_all(lambda paths: embedding.process_paths([str(path) for path in paths], jobs=1),
                                        chunk)
    if not good:
        return {}, failures
    return {"file": np.asarray([str(path) for path in good], str), EMBEDDING: rows}, failures


def predict_clips(model: EmotionModel, chunk: Sequence[Path]) -> tuple[dict, list]:
    """Each file's emotion: ``file``, ``emotion`` and a ``p_<class>`` column per class. The
    model's speaker statistics are an enrolment's (see :class:`EmotionModel`), if any."""
    def probabilities(paths):
        inputs = model.inputs(model.embedding.process_paths([str(path) for path in paths], jobs=1),
                              frames=model.frames_of_files(paths))
        return model.probabilities(model.standardised(inputs))

    scores, good, failures = _each_or_all(probabilities, chunk)
    if not good:
        return {}, failures
    names = model.class_names(scores.shape[1])
    return {"file": np.asarray([str(path) for path in good], str), **emotion_columns(scores, names)}, failures


def embed_windows(embedding: Embedding, chunk: Sequence[Path], *, window_s: float, hop_s: float) -> tuple[dict, list]:
    """Each window's row: ``file``, ``start_s``, ``end_s``, ``voiced`` and ``embedding`` (NaN
    where unvoiced)."""
    pieces, failures = [], []
    for path in chunk:
        try:
            frame = embedding.process_windows([path], window_s=window_s, hop_s=hop_s)
        except FILE_ERRORS as error:
            failures.append(failure_of(path, error))
            continue
        pieces.append({"file": np.asarray([str(path)] * len(frame), str),
                       "start_s": frame.index.get_level_values("start").total_seconds().to_numpy(),
                       "end_s": frame.index.get_level_values("end").total_seconds().to_numpy(),
                       "voiced": frame["voiced"].to_numpy(bool),
                       EMBEDDING: np.stack(frame[EMBEDDING].to_list()).astype(np.float32)})
    return _joined(pieces), failures


def predict_windows(model: EmotionModel, chunk: Sequence[Path], *, window_s: float, hop_s: float,
                    done: Callable[[Timeline], object] | None = None) -> tuple[dict, list]:
    """Each window's emotion: ``file``, ``start_s``, ``end_s``, ``voiced``, ``emotion`` (empty
    where unvoiced), a ``p_<class>`` column per class (NaN where unvoiced) and
    ``normalised_by``. ``done`` is called with each file's timeline (a plot, say)."""
    pieces, failures = [], []
    for path in chunk:
        try:
            found = timeline(path, model, window_s=window_s, hop_s=hop_s)
        except FILE_ERRORS as error:
            failures.append(failure_of(path, error))
            continue
        if done is not None:
            done(found)
        pieces.append({"file": np.asarray([str(path)] * len(found), str), "start_s": found.starts_s,
                       "end_s": found.ends_s, "voiced": found.voiced,
                       **emotion_columns(found.probabilities, found.class_names),
                       "normalised_by": np.asarray([found.normalised_by] * len(found), str)})
    return _joined(pieces), failures


def emotion_columns(probabilities: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """``emotion`` (the most probable class; empty where a row is NaN) and ``p_<class>``."""
    known = ~np.isnan(probabilities).any(axis=1) if probabilities.size else np.zeros(len(probabilities), bool)
    best = np.where(known, np.nan_to_num(probabilities, nan=-1.0).argmax(axis=1) if len(names) else 0, -1)
    emotions = np.asarray([names[index] if index >= 0 else "" for index in best], str)
    return {"emotion": emotions, **{f"p_{name}": probabilities[:, column].astype(np.float32)
                                    for column, name in enumerate(names)}}


def _each_or_all(run, chunk: Sequence[Path]):
    """``run(chunk)`` for the whole chunk, or, if it fails, file by file: ``(results of the
    files that succeeded, those files, failures)``."""
    try:
        return run(list(chunk)), list(chunk), []
    except FILE_ERRORS as error:
        if len(chunk) == 1:
            return None, [], [failure_of(chunk[0], error)]
    results, good, failures = [], [], []
    for path in chunk:
        try:
            results.append(run([path])[0])
            good.append(path)
        except FILE_ERRORS as error:
            failures.append(failure_of(path, error))
    return (np.stack(results) if results else None), good, failures


def _joined(pieces: list[dict]) -> dict:
    if not pieces:
        return {}
    return {name: np.concatenate([piece[name] for piece in pieces]) for name in pieces[0]}
