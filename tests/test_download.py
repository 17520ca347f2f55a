"""Downloads: the resumable verified fetch, and the Zenodo archives against a local server."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile

import numpy as np
import pytest
import soundfile

from http_server import FileServer
from ravdess_prep import cli
from ravdess_prep.corpora import ravdess
from ravdess_prep.corpora.ravdess import download_ravdess
from ravdess_prep.storage.download import fetch
from ravdess_prep.exceptions import ChecksumError, DownloadError
from ravdess_prep.corpora.ravdess import inventory

SPEECH = ravdess.SPEECH_ARCHIVE
SONG = ravdess.SONG_ARCHIVE
CLIPS = {
    SPEECH: ["Actor_01/03-01-01-01-01-01-01", "Actor_01/03-01-05-02-01-02-01", "Actor_02/03-01-08-01-02-01-02"],
    SONG: ["Actor_01/03-02-05-02-01-01-01", "Actor_24/03-02-01-01-01-01-24"],
}


def _zip_of_shared_clips(ravdess_dir, archive, *, top_level):
    """A zip in the Zenodo layout holding shared clips decoded to 16-bit .wav."""
    folder = ravdess_dir / archive.removesuffix(".zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for stem in CLIPS[archive]:
            samples, rate = soundfile.read(str(folder / f"{stem}.flac"), dtype="int16")
            wav = io.BytesIO()
            soundfile.write(wav, samples, rate, subtype="PCM_16", format="WAV")
            prefix = archive.removesuffix(".zip") + "/" if top_level else ""
            bundle.writestr(prefix + stem + ".wav", wav.getvalue())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def archives(ravdess_dir):
    return {
        SPEECH: _zip_of_shared_clips(ravdess_dir, SPEECH, top_level=False),
        SONG: _zip_of_shared_clips(ravdess_dir, SONG, top_level=True),
    }


def _record(files, *, song_md5=None):
    entries = []
    for name, body in files.items():
        md5 = song_md5 if (name == SONG and song_md5) else hashlib.md5(body).hexdigest()
        entries.append({"key": name, "size": len(body), "checksum": f"md5:{md5}"})
    return json.dumps({"id": 1188976, "files": entries}).encode()


@pytest.fixture
def zenodo(archives):
    files = {f"/files/{name}": body for name, body in archives.items()}
    files["/api/records/1188976"] = _record(archives)
    with FileServer(files) as server:
        yield server


def _download(server, dest, bodies, **kwargs):
    pinned = {SPEECH: (len(bodies[SPEECH]), hashlib.md5(bodies[SPEECH]).hexdigest()), SONG: None}
    return download_ravdess(
        dest,
        checksums=pinned,
        files_url=server.url + "/files",
        api_url=server.url + "/api/records/1188976",
        backoff_seconds=0,
        progress=False,
        **kwargs,
    )


def test_pinned_speech_checksum_is_the_published_one():
    assert ravdess.ARCHIVE_CHECKSUMS[SPEECH] == (208_468_073, "bc696df654c87fed845eb13823edef8a")
    assert ravdess.ARCHIVE_CHECKSUMS[SONG] is None  # read from the records API


def test_cut_transfer_resumes_and_completes(zenodo, archives, ravdess_dir, tmp_path):
    zenodo.cut_once.add(f"/files/{SPEECH}")
    folders = _download(zenodo, tmp_path / "data", archives)
    speech_requests = [header for path, header in zenodo.requests if path == f"/files/{SPEECH}"]
    assert len(speech_requests) == 2 and speech_requests[0] is None
    resumed_at = int(speech_requests[1].removeprefix("bytes=").removesuffix("-"))
    assert 0 < resumed_at <= len(archives[SPEECH]) // 2  # resumed, not restarted

    clips = inventory(folders)
    assert len(clips) == 5
    for row in clips.itertuples():
        original = ravdess_dir / {"speech": "Audio_Speech_Actors_01-24", "song": "Audio_Song_Actors_01-24"}[
            row.vocal_channel
        ] / row.clip_name.split("/", 1)[1].replace(".wav", ".flac")
        assert np.array_equal(
            soundfile.read(row.path, dtype="int16")[0], soundfile.read(str(original), dtype="int16")[0]
        ), row.clip_name
    # archives are removed after extraction unless kept
    assert not list((tmp_path / "data" / "downloads").glob("*"))


def test_second_run_makes_no_request(zenodo, archives, tmp_path):
    first = _download(zenodo, tmp_path / "data", archives)
    zenodo.requests.clear()
    second = _download(zenodo, tmp_path / "data", archives)
    assert second == first
    assert zenodo.requests == []


def test_wrong_checksum_leaves_nothing_behind(archives, tmp_path):
    files = {f"/files/{name}": body for name, body in archives.items()}
    files["/api/records/1188976"] = _record(archives, song_md5="0" * 32)
    dest = tmp_path / "data"
    with FileServer(files) as server:
        with pytest.raises(ChecksumError) as caught:
            _download(server, dest, archives, archives=(SONG,))
    message = str(caught.value)
    assert ".part" not in message
    assert SONG in message and "0" * 32 in message and hashlib.md5(archives[SONG]).hexdigest() in message
    assert "run again" in message
    assert not (dest / SONG.removesuffix(".zip")).exists()
    assert [path.name for path in dest.rglob("*") if path.is_file()] == []


def test_corrupt_cache_entry_is_replaced(zenodo, archives, tmp_path):
    """A file at the final path that fails verification is fetched anew, not trusted."""
    target = tmp_path / "x.zip"
    target.write_bytes(b"garbage")
    fetch(zenodo.url + f"/files/{SPEECH}", target, md5=hashlib.md5(archives[SPEECH]).hexdigest(),
          backoff_seconds=0, progress=False)
    assert target.read_bytes() == archives[SPEECH]


def test_server_errors_are_retried_then_reported(zenodo, archives, tmp_path):
    path = f"/files/{SPEECH}"
    zenodo.fail_times[path] = 2
    fetch(zenodo.url + path, tmp_path / "a.zip", size_bytes=len(archives[SPEECH]), backoff_seconds=0,
          progress=False)
    assert (tmp_path / "a.zip").read_bytes() == archives[SPEECH]
    zenodo.fail_times[path] = 10
    with pytest.raises(DownloadError, match=r"failed after 3 attempts.*503"):
        fetch(zenodo.url + path, tmp_path / "b.zip", retries=2, backoff_seconds=0, progress=False)
    assert not (tmp_path / "b.zip").exists()


def test_a_host_that_does_not_resolve_fails_at_once(tmp_path):
    """No network: the name does not resolve, and trying again (6 attempts, 32 s) changed
    nothing; the error says how to build without one (.invalid never resolves)."""
    started = time.monotonic()
    with pytest.raises(DownloadError, match=r"^http://corpus\.invalid/a\.zip: the host corpus\.invalid cannot be "
                                            r"resolved \(no network here\?\); build from a local copy"):
        fetch("http://corpus.invalid/a.zip", tmp_path / "a.zip", backoff_seconds=5, progress=False)
    assert time.monotonic() - started < 5  # one attempt: the first back-off alone is 5 s
    assert not (tmp_path / "a.zip").exists()


def test_missing_file_is_a_clear_error(zenodo, tmp_path):
    with pytest.raises(DownloadError, match=r"/files/nothing.zip: HTTP 404"):
        fetch(zenodo.url + "/files/nothing.zip", tmp_path / "n.zip", backoff_seconds=0, progress=False)
    assert len(zenodo.requests) == 1


def test_download_command(zenodo, archives, tmp_path, capsys, monkeypatch):
    # The command pins the real speech checksum; point the test at the song archive only.
    monkeypatch.setattr(ravdess, "ARCHIVE_CHECKSUMS", {SPEECH: None, SONG: None})
    status = cli.main([
        "download", "--dest", str(tmp_path / "data"), "--files-url", zenodo.url + "/files",
        "--api-url", zenodo.url + "/api/records/1188976", "--no-progress",
    ])
    assert status == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(tmp_path / "data" / name.removesuffix(".zip")) for name in (SPEECH, SONG)]
    assert len(inventory(tmp_path / "data")) == 5
