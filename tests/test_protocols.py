"""Published protocols: their folds exactly as the papers give them, their clips against the real
corpus's files, their classes, and what they refuse."""

from __future__ import annotations

import numpy as np
import pytest

from ravdess_prep.corpora.ravdess import PROTOCOLS, clip_names
from ravdess_prep.exceptions import ParameterError, SourceError
from ravdess_prep.evaluation.training_data import corpus_protocol, subset
from ravdess_prep.evaluation.clips import take_protocol

from protocol_data import real_clip_names, stack_bundle

# The papers' folds, written out here (EmoBox's RAVDESS split; Luna-Jimenez et al. 2022, section 3.1).
EMOBOX_TEST = [[1, 11, 20, 21], [4, 10, 12, 14], [8, 9, 19, 23], [3, 5, 7, 24], [2, 15, 16, 18], [6, 13, 17, 22]]
LUNA_TEST = [[2, 5, 14, 15, 16], [3, 6, 7, 13, 18], [10, 11, 12, 19, 20], [8, 17, 21, 23, 24], [1, 4, 9, 22]]


@pytest.mark.parametrize("name, tests", [("emobox", EMOBOX_TEST), ("luna2022", LUNA_TEST)])
def test_fold_speakers_are_the_papers_and_dev_is_the_next_fold(name, tests):
    folds = PROTOCOLS[name].folds()
    assert [list(fold.test) for fold in folds] == tests
    assert [list(fold.dev) for fold in folds] == tests[1:] + tests[:1]
    assert sorted(speaker for test in tests for speaker in test) == list(range(1, 25))


def test_pepino2021_is_one_split_of_seven_classes():
    protocol = PROTOCOLS["pepino2021"]
    assert [(fold.test, fold.dev) for fold in protocol.folds()] == [((23, 24), (21, 22))]
    assert protocol.classes == ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")
    corpus_labels = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
    assert protocol.class_of(corpus_labels).tolist() == [0, 0, 1, 2, 3, 4, 5, 6]
    assert protocol.speakers() == tuple(range(1, 25))


def test_the_protocols_clips_are_the_corpus_files(ravdess_dir):
    speech, song = real_clip_names(ravdess_dir, "speech"), real_clip_names(ravdess_dir, "song")
    assert (len(speech), len(song)) == (1440, 1012)
    assert sorted(clip_names((1,))) == speech and sorted(clip_names((2,))) == song
    assert sorted(PROTOCOLS["emobox"].expected_clips()) == speech
    assert sorted(PROTOCOLS["pepino2021"].expected_clips()) == sorted(speech + song)


def test_a_protocol_takes_its_clips_and_classes(ravdess_dir):
    bundle = stack_bundle(ravdess_dir)
    emobox = take_protocol(corpus_protocol("emobox"), bundle, where="data")
    assert len(emobox) == 1440 and all(name.startswith("speech/") for name in emobox.names)
    # EmoBox keeps RAVDESS's eight emotions, calm apart from neutral, each clip's label unchanged
    assert emobox.label_names == ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
    speech = bundle.facets["vocal_channel"] == "speech"
    assert np.array_equal(emobox.names, bundle.names[speech]) and np.array_equal(emobox.labels, bundle.labels[speech])
    assert np.bincount(emobox.labels).tolist() == [96] + [192] * 7  # neutral has no strong intensity
    pepino = take_protocol(corpus_protocol("pepino2021"), bundle, where="data")
    assert len(pepino) == 2452 and pepino.label_names[0] == "neutral" and len(pepino.label_names) == 7
    calm = bundle.labels == 1
    assert (pepino.labels[calm] == 0).all() and (pepino.labels[~calm] == bundle.labels[~calm] - (bundle.labels[~calm] > 1)).all()


def test_missing_speakers_and_clips_are_named_with_their_count(ravdess_dir):
    bundle = stack_bundle(ravdess_dir)
    keep = ~np.isin(bundle.speakers, [5, 17])
    thinner = _subset(bundle, keep)
    with pytest.raises(SourceError, match=r"data: no clip of 2 speakers of the emobox protocol \(05, 17\)"):
        take_protocol(corpus_protocol("emobox"), thinner, where="data")
    speech = np.flatnonzero(np.char.startswith(bundle.names.astype(str), "speech/"))
    dropped = np.ones(len(bundle), bool)
    dropped[speech[[0, 100, 200, 300, 400]]] = False
    missing = sorted(bundle.names[~dropped].tolist())
    with pytest.raises(SourceError, match=r"data lacks 5 clips of the emobox protocol \(.* and 2 more\)") as caught:
        take_protocol(corpus_protocol("emobox"), _subset(bundle, dropped), where="data")
    assert sum(name in str(caught.value) for name in missing) == 3


def test_an_unknown_protocol_names_the_known_ones():
    with pytest.raises(ParameterError, match="protocol='emobax': no such protocol of the ravdess corpus .its "
                                             "protocols: emobox, pepino2021, luna2022"):
        corpus_protocol("emobax")


def _subset(bundle, keep):
    return subset(bundle, np.flatnonzero(keep))
