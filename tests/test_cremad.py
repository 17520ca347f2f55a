"""CREMA-D as a built-in corpus: its file names, its actors and folds, the verified download of
its ``AudioWAV/`` files, ``info`` and a build.

The audio of CREMA-D does not reach these machines. Its file list (sizes and SHA-256 of the
repository's LFS pointers) and its actors' demographics do, in ``../shared/cremad``: the tables
the package ships are compared with them. The trees and the served files here hold audio the
tests make, under the corpus's real file names; the download is checked against a local server
with a list of those files' sizes and checksums (see docs/corpora/cremad.md).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json

import numpy as np
import pytest
import soundfile

from commands import error_line, run_command
from conftest import require_opensmile, require_shared, write_audio
from http_server import FileServer
from ravdess_prep.corpora import cremad, get_corpus
from ravdess_prep.corpora.cremad import parse_cremad_name
from ravdess_prep.exceptions import ClipNameError

EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")


def _wav_bytes(seed: int, seconds: float = 0.5) -> bytes:
    """A short tone at 16 kHz as the bytes of a 16-bit WAV file."""
    t = np.arange(int(16000 * seconds)) / 16000
    tone = 0.3 * np.sin(2 * np.pi * (150 + 25 * seed) * t) * np.hanning(t.size)
    stream = io.BytesIO()
    soundfile.write(stream, np.concatenate([np.zeros(400), tone, np.zeros(400)]), 16000, format="WAV",
                    subtype="PCM_16")
    return stream.getvalue()


def _tree(root, actors=range(1001, 1092)):
    """One clip per actor, the emotion and sentence turning with the actor, under ``AudioWAV/``."""
    for actor in actors:
        name = f"{actor}_{SENTENCES[actor % 12]}_{EMOTIONS[actor % 6]}_XX.wav"
        (root / "AudioWAV").mkdir(parents=True, exist_ok=True)
        (root / "AudioWAV" / name).write_bytes(_wav_bytes(actor % 6, 0.4 + 0.002 * (actor % 50)))
    return root / "AudioWAV"


def test_a_name_gives_actor_sentence_emotion_and_intensity():
    row = parse_cremad_name("AudioWAV/1001_DFA_ANG_XX.wav")
    assert row == {"clip_name": "1001_DFA_ANG_XX.wav", "speaker": 1001, "gender": "male", "age": 51,
                   "sentence": "DFA", "emotion": "anger", "emotion_code": "ANG", "label": 0,
                   "intensity": "unspecified", "intensity_code": "XX"}
    assert parse_cremad_name("1002_IEO_SAD_HI.wav")["gender"] == "female"
    assert parse_cremad_name("1091_WSI_NEU_XX.wav")["label"] == 4
    assert get_corpus("cremad").label_names == ("anger", "disgust", "fear", "happy", "neutral", "sad")
    assert get_corpus("cremad").canonical() == ("angry", "disgust", "fearful", "happy", "neutral", "sad")
    for name, message in (("1001_DFA_ANG.wav", "does not follow the CREMA-D scheme"),
                          ("1092_DFA_ANG_XX.wav", "actor 1092 is not a CREMA-D actor"),
                          ("1001_ABC_ANG_XX.wav", "sentence 'ABC' is not a CREMA-D sentence"),
                          ("1001_DFA_CAL_XX.wav", "emotion 'CAL' is not one of CREMA-D's"),
                          ("1001_IEO_ANG_ZZ.wav", "intensity 'ZZ' is not one of CREMA-D's"),
                          ("1001_DFA_ANG_HI.wav", "intensity 'HI' of sentence 'DFA', which CREMA-D has only "
                                                  r"unspecified \(XX\); only IEO has"),
                          ("1001_DFA_ANG_XX.mp3", "extension '.mp3'")):
        with pytest.raises(ClipNameError, match=message) as caught:
            parse_cremad_name(name)
        assert name in str(caught.value)


def test_the_shipped_tables_are_the_published_ones_and_the_folds_are_balanced_by_sex():
    shared = require_shared("cremad")
    with open(shared / "audiowav_files.csv", newline="") as stream:
        published = {row["path"]: (int(row["size"]), row["sha256"]) for row in csv.DictReader(stream)}
    assert len(published) == 7442
    assert {f"AudioWAV/{name}": entry for name, entry in cremad.published_files().items()} == published
    # every published name parses: 91 actors, 6 emotions, 12 sentences
    rows = [parse_cremad_name(path) for path in published]
    assert len({row["speaker"] for row in rows}) == 91 and len({row["sentence"] for row in rows}) == 12
    assert np.bincount([row["label"] for row in rows]).tolist() == [1271, 1271, 1271, 1271, 1087, 1271]
    with open(shared / "VideoDemographics.csv", newline="") as stream:
        sex = {int(row["ActorID"]): row["Sex"] for row in csv.DictReader(stream)}
    assert {actor: (entry[0], entry[1]) for actor, entry in cremad.actors().items()} == {
        actor: (sex[actor].lower(), cremad.actors()[actor][1]) for actor in sex}
    assert cremad.actors()[1001] == ("male", 51) and cremad.actors()[1091][0] == sex[1091].lower()
    corpus = get_corpus("cremad")
    preset = corpus.preset("folds5")
    folds = [preset.speakers(fold=fold, speakers=corpus.speakers) for fold in range(1, 6)]
    tests = [set(test) for _, test in folds]
    assert set().union(*tests) == set(range(1001, 1092)) and sum(map(len, tests)) == 91
    women = [sum(sex[actor] == "Female" for actor in test) for test in tests]
    men = [sum(sex[actor] == "Male" for actor in test) for test in tests]
    assert max(women) - min(women) <= 1 and max(men) - min(men) <= 1 and sum(women) == 43
    assert folds[0][0] == tuple(sorted(tests[1]))  # fold 1's dev is fold 2's test
    dev, test = corpus.default_dev_speakers, corpus.default_test_speakers
    assert set(dev) == tests[3] and set(test) == tests[4]


def _served(names_and_bodies):
    """The list the download verifies against, for files the test serves."""
    return {name: (len(body), hashlib.sha256(body).hexdigest()) for name, body in names_and_bodies.items()}


def test_the_download_verifies_every_file_names_each_failure_and_resumes(tmp_path, capsys, monkeypatch):
    bodies = {f"{1001 + index}_DFA_{EMOTIONS[index]}_XX.wav": _wav_bytes(index) for index in range(6)}
    monkeypatch.setattr(cremad, "published_files", lambda: _served(bodies))
    damaged, missing = "1002_DFA_DIS_XX.wav", "1005_DFA_NEU_XX.wav"
    served = {f"/media/AudioWAV/{name}": body for name, body in bodies.items() if name != missing}
    served[f"/media/AudioWAV/{damaged}"] = bodies[damaged][:-2] + b"\x01\x02"
    dest = tmp_path / "cremad"
    with FileServer(served) as server:
        args = ("download", "--corpus", "cremad", "--dest", dest, "--files-url", server.url + "/media", "--no-progress")
        status, _, err = run_command(capsys, *args)
        line = error_line(err)
        assert status == 1 and "2 of 6 files failed" in line
        assert f"{damaged}" in line and "SHA256 is" in line and f"{missing}: HTTP 404" in line
        assert not (dest / "AudioWAV").exists()  # nothing half-written where the corpus goes
        staged = dest / ".AudioWAV.download"
        assert sorted(path.name for path in staged.iterdir()) == sorted(set(bodies) - {damaged, missing})
        # the server mended: only the two failed files are fetched again
        server.files[f"/media/AudioWAV/{damaged}"] = bodies[damaged]
        server.files[f"/media/AudioWAV/{missing}"] = bodies[missing]
        server.requests.clear()
        status, out, err = run_command(capsys, *args)
        assert status == 0, err
        assert sorted(path for path, _ in server.requests) == sorted(f"/media/AudioWAV/{name}"
                                                                     for name in (damaged, missing))
        assert out.strip() == str(dest / "AudioWAV") and not staged.exists()
        assert {path.name: path.read_bytes() for path in (dest / "AudioWAV").glob("*.wav")} == bodies
        server.requests.clear()
        assert run_command(capsys, *args)[0] == 0 and server.requests == []  # complete: no request
        status, out, _ = run_command(capsys, "info", "--corpus", "cremad", "--source", dest / "AudioWAV", "--json",
                                     "--verify")
        assert status == 0 and json.loads(out)["clips"] == 6 and json.loads(out)["problems"] == []
        # a copy compared with the list: a changed byte, a file the list lacks, a listed file missing
        copy = tmp_path / "copy"
        for name, body in bodies.items():
            if name != missing:
                write_audio(copy / name, np.zeros(10), sample_rate_hz=16000)
                (copy / name).write_bytes(body if name != damaged else body[:-1] + bytes([body[-1] ^ 1]))
        (copy / "1091_WSI_SAD_XX.wav").write_bytes(bodies[missing])
        status, out, _ = run_command(capsys, "info", "--corpus", "cremad", "--source", copy, "--verify")
        assert status == 1 and "3 problems" in out
        assert f"{copy / damaged}: SHA-256 is {hashlib.sha256((copy / damaged).read_bytes()).hexdigest()}" in out
        assert f"{copy / '1091_WSI_SAD_XX.wav'}: not a file of the cremad corpus's published list" in out
        assert f"1 of the 6 published files are not among the clips ({missing})" in out
        # a folder the library did not write is named and left as it is
        other = tmp_path / "mine"
        write_audio(other / "AudioWAV" / "1001_DFA_ANG_XX.wav", np.zeros(160), sample_rate_hz=16000)
        status, _, err = run_command(capsys, "download", "--corpus", "cremad", "--dest", other, "--files-url",
                                     server.url + "/media", "--no-progress")
        assert status == 1 and "was not downloaded by ravdess-prep" in error_line(err)
        assert [path.name for path in (other / "AudioWAV").iterdir()] == ["1001_DFA_ANG_XX.wav"]
    status, _, err = run_command(capsys, "info", "--source", tmp_path, "--verify")
    assert status == 1 and "the ravdess corpus publishes no list" in error_line(err)
    # the options of another corpus's download
    status, _, err = run_command(capsys, "download", "--corpus", "cremad", "--dest", dest, "--keep-archives")
    assert status == 2 and "--keep-archives is not an option of the cremad corpus's download" in err


def test_info_counts_actors_and_emotions_and_lists_every_problem(tmp_path, capsys):
    wav = _tree(tmp_path, actors=range(1001, 1013))
    status, out, _ = run_command(capsys, "info", "--corpus", "cremad", "--source", wav, "--json")
    report = json.loads(out)
    assert status == 0 and report["clips"] == 12 and report["problems"] == []
    assert report["counts"]["actor"] == {str(actor): 1 for actor in range(1001, 1013)}
    assert report["counts"]["emotion"] == dict.fromkeys(get_corpus("cremad").label_names, 2)
    assert sum(report["counts"]["gender"].values()) == 12
    (wav / "1001_DFA_ANG.wav").write_bytes(_wav_bytes(0))
    (wav / "1092_DFA_ANG_XX.wav").write_bytes(_wav_bytes(0))
    (wav / "again").mkdir()
    (wav / "again" / "1001_IEO_ANG_XX.wav").write_bytes(_wav_bytes(1))
    (wav / "1001_IEO_ANG_XX.wav").write_bytes(_wav_bytes(1))
    status, out, _ = run_command(capsys, "info", "--corpus", "cremad", "--source", wav)
    assert status == 1
    assert "1001_DFA_ANG.wav: name '1001_DFA_ANG' does not follow the CREMA-D scheme" in out
    assert "1092_DFA_ANG_XX.wav: actor 1092 is not a CREMA-D actor" in out
    assert "clip name 1001_IEO_ANG_XX.wav is already taken by" in out
    assert "3 problems" in out


def test_one_recording_under_two_names_is_refused_but_the_published_pairs_are_kept(tmp_path, capsys):
    # the published list gives one SHA-256 to three pairs of names, each with two emotions
    assert set(get_corpus("cremad").published_duplicates) == {
        frozenset({"1006_TIE_HAP_XX.wav", "1006_TIE_NEU_XX.wav"}),
        frozenset({"1013_WSI_DIS_XX.wav", "1013_WSI_SAD_XX.wav"}),
        frozenset({"1017_IWW_ANG_XX.wav", "1017_IWW_FEA_XX.wav"})}
    wav = _tree(tmp_path, actors=range(1001, 1013))
    original = wav / "1001_MTI_SAD_XX.wav"
    (wav / "1001_IEO_ANG_LO.wav").write_bytes(original.read_bytes())
    status, out, _ = run_command(capsys, "info", "--corpus", "cremad", "--source", wav)
    assert status == 1
    assert f"1001_MTI_SAD_XX.wav: the same bytes as {wav / '1001_IEO_ANG_LO.wav'} (one recording under two clip " \
           "names)" in out
    (wav / "1001_IEO_ANG_LO.wav").unlink()
    for name in ("1006_TIE_HAP_XX.wav", "1006_TIE_NEU_XX.wav"):
        (wav / name).write_bytes(_wav_bytes(9, 0.45))
    status, out, _ = run_command(capsys, "info", "--corpus", "cremad", "--source", wav, "--json")
    assert status == 0 and json.loads(out)["clips"] == 14


def test_a_build_in_the_fixed_split_and_a_fold(tmp_path, capsys):
    require_opensmile()
    wav = _tree(tmp_path)
    corpus = get_corpus("cremad")
    for preset, extra, dev, test in (("original", (), corpus.default_dev_speakers, corpus.default_test_speakers),
                                     ("folds5", ("--fold", "2"), corpus.preset("folds5").speakers(
                                         fold=2, speakers=corpus.speakers)[0], None)):
        out = tmp_path / preset
        status, _, err = run_command(capsys, "build", "--corpus", "cremad", "--source", wav, "--embedder", "egemaps",
                                     "--out", out, "--cache-dir", tmp_path / "cache", "--no-progress",
                                     "--split-preset", preset, *extra)
        assert status == 0, err
        manifest = json.loads((out / "manifest.json").read_text())
        splits = {name: split["speakers"] for name, split in manifest["splits"].items()}
        assert splits["dev"] == sorted(dev) and len(splits["dev"]) == 18
        if test is not None:
            assert splits["test"] == sorted(test)
        assert sum(len(speakers) for speakers in splits.values()) == 91
        assert sum(split["clips"] for split in manifest["splits"].values()) == 91
        assert np.load(out / "train" / "train_embeddings.npy").shape == (len(splits["train"]), 88)
    assert manifest["corpus"]["name"] == "cremad" and manifest["corpus"]["license"]["name"].startswith("ODbL 1.0")
    assert manifest["corpus"]["canonical_names"] == ["angry", "disgust", "fearful", "happy", "neutral", "sad"]
    card = (out / "README.md").read_text()
    assert "CREMA-D" in card and "ODbL 1.0" in card and "Cao H" in card and 'license: "odbl"' in card
    assert "| 2 | fear | fearful |" in card
