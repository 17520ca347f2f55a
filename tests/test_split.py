"""Speaker-disjoint splits and the cross-validation iterators (RAVDESS speakers are actors)."""

from __future__ import annotations

import numpy as np
import pytest

from ravdess_prep import pipeline
from ravdess_prep.config import Config
from ravdess_prep.exceptions import SplitError
from ravdess_prep.corpora.split import assign_splits, check_speaker_disjoint, k_fold_by_speaker, leave_one_speaker_out

ACTORS = np.repeat(np.arange(1, 25), 3)


@pytest.mark.parametrize("dev, test, expected", [
    ((8, 19, 24), (11, 14, 15), {"dev": {8, 19, 24}, "test": {11, 14, 15}}),
    ((1,), (2, 3), {"dev": {1}, "test": {2, 3}}),
    ((), (), {"dev": set(), "test": set()}),
    ((1, 2), (2, 3), SplitError),
    ((1, 1), (3,), SplitError),
])
def test_assign_splits(dev, test, expected):
    if isinstance(expected, type):
        with pytest.raises(expected, match="02|01"):
            assign_splits(ACTORS, dev_speakers=dev, test_speakers=test)
        return
    splits = assign_splits(ACTORS, dev_speakers=dev, test_speakers=test)
    for name in ("dev", "test"):
        assert set(ACTORS[splits == name].tolist()) == expected[name]
    assert set(ACTORS[splits == "train"].tolist()) == set(range(1, 25)) - expected["dev"] - expected["test"]


def test_an_actor_in_two_splits_is_named():
    splits = np.array(["train"] * 6)
    actors = np.array([1, 1, 2, 2, 3, 3])
    splits[1] = "dev"
    splits[5] = "test"
    with pytest.raises(SplitError, match="speaker 01 in dev and train; speaker 03 in test and train"):
        check_speaker_disjoint(actors, splits)


def test_config_refuses_overlapping_actor_lists():
    with pytest.raises(SplitError, match="08"):
        Config(dev_speakers=(8, 9), test_speakers=(8,))


def test_leave_one_speaker_out():
    folds = list(leave_one_speaker_out(ACTORS))
    assert [actor for (actor,), _, _ in folds] == list(range(1, 25))
    for (actor,), train, held in folds:
        assert set(ACTORS[held]) == {actor} and actor not in set(ACTORS[train])
        assert len(train) + len(held) == len(ACTORS)


@pytest.mark.parametrize("num_folds", [2, 5, 24])
def test_k_fold_by_speaker(num_folds):
    folds = list(k_fold_by_speaker(ACTORS, num_folds=num_folds, seed=3))
    held_actors = [actor for held, _, _ in folds for actor in held]
    assert sorted(held_actors) == list(range(1, 25))  # each actor held out exactly once
    sizes = [len(held) for held, _, _ in folds]
    assert max(sizes) - min(sizes) <= 1
    for held, train, held_out in folds:
        assert not set(ACTORS[train]) & set(held)
        assert set(ACTORS[held_out]) == set(held)
    assert [held for held, _, _ in k_fold_by_speaker(ACTORS, num_folds=num_folds, seed=3)] == [h for h, _, _ in folds]


@pytest.mark.parametrize("num_folds", [1, 25])
def test_k_fold_rejects_impossible_fold_counts(num_folds):
    with pytest.raises(SplitError, match="num_folds"):
        list(k_fold_by_speaker(ACTORS, num_folds=num_folds))


def test_original_split_on_the_full_set(ravdess_dir):
    clips = pipeline.split(pipeline.source(ravdess_dir), Config())
    counts = clips["split"].value_counts().to_dict()
    assert counts == {"train": 1828, "dev": 312, "test": 312}
    for name, actors in (("dev", (8, 19, 24)), ("test", (11, 14, 15))):
        expected = {f"{channel}/Actor_{actor:02d}/{path.stem}.wav"
                    for actor in actors for channel, folder in (("speech", "Audio_Speech_Actors_01-24"),
                                                                ("song", "Audio_Song_Actors_01-24"))
                    for path in (ravdess_dir / folder / f"Actor_{actor:02d}").glob("*.flac")}
        assert set(clips.loc[clips["split"] == name, "clip_name"]) == expected
    train = clips[clips["split"] == "train"]
    assert (train["vocal_channel"] == "speech").sum() == 1080 and (train["vocal_channel"] == "song").sum() == 748
    assert np.bincount(train["label"], minlength=8).tolist() == [140, 280, 280, 280, 280, 280, 144, 144]
    assert list(clips["split"].unique()) == ["train", "dev", "test"]


def test_seeded_shuffle_is_deterministic_and_stays_in_split(ravdess_dir):
    three = Config(speakers=(1, 8, 11))
    clips = pipeline.source(ravdess_dir, three)
    plain = pipeline.split(clips, three)
    first = pipeline.split(clips, three.replace(shuffle_seed=5))
    again = pipeline.split(clips, three.replace(shuffle_seed=5))
    other = pipeline.split(clips, three.replace(shuffle_seed=6))
    assert list(first["clip_name"]) == list(again["clip_name"]) != list(other["clip_name"])
    assert list(first["clip_name"]) != list(plain["clip_name"])
    for name in ("train", "dev", "test"):
        assert set(first.loc[first["split"] == name, "clip_name"]) == set(plain.loc[plain["split"] == name, "clip_name"])
