"""RAVDESS metadata: file-name parsing, inventory of a source, the info command."""

from __future__ import annotations

import json
import re
import zipfile

import numpy as np
import pytest

from conftest import tone, write_audio
from ravdess_prep import cli
from ravdess_prep.exceptions import ClipNameError, DuplicateClipError, ParameterError, SourceError
from ravdess_prep.storage.digest import identical_files
from ravdess_prep.corpora.ravdess import DEV_ACTORS, RAVDESS, TEST_ACTORS, inventory, parse_clip_name

VALID = {
    "03-01-07-01-01-02-08.wav": dict(
        clip_name="speech/Actor_08/03-01-07-01-01-02-08.wav", vocal_channel="speech", emotion="disgust",
        emotion_code=7, label=6, intensity="normal", statement=1, repetition=2, actor=8, gender="female",
    ),
    "03-02-05-01-02-02-08.flac": dict(
        clip_name="song/Actor_08/03-02-05-01-02-02-08.wav", vocal_channel="song", emotion="angry",
        emotion_code=5, label=4, intensity="normal", statement=2, repetition=2, actor=8, gender="female",
    ),
    "some/dir/03-01-01-01-01-01-01.WAV": dict(
        clip_name="speech/Actor_01/03-01-01-01-01-01-01.wav", vocal_channel="speech", emotion="neutral",
        emotion_code=1, label=0, intensity="normal", statement=1, repetition=1, actor=1, gender="male",
    ),
    "03-02-06-02-01-01-23.wav": dict(
        clip_name="song/Actor_23/03-02-06-02-01-01-23.wav", vocal_channel="song", emotion="fearful",
        emotion_code=6, label=5, intensity="strong", statement=1, repetition=1, actor=23, gender="male",
    ),
}

INVALID = {
    "03-01-07-01-01-02-08.mp3": "extension",
    "03-01-07-01-01-02.wav": "scheme",
    "3-1-7-1-1-2-8.wav": "scheme",
    "03-01-07-01-01-02-08-extra.wav": "scheme",
    "01-01-07-01-01-02-08.wav": "modality 01",
    "02-01-07-01-01-02-08.wav": "modality 02",
    "04-01-07-01-01-02-08.wav": "modality 04 is out of range",
    "03-03-07-01-01-02-08.wav": "vocal_channel 03 is out of range",
    "03-01-09-01-01-02-08.wav": "emotion 09 is out of range",
    "03-01-00-01-01-02-08.wav": "emotion 00 is out of range",
    "03-01-07-03-01-02-08.wav": "intensity 03 is out of range",
    "03-01-07-01-03-02-08.wav": "statement 03 is out of range",
    "03-01-07-01-01-03-08.wav": "repetition 03 is out of range",
    "03-01-07-01-01-02-25.wav": "actor 25 is out of range",
    "03-01-07-01-01-02-00.wav": "actor 00 is out of range",
    "03-01-01-02-01-01-01.wav": "neutral) has no strong intensity",
    "03-02-07-01-01-01-01.wav": "emotion 07 (disgust) is not sung",
    "03-02-08-02-01-01-01.wav": "emotion 08 (surprised) is not sung",
    "03-02-03-01-01-01-18.wav": "actor 18 has no song",
}


@pytest.mark.parametrize(
    "name, expected",
    [(name, fields) for name, fields in VALID.items()] + [(name, message) for name, message in INVALID.items()],
)
def test_parse_clip_name(name, expected):
    if isinstance(expected, str):
        with pytest.raises(ClipNameError, match=re.escape(expected)) as caught:
            parse_clip_name(name)
        assert name.rsplit("/", 1)[-1] in str(caught.value) or name in str(caught.value)
        assert isinstance(caught.value, ValueError) and isinstance(caught.value, ParameterError)
        return
    info = parse_clip_name(name)
    row = info.as_row()
    for field, value in expected.items():
        assert row[field] == value, field


def _tree(root, names, *, seconds=0.1):
    for index, name in enumerate(names):
        write_audio(root / name, tone(seconds, frequency_hz=200 + 50 * index))
    return root


