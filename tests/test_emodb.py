"""EmoDB as a built-in corpus: its file names, its speakers and emotions, ``info`` and a build.

No copy of EmoDB reaches these machines. The trees here hold audio the tests make, under the
corpus's real file names (``wav/SSTTTEV.wav``), its ten speakers, ten sentences and seven
emotion letters; nothing about names, labels or speakers is made up. What a real copy would add
(535 files, their sound) is not checked here (see docs/corpora/emodb.md).
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import soundfile
import yaml

from commands import error_line, run_command
from conftest import require_opensmile, write_audio
from http_server import FileServer
from ravdess_prep.corpora import get_corpus
from ravdess_prep.corpora.emodb import parse_emodb_name
from ravdess_prep.corpora.base import Corpus
from ravdess_prep.corpora.emotions import CANONICAL
from ravdess_prep.exceptions import ClipNameError, ParameterError

#: The speakers and their sex, as the corpus's documentation lists them.
SPEAKERS = {3: "male", 8: "female", 9: "female", 10: "male", 11: "male", 12: "male", 13: "female", 14: "female",
            15: "male", 16: "female"}
LETTERS = "WLEAFTN"
TEXTS = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")


def _tree(root, speakers=SPEAKERS):
    """One utterance per speaker and emotion, each a short tone at 16 kHz, under ``wav/``."""
    rng = np.random.default_rng(0)
    for speaker in speakers:
        for index, letter in enumerate(LETTERS):
            t = np.arange(int(16000 * rng.uniform(0.5, 0.9))) / 16000
            tone = 0.3 * np.sin(2 * np.pi * (180 + 40 * index + speaker) * t) * np.hanning(t.size)
            write_audio(root / "wav" / f"{speaker:02d}{TEXTS[(speaker + index) % 10]}{letter}a.wav",
                        np.concatenate([np.zeros(800), tone, np.zeros(800)]), sample_rate_hz=16000)
    return root / "wav"


def test_a_name_gives_speaker_text_emotion_and_version():
    row = parse_emodb_name("some/folder/03a01Fa.wav")
    assert row == {"clip_name": "03a01Fa.wav", "speaker": 3, "gender": "male", "age": 31, "text": "a01",
                   "emotion": "happiness", "emotion_code": "F", "label": 4, "version": "a"}
    assert parse_emodb_name("16b10Tb.wav")["emotion"] == "sadness" and parse_emodb_name("08a02Wc.wav")["age"] == 34
    assert get_corpus("emodb").label_names == ("anger", "boredom", "disgust", "fear", "happiness", "sadness", "neutral")
    for name, message in (("03a01F.wav", "does not follow the EmoDB scheme"),
                          ("04a01Fa.wav", "speaker 04 is not an EmoDB speaker"),
                          ("03a03Fa.wav", "text 'a03' is not an EmoDB sentence"),
                          ("03a01Xa.wav", "emotion letter 'X' is not one of EmoDB's"),
                          ("03a01Fa.mp4", "extension '.mp4'")):
        with pytest.raises(ClipNameError, match=message) as caught:
            parse_emodb_name(name)
        assert name in str(caught.value)


def test_info_counts_speakers_and_emotions_and_lists_every_problem(tmp_path, capsys):
    wav = _tree(tmp_path)
    status, out, _ = run_command(capsys, "info", "--corpus", "emodb", "--source", wav, "--json")
    report = json.loads(out)
    assert status == 0 and report["clips"] == 70 and report["problems"] == []
    assert report["counts"]["speaker"] == {f"{speaker:02d}": 7 for speaker in sorted(SPEAKERS)}
    assert report["counts"]["emotion"] == {emotion: 10 for emotion in get_corpus("emodb").label_names}
    assert report["counts"]["gender"] == {"female": 35, "male": 35}
    # a name that does not parse, an unknown speaker, the same utterance twice
    write_audio(wav / "03a01F.wav", np.zeros(1600), sample_rate_hz=16000)
    write_audio(wav / "05a01Fa.wav", np.zeros(1600), sample_rate_hz=16000)
    write_audio(wav / "again" / "03a02Fa.wav", np.zeros(1600), sample_rate_hz=16000)
    write_audio(wav / "03a02Fa.wav", np.zeros(1600), sample_rate_hz=16000)
    status, out, _ = run_command(capsys, "info", "--corpus", "emodb", "--source", wav)
    assert status == 1
    assert "03a01F.wav: name '03a01F' does not follow the EmoDB scheme" in out
    assert "05a01Fa.wav: speaker 05 is not an EmoDB speaker" in out
    assert "clip name 03a02Fa.wav is already taken by" in out
    assert "3 problems" in out


def test_an_unknown_corpus_lists_the_known_ones(tmp_path, capsys):
    status, _, err = run_command(capsys, "info", "--corpus", "emo-db", "--source", tmp_path)
    assert status == 2 and "has to be one of ravdess, emodb, cremad, table, audformat, not 'emo-db'" in err


def test_a_build_of_ten_speakers_and_seven_emotions(tmp_path, capsys):
    require_opensmile()
    wav = _tree(tmp_path)
    out = tmp_path / "egemaps"
    status, printed, err = run_command(capsys, "build", "--corpus", "emodb", "--source", wav, "--embedder", "egemaps",
                                       "--out", out, "--cache-dir", tmp_path / "cache", "--no-progress")
    assert status == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert {name: split["speakers"] for name, split in manifest["splits"].items()} == {
        "train": [11, 12, 13, 14, 15, 16], "dev": [9, 10], "test": [3, 8]}
    assert {name: split["clips"] for name, split in manifest["splits"].items()} == {"train": 42, "dev": 14, "test": 14}
    assert manifest["corpus"]["name"] == "emodb" and manifest["corpus"]["label_names"][0] == "anger"
    assert manifest["corpus"]["license"]["name"].startswith("CC0 1.0")
    assert "Burkhardt F" in manifest["corpus"]["citation"]
    assert np.load(out / "train" / "train_embeddings.npy").shape == (42, 88)
    assert sorted(set(np.load(out / "test" / "test_labels.npy").tolist())) == list(range(7))
    assert manifest["corpus"]["canonical_names"] == ["angry", "boredom", "disgust", "fearful", "happy", "sad",
                                                     "neutral"]
    card = (out / "README.md").read_text()
    assert "EmoDB" in card and "CC0 1.0" in card and 'license: "cc0-1.0"' in card
    assert "| 4 | happiness | happy |" in card and "| 3 | fear | fearful |" in card
    front = yaml.safe_load(card.split("---")[1])
    assert front["language"] == ["de"] and front["license"] == "cc0-1.0"
    status, _, _ = run_command(capsys, "build", "--corpus", "emodb", "--source", wav, "--embedder", "egemaps",
                               "--out", tmp_path / "loso", "--cache-dir", tmp_path / "cache", "--no-progress",
                               "--split-preset", "loso", "--fold", "3")
    loso = json.loads((tmp_path / "loso" / "manifest.json").read_text())["splits"]
    assert status == 0 and loso["test"]["speakers"] == [9] and loso["test"]["clips"] == 7


def test_every_corpus_maps_its_labels_onto_one_vocabulary(small_build):
    """RAVDESS's names are canonical already; EmoDB's are mapped; a corpus without a mapping
    whose names are not canonical has none; a wrong mapping is named."""
    assert get_corpus("ravdess").canonical() == get_corpus("ravdess").label_names
    assert set(get_corpus("ravdess").canonical()) | set(get_corpus("emodb").canonical()) == set(CANONICAL)
    manifest = json.loads((small_build.out / "manifest.json").read_text())
    assert manifest["corpus"]["canonical_names"] == manifest["corpus"]["label_names"]
    assert "| 1 | calm | calm |" in (small_build.out / "README.md").read_text()

    class Toy(Corpus):
        name, title, label_names = "toy", "A toy corpus", ("joy", "grief")

    assert Toy().canonical() is None and "canonical_names" not in Toy().describe()
    for names, message in ((("happy",), "1 canonical names for 2 labels"), (("happy", "glad"), "'glad' is not a "
                                                                             "canonical emotion"),
                           (("sad", "sad"), "named twice")):
        Toy.canonical_names = names
        with pytest.raises(ParameterError, match=message):
            Toy().canonical()
    Toy.canonical_names = ("happy", "sad")
    assert Toy().describe()["canonical_names"] == ["happy", "sad"]


def _corpus_zip(drop: int = 0) -> bytes:
    """A zip laid out as the site's ``download.zip`` (``wav/`` and a folder of labels), with
    the corpus's 535 utterance names (its counts per emotion; audio the test makes), less the
    last ``drop``."""
    counts = {"W": 127, "L": 81, "E": 46, "A": 69, "F": 71, "T": 62, "N": 79}
    names = []
    for letter, count in counts.items():
        every = [f"{speaker:02d}{text}{letter}{version}.wav" for version in "ab" for speaker in SPEAKERS
                 for text in TEXTS]
        names += every[:count]
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as bundle:
        for index, name in enumerate(names[:len(names) - drop]):  # each file its own bytes
            wav = io.BytesIO()
            soundfile.write(wav, np.sin(np.arange(1600 + index) / 5) * 0.1, 16000, format="WAV", subtype="PCM_16")
            bundle.writestr(f"wav/{name}", wav.getvalue())
        bundle.writestr("lablaut/03a01Fa.lab", "labels\n")
    return stream.getvalue()


def test_the_download_is_checked_by_what_it_holds_and_extracted_whole(tmp_path, capsys):
    whole, short = _corpus_zip(), _corpus_zip(drop=1)
    with FileServer({"/site/download.zip": whole, "/short/download.zip": short}) as server:
        dest = tmp_path / "emodb"
        args = ("download", "--corpus", "emodb", "--dest", dest, "--files-url", server.url + "/site", "--no-progress")
        status, out, err = run_command(capsys, *args)
        assert status == 0, err
        assert out.strip() == str(dest / "download") and not (dest / "downloads" / "download.zip").exists()
        status, printed, _ = run_command(capsys, "info", "--corpus", "emodb", "--source", dest / "download", "--json")
        report = json.loads(printed)
        assert status == 0 and report["clips"] == 535 and len(report["counts"]["speaker"]) == 10
        assert report["counts"]["emotion"] == {"anger": 127, "boredom": 81, "disgust": 46, "fear": 69,
                                               "happiness": 71, "sadness": 62, "neutral": 79}
        server.requests.clear()
        assert run_command(capsys, *args)[0] == 0 and server.requests == []  # in place: no request
        # an archive that is not the corpus: named, deleted, nothing extracted
        other = tmp_path / "other"
        status, _, err = run_command(capsys, "download", "--corpus", "emodb", "--dest", other, "--files-url",
                                     server.url + "/short", "--no-progress")
        line = error_line(err)
        assert status == 1 and "it holds 534 utterances" in line and "the corpus 535" in line
        assert not (other / "download").exists() and not (other / "downloads" / "download.zip").exists()
        status, _, err = run_command(capsys, "download", "--corpus", "emodb", "--dest", other, "--files-url",
                                     server.url + "/gone", "--no-progress")
        assert status == 1 and "download.zip: HTTP 404" in error_line(err)
