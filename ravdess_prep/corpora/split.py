"""Speaker-disjoint splits: the one helper that assigns clips to train/dev/test, named split
presets (a corpus lists its own), and the cross-validation iterators (leave one speaker out,
k folds by speaker).

Every function takes the clips' speaker ids (one per clip) and never puts one speaker in two
sets. In RAVDESS the speaker is the actor.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Sequence

import numpy as np

from ..exceptions import SplitError, option

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas


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


@dataclasses.dataclass(frozen=True)
class SplitPreset:
    """A named split of a corpus's speakers into dev and test (train is the rest), with folds.

    Attributes:
        name: Its name (``--split-preset``).
        description: One line for ``--help`` and the data card.
        groups: None: a split without folds (``fixed``, or else the corpus's customary split).
            Else a function from the corpus's speakers (in its order) to the folds' groups of
            speakers: fold K has group K as test and, unless ``dev_groups`` says otherwise,
            group K + 1 as dev (wrapping).
        selection: ``{metadata column: values kept}``: a preset that takes only some clips (a
            protocol's: RAVDESS speech, say); empty: every clip.
        fixed: A split without folds: its ``(dev speakers, test speakers)``.
        dev_groups: Each fold's dev speakers, when they are not the next fold's test speakers.
    """

    name: str
    description: str
    groups: Callable[[tuple[int, ...]], list[tuple[int, ...]]] | None = None
    selection: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    fixed: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    dev_groups: Sequence[tuple[int, ...]] | None = None

    def fold_count(self, speakers: Sequence[int]) -> int:
        """How many folds it has over ``speakers`` (0: none)."""
        return 0 if self.groups is None else len(self.groups(tuple(int(s) for s in speakers)))

    def speakers(self, *, fold: int | None, speakers: Sequence[int], default_dev: Sequence[int] = (),
                 default_test: Sequence[int] = ()) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``(dev speakers, test speakers)`` of a fold (None for a split without folds).

        Raises:
            SplitError: A fold missing, given where there are none, or out of range.
        """
        if self.groups is None:
            if fold is not None:
                raise SplitError(f"{option('split_preset', self.name)} has no folds ({option('fold', fold)})")
            return self.fixed if self.fixed is not None else (tuple(default_dev), tuple(default_test))
        groups = self.groups(tuple(int(speaker) for speaker in speakers))
        if isinstance(fold, bool) or not isinstance(fold, int) or not 1 <= fold <= len(groups):
            raise SplitError(f"{option('split_preset', self.name)} needs a fold from 1 to {len(groups)} "
                             f"({option('fold')} K), not {fold!r}")
        dev = self.dev_groups[fold - 1] if self.dev_groups is not None else groups[fold % len(groups)]
        return tuple(dev), groups[fold - 1]

    def keeps(self, clips: "pandas.DataFrame") -> np.ndarray:
        """Which rows of an inventory the preset takes (its selection), bool ``(rows,)``."""
        keep = np.ones(len(clips), dtype=bool)
        for column, values in self.selection.items():
            keep &= clips[column].astype(str).isin(list(values)).to_numpy()
        return keep


def customary_split(name: str = "original") -> SplitPreset:
    """The corpus's customary dev and test speakers, no folds."""
    return SplitPreset(name, "the corpus's customary dev and test speakers")


def consecutive_folds(name: str, count: int) -> SplitPreset:
    """``count`` folds of consecutive speakers (in the corpus's order)."""
    def groups(speakers):
        return [speakers[len(speakers) * index // count : len(speakers) * (index + 1) // count] for index in range(count)]
    return SplitPreset(name, f"{count} folds of consecutive speakers: fold K test, fold K+1 dev", groups)


def leave_one_speaker_out_split(name: str = "loso") -> SplitPreset:
    """One fold per speaker: speaker K test, the next one dev."""
    return SplitPreset(name, "one fold per speaker: speaker K test, the next one dev",
                       lambda speakers: [(speaker,) for speaker in speakers])


def speaker_groups(name: str, groups: Sequence[Sequence[int]], description: str) -> SplitPreset:
    """Folds of fixed groups of speakers (sessions, say): group K test, group K+1 dev."""
    fixed = [tuple(int(speaker) for speaker in group) for group in groups]
    return SplitPreset(name, description, lambda speakers: fixed)


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
