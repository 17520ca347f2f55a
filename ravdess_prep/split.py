"""Speaker-disjoint splits: the one helper that assigns clips to train/dev/test, the named
split presets, and the cross-validation iterators (leave one speaker out, k folds by speaker).

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


#: Named splits: ``original`` (the corpus's customary split), ``folds6`` (six folds of
#: consecutive speakers: fold K is test, fold K + 1 dev, wrapping), ``loso`` (speaker K is test,
#: the next speaker dev, wrapping).
SPLIT_PRESETS = ("original", "folds6", "loso")
NUM_PRESET_FOLDS = {"folds6": 6}


def preset_speakers(
    preset: str, *, fold: int | None, speakers: Sequence[int], default_dev: Sequence[int] = (),
    default_test: Sequence[int] = (),
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The dev and test speakers of a named split.

    Args:
        preset: One of :data:`SPLIT_PRESETS`.
        fold: The fold, 1-based (``folds6``: 1..6; ``loso``: 1..number of speakers); None for
            ``original``.
        speakers: Every speaker of the corpus, in its order (RAVDESS: actors 1..24).
        default_dev: The corpus's customary dev speakers (``original``).
        default_test: Its test speakers.

    Returns:
        ``(dev speakers, test speakers)``.

    Raises:
        SplitError: Unknown preset, or a fold missing or out of range; the message says which.
    """
    speakers = tuple(int(speaker) for speaker in speakers)
    if preset not in SPLIT_PRESETS:
        raise SplitError(f"split preset has to be one of {', '.join(map(repr, SPLIT_PRESETS))}, not {preset!r}")
    if preset == "original":
        if fold is not None:
            raise SplitError(f"the original split has no folds (fold {fold}, --fold)")
        return tuple(default_dev), tuple(default_test)
    count = NUM_PRESET_FOLDS.get(preset, len(speakers))
    if isinstance(fold, bool) or not isinstance(fold, int) or not 1 <= fold <= count:
        raise SplitError(f"the {preset} split needs a fold from 1 to {count} (--fold K), not {fold!r}")
    groups = [speakers[len(speakers) * index // count : len(speakers) * (index + 1) // count] for index in range(count)]
    return groups[fold % count], groups[fold - 1]


def preset_folds(preset: str) -> int | None:
    """How many folds a preset has (None: as many as speakers), 0 for ``original``."""
    return 0 if preset == "original" else NUM_PRESET_FOLDS.get(preset)


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
