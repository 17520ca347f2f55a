"""Speaker normalisation in its two modes: ``all`` (every clip of a speaker, the scored ones
included) and ``enrol`` (K clips of each scored speaker, not scored). The enrolment is found
from what the output leaves out, and the expected rows are computed here from it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ravdess_prep.dataset.bundles import Bundle
from ravdess_prep.evaluation import classifier
from ravdess_prep.evaluation.speaker_norm import enrolled, normalise_per_speaker, speaker_normalised
from ravdess_prep.exceptions import ParameterError, SourceError


def _bundle(seed: int = 0, *, clips_per_speaker: int = 12, speakers=(3, 7)) -> Bundle:
    rng = np.random.default_rng(seed)
    count = clips_per_speaker * len(speakers)
    speaker_of = np.repeat(np.asarray(speakers), clips_per_speaker)
    embeddings = rng.normal(size=(count, 2, 5)) * 2.0 + speaker_of[:, None, None]  # a stack of two layers
    names = np.asarray([f"clip{index:03d}" for index in range(count)])
    return Bundle(names, embeddings.astype(np.float32), rng.integers(0, 3, count), speaker_of, {}, ("a", "b", "c"),
                  axes=("layers", "dim"))


def test_all_mode_uses_every_clip_of_the_speaker():
    bundle = _bundle()
    found = normalise_per_speaker(bundle.embeddings, bundle.speakers, axes=bundle.axes)
    for speaker in (3, 7):
        rows = bundle.speakers == speaker
        values = bundle.embeddings[rows].astype(np.float64)
        expected = (values - values.mean(axis=0)) / values.std(axis=0)
        np.testing.assert_allclose(found[rows], expected, rtol=1e-5, atol=1e-5)


def test_a_sequence_is_standardised_over_its_clips_and_frames_per_feature():
    rng = np.random.default_rng(2)
    speakers = np.repeat([1, 2], 5)
    embeddings = rng.normal(size=(10, 7, 3)) * [1.0, 2.0, 3.0] + speakers[:, None, None] * 10
    found = normalise_per_speaker(embeddings, speakers, axes=("examples", "dim"))
    for speaker in (1, 2):
        values = embeddings[speakers == speaker].reshape(-1, 3)  # every frame of the speaker's clips
        expected = (values - values.mean(axis=0)) / values.std(axis=0)
        np.testing.assert_allclose(found[speakers == speaker].reshape(-1, 3), expected, rtol=1e-5, atol=1e-5)


def test_an_enrolment_is_not_scored_and_is_all_the_statistics_see():
    bundle = _bundle()
    found = enrolled(bundle, clips=4, seed=1, where="test")
    assert len(found) == len(bundle) - 2 * 4
    for speaker in (3, 7):
        own = set(bundle.names[bundle.speakers == speaker].tolist())
        kept = [name for name, who in zip(found.names.tolist(), found.speakers) if who == speaker]
        enrolment = sorted(own - set(kept))
        assert len(enrolment) == 4
        position = {name: index for index, name in enumerate(bundle.names.tolist())}
        values = bundle.embeddings[[position[name] for name in enrolment]].astype(np.float64)
        expected = (bundle.embeddings[[position[name] for name in kept]] - values.mean(axis=0)) / values.std(axis=0)
        np.testing.assert_allclose(found.embeddings[found.speakers == speaker], expected, rtol=1e-5, atol=1e-5)


def test_a_scored_clip_does_not_move_with_the_other_scored_clips():
    """The inductive property the transductive mode lacks: changing one scored clip leaves
    every other scored clip's row as it was (labels unused: permuted, the same enrolment)."""
    bundle = _bundle()
    first = enrolled(bundle, clips=4, seed=1, where="test")
    changed_name = first.names[0]
    index = bundle.names.tolist().index(changed_name)
    embeddings = bundle.embeddings.copy()
    embeddings[index] += 50.0
    relabelled = dataclasses.replace(bundle, embeddings=embeddings, labels=bundle.labels[::-1].copy())
    second = enrolled(relabelled, clips=4, seed=1, where="test")
    assert second.names.tolist() == first.names.tolist()
    np.testing.assert_array_equal(second.embeddings[1:], first.embeddings[1:])
    transductive = normalise_per_speaker(embeddings, bundle.speakers, axes=bundle.axes)
    before = normalise_per_speaker(bundle.embeddings, bundle.speakers, axes=bundle.axes)
    same_speaker = np.flatnonzero(bundle.speakers == bundle.speakers[index])
    other = same_speaker[same_speaker != index][0]
    assert not np.allclose(transductive[other], before[other])  # all mode: it moves
    assert enrolled(bundle, clips=4, seed=2, where="test").names.tolist() != first.names.tolist()


def test_training_speakers_use_all_their_clips_and_too_small_speakers_are_named():
    train, test = _bundle(0), _bundle(1, speakers=(9, 11))
    found = speaker_normalised({"train": train, "test": test}, where="data", enrol_clips=5, seed=0)
    assert len(found["train"]) == len(train) and len(found["test"]) == len(test) - 10
    np.testing.assert_array_equal(found["train"].embeddings,
                                  normalise_per_speaker(train.embeddings, train.speakers, axes=train.axes))
    with pytest.raises(SourceError, match=r"data \(test\): speaker 09 has 12 clips; an enrolment of 12 leaves none"):
        speaker_normalised({"train": train, "test": test}, where="data", enrol_clips=12)


def test_the_mode_is_recorded_and_enrol_clips_needs_speaker_norm(tmp_path):
    with pytest.raises(ParameterError, match="give both"):
        classifier.TrainConfig(enrol_clips=4)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 6)) * 3

    def split(speakers, seed):
        labels = np.tile(np.arange(3), 4 * len(speakers))
        speaker_of = np.repeat(np.asarray(speakers), 12)
        values = centres[labels] + np.random.default_rng(seed).normal(size=(labels.size, 6))
        names = np.asarray([f"s{seed}-{index}" for index in range(labels.size)])
        return Bundle(names, values.astype(np.float32), labels, speaker_of, {}, ("a", "b", "c"))

    bundles = {"train": split((1, 2, 3), 1), "dev": split((4,), 2), "test": split((5, 6), 3)}
    for enrol, mode in ((None, "all"), (3, "enrol")):
        config = classifier.TrainConfig(head="lda", shrinkage=0.5, speaker_norm=True, enrol_clips=enrol)
        _, metrics = classifier.fit_and_score(bundles, config)
        assert metrics["speaker_norm"]["mode"] == mode and metrics["speaker_norm"]["transductive"] == (enrol is None)
        assert metrics["splits"]["test"]["clips"] == 24 - 2 * (enrol or 0)
        assert metrics["splits"]["train"]["clips"] == 36