def test_inventory_orders_rows_and_reads_audio_facts(tmp_path):
    names = [
        "b/Actor_02/03-02-03-01-01-01-02.wav",
        "a/Actor_02/03-01-03-01-01-01-02.wav",
        "a/Actor_01/03-01-05-02-02-01-01.wav",
        "c/03-01-01-01-01-01-01.flac",
    ]
    _tree(tmp_path, names)
    (tmp_path / "README.txt").write_text("not audio, not considered")
    clips = inventory(tmp_path)
    assert list(clips["clip_name"]) == [
        "speech/Actor_01/03-01-01-01-01-01-01.wav",
        "speech/Actor_01/03-01-05-02-02-01-01.wav",
        "speech/Actor_02/03-01-03-01-01-01-02.wav",
        "song/Actor_02/03-02-03-01-01-01-02.wav",
    ]
    assert set(clips["sample_rate_hz"]) == {48000}
    assert set(clips["num_samples"]) == {4800}
    assert clips.loc[0, "path"].endswith("c/03-01-01-01-01-01-01.flac")


def test_inventory_rejects_duplicate_clip_names_naming_both(tmp_path):
    _tree(tmp_path, ["x/03-01-03-01-01-01-02.wav", "y/03-01-03-01-01-01-02.flac"])
    with pytest.raises(DuplicateClipError) as caught:
        inventory(tmp_path)
    message = str(caught.value)
    assert "x/03-01-03-01-01-01-02.wav" in message and "y/03-01-03-01-01-01-02.flac" in message


def test_inventory_refuses_one_recording_under_two_names_but_keeps_the_published_pair(tmp_path):
    _tree(tmp_path, ["03-01-03-01-01-01-02.wav", "03-01-04-01-01-01-02.wav"])
    copy = tmp_path / "03-01-05-01-01-01-02.wav"
    copy.write_bytes((tmp_path / "03-01-03-01-01-01-02.wav").read_bytes())
    with pytest.raises(DuplicateClipError, match="03-01-05-01-01-01-02.wav: the same bytes as .*03-01-03-01-01-01-02"
                                                 r"\.wav \(one recording under two clip names\)"):
        inventory(tmp_path)
    copy.unlink()
    # actor 07's two takes of happy, normal, statement 2 are one file in the corpus itself
    for name in ("03-01-03-01-02-01-07.wav", "03-01-03-01-02-02-07.wav"):
        write_audio(tmp_path / name, tone(0.1, frequency_hz=440))
    assert len(inventory(tmp_path)) == 4


def test_the_corpus_declares_exactly_its_identical_files(ravdess_dir):
    paths = sorted(str(path) for path in ravdess_dir.rglob("*.flac"))
    assert len(paths) == 2452
    groups = identical_files(paths)
    assert [{parse_clip_name(path).clip_name for path in group} for group in groups] == [
        set(pair) for pair in RAVDESS.published_duplicates]


def test_inventory_rejects_a_malformed_name_naming_the_file(tmp_path):
    _tree(tmp_path, ["03-01-03-01-01-01-02.wav", "03-01-03-01-01-01-99.wav"])
    with pytest.raises(ClipNameError, match=r"03-01-03-01-01-01-99\.wav: actor 99"):
        inventory(tmp_path)


def test_inventory_rejects_a_file_that_is_not_audio(tmp_path):
    _tree(tmp_path, ["03-01-03-01-01-01-02.wav"])
    fake = tmp_path / "03-01-04-01-01-01-02.wav"
    fake.write_text("this is text, not RIFF audio")
    with pytest.raises(SourceError, match=r"03-01-04-01-01-01-02\.wav: not a readable audio file"):
        inventory(tmp_path)


def test_inventory_rejects_an_empty_audio_file(tmp_path):
    write_audio(tmp_path / "03-01-04-01-01-01-02.wav", np.zeros(0))
    with pytest.raises(SourceError, match=r"03-01-04-01-01-01-02\.wav: the audio file holds no samples"):
        inventory(tmp_path)


@pytest.mark.parametrize("make", ["empty folder", "only other files", "missing", "not a zip"])
def test_unusable_sources_name_the_path(tmp_path, make):
    source = tmp_path / "src"
    if make == "empty folder":
        source.mkdir()
        expected = "no .wav or .flac file found"
    elif make == "only other files":
        source.mkdir()
        (source / "notes.txt").write_text("hello")
        expected = "no .wav or .flac file found"
    elif make == "missing":
        expected = "no such file or folder"
    else:
        source = tmp_path / "data.tar"
        source.write_bytes(b"x")
        expected = "must be a folder or a .zip"
    with pytest.raises(SourceError, match=expected) as caught:
        inventory(source)
    assert str(source) in str(caught.value)


