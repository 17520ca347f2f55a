"""``audit``: speakers on both sides, the same audio under two names (found by the decoded
samples, so a WAV copy of a FLAC counts), shared texts, class counts, and a speaker probe; each
check against counts made here, and the command's record and refusals."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile

from conftest import SPEECH
from protocol_data import stack_bundle
from ravdess_prep import cli, pipeline
from ravdess_prep.corpora import CORPORA
from ravdess_prep.evaluation import audit
from test_protocols import EMOBOX_TEST

# Actor 07's two takes of happy, statement 2, which RAVDESS publishes as the same file.
TWINS = ("03-01-03-01-02-01-07", "03-01-03-01-02-02-07")


def test_speakers_in_several_splits_and_class_counts():
    found = audit.speakers_in_several_splits({"train": np.array([1, 1, 2, 5]), "dev": np.array([3]),
                                              "test": np.array([2, 4, 5])})
    assert found == [{"speaker": 2, "splits": ["train", "test"]}, {"speaker": 5, "splits": ["train", "test"]}]
    assert audit.speakers_in_several_splits({"train": np.array([1]), "test": np.array([2])}) == []
    counts = audit.class_counts({"train": np.array([0, 0, 2]), "test": np.array([1])}, ("a", "b", "c"))
    assert counts == {"train": {"a": 2, "b": 0, "c": 1}, "test": {"a": 0, "b": 1, "c": 0}}


def test_duplicates_and_shared_texts_are_counted():
    digests = {"x": "d1", "y": "d2", "z": "d1", "w": "d1"}
    pairs = audit.duplicate_pairs(digests, {"x": "train", "y": "test", "z": "test", "w": "train"})
    assert pairs == [{"clips": ["w", "x"], "splits": ["train", "train"]},
                     {"clips": ["w", "z"], "splits": ["train", "test"]},
                     {"clips": ["x", "z"], "splits": ["train", "test"]}]
    shared = audit.shared_texts({"train": np.array(["a01", "a02", "a01"]), "test": np.array(["a01", "b09"])})
    assert shared == {"a01": {"train": 2, "test": 1}}


def test_the_speaker_probe_finds_the_layer_that_carries_the_speaker():
    rng = np.random.default_rng(0)
    speakers = np.repeat(np.arange(1, 11), 20)
    rows = rng.normal(size=(200, 2, 8))
    rows[:, 0] += rng.normal(size=(11, 8))[speakers] * 4  # layer 0: each speaker's own offset
    probe = audit.speaker_probe(rows, speakers, axes=("layers", "dim"), layer_numbers=(3, 4))
    assert probe["speakers"] == 10 and probe["chance"] == pytest.approx(0.1) and probe["held_out_clips"] == 40
    assert probe["accuracy"]["3"] >= 0.95 and probe["accuracy"]["4"] <= 0.35
    again = audit.speaker_probe(rows, speakers, axes=("layers", "dim"), layer_numbers=(3, 4))
    assert again == probe


def test_decoded_samples_match_across_formats(ravdess_dir, tmp_path):
    flac = ravdess_dir / "Audio_Speech_Actors_01-24" / "Actor_08" / "03-01-01-01-01-01-08.flac"
    samples, rate = soundfile.read(flac, dtype="int16")
    soundfile.write(tmp_path / "copy.wav", samples, rate, subtype="PCM_16")
    changed = samples.copy()
    changed[1000] += 1
    soundfile.write(tmp_path / "changed.wav", changed, rate, subtype="PCM_16")
    digests = audit.audio_digests({"flac": flac, "wav": tmp_path / "copy.wav", "changed": tmp_path / "changed.wav"})
    assert digests["flac"] == digests["wav"] != digests["changed"]


@pytest.fixture(scope="module")
def audited(ravdess_dir, tmp_path_factory):
    """A build of actors 07 and 12 (train), 08 (dev) and 11 (test), where actor 11's first clip is
    a WAV of actor 08's first clip, and actor 07's takes are RAVDESS's own twins."""
    pytest.importorskip("torch")
    from ravdess_prep.embedders import WhisperEmbedder, WhisperFiles
    from whisper_models import random_whisper

    root = tmp_path_factory.mktemp("audit")
    tree = root / "tree"
    speech = ravdess_dir / SPEECH
    chosen = [f"Actor_07/{stem}.flac" for stem in TWINS] + ["Actor_07/03-01-01-01-01-01-07.flac",
                                                             "Actor_08/03-01-01-01-01-01-08.flac",
                                                             "Actor_08/03-01-01-01-01-02-08.flac",
                                                             "Actor_11/03-01-01-01-01-02-11.flac",
                                                             "Actor_12/03-01-01-01-01-01-12.flac",
                                                             "Actor_12/03-01-01-01-02-01-12.flac"]
    for name in chosen:
        (tree / SPEECH / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(speech / name, tree / SPEECH / name)
    samples, rate = soundfile.read(speech / "Actor_08/03-01-01-01-01-01-08.flac", dtype="int16")
    soundfile.write(tree / SPEECH / "Actor_11/03-01-01-01-01-01-11.wav", samples, rate, subtype="PCM_16")
    model = random_whisper(root / "model", seed=1)
    config = pipeline.Config(embedder=WhisperEmbedder(), dev_speakers=(8,), test_speakers=(11,))
    pipeline.build(config, out=root / "out", source=tree, files=WhisperFiles(model),
                   run=pipeline.Run(cache_dir=root / "cache", jobs=1, progress=False))
    return root / "out", tree


def test_audit_of_a_build(audited):
    record = audit.audit(audited[0])
    assert record["speakers_in_several_splits"] == []
    assert record["duplicate_audio"] == [
        {"clips": [f"speech/Actor_07/{TWINS[0]}.wav", f"speech/Actor_07/{TWINS[1]}.wav"], "splits": ["train", "train"]},
        {"clips": ["speech/Actor_08/03-01-01-01-01-01-08.wav", "speech/Actor_11/03-01-01-01-01-01-11.wav"],
         "splits": ["dev", "test"]}]
    # the statement is a name's fifth field: statement 1 in train (07, 12), dev (both of 08) and
    # test (both of 11); statement 2 only in train (the twins and 12's second clip)
    assert record["shared_texts"] == {"1": {"train": 2, "dev": 2, "test": 2}}
    assert record["class_counts"]["train"]["happy"] == 2 and record["class_counts"]["train"]["neutral"] == 3
    assert record["class_counts"]["dev"]["neutral"] == 2 and record["class_counts"]["test"]["neutral"] == 2
    assert record["speaker_probe"]["speakers"] == 2 and set(record["speaker_probe"]["accuracy"]) == {"0", "1", "2"}
    verdict = record["verdict"]
    assert verdict["duplicate_audio"] == ("2 pairs of clips hold the same audio, 1 of them on two sides of a split "
                                          "(a scored clip's recording is also trained on or chosen on)")
    assert verdict["speakers"].startswith("no speaker has clips in more than one split")
    assert verdict["shared_texts"].startswith("1 statement is spoken in several splits")
    assert set(record) >= set(audit.KEYS)


def test_the_command_writes_its_record_and_refuses_a_foreign_file(audited, tmp_path, capsys):
    out = tmp_path / "audit.json"
    assert cli.main(["audit", str(audited[0]), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "duplicate audio: 2 pairs of clips hold the same audio, 1 of them on two sides of a split" in printed
    assert json.loads(out.read_text())["duplicate_audio"][1]["splits"] == ["dev", "test"]
    other = tmp_path / "notes.json"
    other.write_text('{"mine": 1}')
    assert cli.main(["audit", str(audited[0]), "--json", str(other)]) == 1
    assert "a file that audit did not write" in capsys.readouterr().err and other.read_text() == '{"mine": 1}'


def test_a_source_no_longer_at_hand_is_said_not_passed(audited):
    out, tree = audited
    moved = tree.with_name("tree-moved")
    tree.rename(moved)
    try:
        record = audit.audit(out)
    finally:
        moved.rename(tree)
    assert record["duplicate_audio"] is None
    assert record["verdict"]["duplicate_audio"] == f"not checked: the source the manifest records is not at hand ({tree})"


def test_a_protocol_s_folds_are_audited_fold_by_fold(ravdess_dir):
    groups = audit._groups({"train": stack_bundle(ravdess_dir)}, protocol="emobox", corpus=CORPORA["ravdess"], seed=0,
                           where="data")
    assert [name for name, _ in groups] == [f"emobox fold {index}" for index in range(1, 7)]
    for (_, splits), test in zip(groups, EMOBOX_TEST):
        assert sorted(np.unique(splits["test"].speakers).tolist()) == test
        assert audit.speakers_in_several_splits({split: bundle.speakers for split, bundle in splits.items()}) == []
        assert sum(len(bundle) for bundle in splits.values()) == 1440  # the protocol's speech clips
