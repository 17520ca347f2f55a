"""Speaker-disjoint splits: the one helper that assigns clips to train/dev/test, and the
cross-validation iterators (leave one speaker out, k folds by speaker).

Every function takes the clips' speaker ids (one per clip) and never puts one speaker in two
sets. In RAVDESS the speaker is the actor.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from .exceptions import SplitError


def assign_splits(
    speakers: Sequence[int] | np.ndarray, *, dev_speakers: Sequence[int], test_speakers: Sequence[int]
) -> np.ndarray:
    """The split of every clip: ``"dev"`` and ``"test"`` for their speakers, ``"train"`` for the rest.

    Args:
        speakers: int array of shape ``(num_clips,)``, the speaker of each clip.
        dev_speakers: Speakers of the dev split.
        test_speakers: Speakers of the test split.

    Returns:
        str array of shape ``(num_clips,)`` with values in ``params.SPLITS``.

    Raises:
        SplitError: A speaker is listed for both dev and test, or twice.
    """
    dev, test = _speaker_set("dev_speakers", dev_speakers), _speaker_set("test_speakers", test_speakers)
    both = sorted(dev & test)
    if both:
        raise SplitError(f"speakers {_names(both)} are listed for both dev and test")
    speakers = np.asarray(speakers)
    splits = np.full(speakers.shape, "train", dtype=object)
    splits[np.isin(speakers, sorted(dev))] = "dev"
    splits[np.isin(speakers, sorted(test))] = "test"
    result = splits.astype(str)
    check_speaker_disjoint(speakers, result)
    return result


def check_speaker_disjoint(speakers: Sequence[int] | np.ndarray, splits: Sequence[str] | np.ndarray) -> None:
    """Raise :class:`SplitError` naming every speaker whose clips lie in more than one split."""
    speakers, splits = np.asarray(speakers), np.asarray(splits)
    if speakers.shape != splits.shape:
        raise SplitError(f"{speakers.shape[0]} speakers for {splits.shape[0]} split labels")
    shared = []
    for speaker in np.unique(speakers):
        where = sorted(set(splits[speakers == speaker].tolist()))
        if len(where) > 1:
            shared.append(f"speaker {int(speaker):02d} in {' and '.join(where)}")
    if shared:
        raise SplitError("a speaker may be in one split only: " + "; ".join(shared))


def leave_one_speaker_out(speakers: Sequence[int] | np.ndarray) -> Iterator[tuple[tuple[int], np.ndarray, np.ndarray]]:
    """One fold per speaker: that speaker's clips are held out.

    Yields:
        ``((speaker,), train_indices, held_out_indices)`` in speaker order; index arrays are int64.
    """
    speakers = np.asarray(speakers)
    for speaker in np.unique(speakers):
        held_out = speakers == speaker
        yield (int(speaker),), np.flatnonzero(~held_out), np.flatnonzero(held_out)


def k_fold_by_speaker(
    speakers: Sequence[int] | np.ndarray, *, num_folds: int, seed: int = 0
) -> Iterator[tuple[tuple[int, ...], np.ndarray, np.ndarray]]:
    """``num_folds`` folds; each speaker is held out in exactly one (speakers shuffled by
    ``seed``, then dealt round-robin, so fold sizes differ by at most one speaker).

    Yields:
        ``(held_out_speakers, train_indices, held_out_indices)``.

    Raises:
        SplitError: ``num_folds`` is below 2 or above the number of speakers.
    """
    speakers = np.asarray(speakers)
    unique = np.unique(speakers)
    if not 2 <= num_folds <= unique.size:
        raise SplitError(f"num_folds has to be between 2 and the {unique.size} speakers, not {num_folds}")
    order = np.random.default_rng(seed).permutation(unique)
    for fold in range(num_folds):
        held = tuple(sorted(int(speaker) for speaker in order[fold::num_folds]))
        held_out = np.isin(speakers, held)
        yield held, np.flatnonzero(~held_out), np.flatnonzero(held_out)


def _speaker_set(name: str, speakers: Sequence[int]) -> set[int]:
    values = [int(speaker) for speaker in speakers]
    duplicates = sorted({speaker for speaker in values if values.count(speaker) > 1})
    if duplicates:
        raise SplitError(f"{name} lists speakers {_names(duplicates)} more than once")
    return set(values)


def _names(speakers) -> str:
    return ", ".join(f"{speaker:02d}" for speaker in speakers)