def test_survey_collects_every_problem(tmp_path):
    _tree(tmp_path, ["03-01-03-01-01-01-02.wav", "03-01-03-01-01-01-99.wav", "03-02-07-01-01-01-02.wav"])
    result = RAVDESS().survey(tmp_path)
    assert len(result.clips) == 1
    assert [type(problem) for problem in result.problems] == [ClipNameError, ClipNameError]
    with pytest.raises(ClipNameError, match="and 1 more problems"):
        inventory(tmp_path)


def test_zip_source_is_extracted_once(tmp_path):
    tree = _tree(tmp_path / "tree", ["Actor_02/03-01-03-01-01-01-02.wav", "Actor_03/03-02-03-01-01-01-03.wav"])
    archive = tmp_path / "mine.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(tree.rglob("*.wav")):
            bundle.write(path, "Top/" + path.relative_to(tree).as_posix())
        bundle.writestr("__MACOSX/Top/Actor_02/._03-01-03-01-01-01-02.wav", b"resource fork")
    cache = tmp_path / "cache"
    clips = inventory(archive, cache_dir=cache)
    assert list(clips["clip_name"]) == [
        "speech/Actor_02/03-01-03-01-01-01-02.wav",
        "song/Actor_03/03-02-03-01-01-01-03.wav",
    ]
    extracted = sorted(path.relative_to(cache).as_posix() for path in cache.rglob("*.wav"))
    assert len(extracted) == 2 and all("/Top/" not in path for path in extracted)
    first_mtime = (cache / extracted[0]).stat().st_mtime_ns
    assert list(inventory(archive, cache_dir=cache)["clip_name"]) == list(clips["clip_name"])
    assert (cache / extracted[0]).stat().st_mtime_ns == first_mtime


def test_corrupt_zip_source_is_an_error_naming_it(tmp_path):
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(SourceError, match="broken.zip: not a valid zip file"):
        inventory(archive, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.wav")) if (tmp_path / "cache").exists() else True


def test_info_command_reports_counts_and_problems(tmp_path, capsys):
    _tree(tmp_path, ["03-01-03-01-01-01-02.wav", "03-02-03-02-01-01-01.wav", "03-01-03-01-01-01-42.wav"])
    status = cli.main(["info", "--source", str(tmp_path), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert status == 1
    assert report["clips"] == 2
    assert report["counts"]["vocal_channel"] == {"speech": 1, "song": 1}
    assert report["counts"]["gender"] == {"female": 1, "male": 1}
    assert report["counts"]["intensity"] == {"normal": 1, "strong": 1}
    assert len(report["problems"]) == 1 and "03-01-03-01-01-01-42.wav" in report["problems"][0]["message"]


# --- the full shared set ------------------------------------------------------------------


@pytest.fixture(scope="module")
def full_inventory(ravdess_dir):
    return inventory(ravdess_dir)


def test_full_set_counts(full_inventory):
    clips = full_inventory
    assert len(clips) == 2452
    assert (clips["vocal_channel"] == "speech").sum() == 1440
    assert (clips["vocal_channel"] == "song").sum() == 1012
    assert clips["actor"].nunique() == 24
    assert clips.loc[clips["vocal_channel"] == "song", "actor"].nunique() == 23
    assert 18 not in set(clips.loc[clips["vocal_channel"] == "song", "actor"])
    assert clips["clip_name"].is_unique
    assert (clips["channels"] == 2).sum() == 6


@pytest.mark.parametrize(
    "split, expected",
    [
        ("train", [140, 280, 280, 280, 280, 280, 144, 144]),
        ("dev", [24, 48, 48, 48, 48, 48, 24, 24]),
        ("test", [24, 48, 48, 48, 48, 48, 24, 24]),
    ],
)
def test_full_set_label_counts_per_original_split(full_inventory, split, expected):
    clips = full_inventory
    held_out = set(DEV_ACTORS) | set(TEST_ACTORS)
    actors = {"dev": set(DEV_ACTORS), "test": set(TEST_ACTORS), "train": set(range(1, 25)) - held_out}[split]
    chosen = clips[clips["actor"].isin(actors)]
    assert np.bincount(chosen["label"], minlength=8).tolist() == expected
    assert len(chosen) == sum(expected)


def test_full_set_info_counts(full_inventory):
    counts = RAVDESS().counts(full_inventory)
    assert counts["vocal_channel"] == {"speech": 1440, "song": 1012}
    assert counts["actor"]["18"] == 60 and counts["actor"]["01"] == 104
    assert sum(counts["emotion"].values()) == 2452
