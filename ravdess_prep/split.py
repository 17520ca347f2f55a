"""Actor-disjoint splits: the one helper that assigns clips to train/dev/test, and the
cross-validation iterators (leave one actor out, k folds by actor).

Every function takes the clips' actor ids (one per clip) and never puts one actor in two sets.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from .exceptions import SplitError

SPLITS = ("train", "dev", "test")


def assign_splits(
    actors: Sequence[int] | np.ndarray, *, dev_actors: Sequence[int], test_actors: Sequence[int]
) -> np.ndarray:
    """The split of every clip: ``"dev"`` and ``"test"`` for their actors, ``"train"`` for the rest.

    Args:
        actors: int array of shape ``(num_clips,)``, the actor of each clip.
        dev_actors: Actors of the dev split.
        test_actors: Actors of the test split.

    Returns:
        str array of shape ``(num_clips,)`` with values in :data:`SPLITS`.

    Raises:
        SplitError: An actor is listed for both dev and test, or twice.
    """
    dev, test = _actor_set("dev_actors", dev_actors), _actor_set("test_actors", test_actors)
    both = sorted(dev & test)
    if both:
        raise SplitError(f"actors {_names(both)} are listed for both dev and test")
    actors = np.asarray(actors)
    splits = np.full(actors.shape, "train", dtype=object)
    splits[np.isin(actors, sorted(dev))] = "dev"
    splits[np.isin(actors, sorted(test))] = "test"
    result = splits.astype(str)
    check_actor_disjoint(actors, result)
    return result


def check_actor_disjoint(actors: Sequence[int] | np.ndarray, splits: Sequence[str] | np.ndarray) -> None:
    """Raise :class:`SplitError` naming every actor whose clips lie in more than one split."""
    actors, splits = np.asarray(actors), np.asarray(splits)
    if actors.shape != splits.shape:
        raise SplitError(f"{actors.shape[0]} actors for {splits.shape[0]} split labels")
    shared = []
    for actor in np.unique(actors):
        where = sorted(set(splits[actors == actor].tolist()))
        if len(where) > 1:
            shared.append(f"actor {int(actor):02d} in {' and '.join(where)}")
    if shared:
        raise SplitError("an actor may be in one split only: " + "; ".join(shared))


def leave_one_actor_out(actors: Sequence[int] | np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """One fold per actor: that actor's clips are held out.

    Yields:
        ``(actor, train_indices, held_out_indices)`` in actor order; index arrays are int64.
    """
    actors = np.asarray(actors)
    for actor in np.unique(actors):
        held_out = actors == actor
        yield int(actor), np.flatnonzero(~held_out), np.flatnonzero(held_out)


def k_fold_by_actor(
    actors: Sequence[int] | np.ndarray, *, num_folds: int, seed: int = 0
) -> Iterator[tuple[tuple[int, ...], np.ndarray, np.ndarray]]:
    """``num_folds`` folds; each actor is held out in exactly one (actors shuffled by ``seed``,
    then dealt round-robin, so fold sizes differ by at most one actor).

    Yields:
        ``(held_out_actors, train_indices, held_out_indices)``.

    Raises:
        SplitError: ``num_folds`` is below 2 or above the number of actors.
    """
    actors = np.asarray(actors)
    unique = np.unique(actors)
    if not 2 <= num_folds <= unique.size:
        raise SplitError(f"num_folds has to be between 2 and the {unique.size} actors, not {num_folds}")
    order = np.random.default_rng(seed).permutation(unique)
    for fold in range(num_folds):
        held = tuple(sorted(int(actor) for actor in order[fold::num_folds]))
        held_out = np.isin(actors, held)
        yield held, np.flatnonzero(~held_out), np.flatnonzero(held_out)


def _actor_set(name: str, actors: Sequence[int]) -> set[int]:
    values = [int(actor) for actor in actors]
    duplicates = sorted({actor for actor in values if values.count(actor) > 1})
    if duplicates:
        raise SplitError(f"{name} lists actors {_names(duplicates)} more than once")
    return set(values)


def _names(actors) -> str:
    return ", ".join(f"{actor:02d}" for actor in actors)
