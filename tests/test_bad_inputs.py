"""Nothing lost, nothing silent: every bad input and interruption ends in one clear line naming
the file, or in a correct result; the output, the cache and the user's files survive. The
damage is made here, on copies of real clips."""

from __future__ import annotations

import errno
import dataclasses
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

from commands import run_command
from conftest import SPEECH, copy_clips, write_audio
from http_server import FileServer
from ravdess_prep.dataset.manifest import Manifest
import ravdess_prep
from ravdess_prep import cli, pipeline
from ravdess_prep.exceptions import AudioError, ModelFileError, OutputError, SourceError, SplitError
from ravdess_prep.storage import lock as lock_module
from ravdess_prep.storage.lock import OutputLock
from ravdess_prep.storage.atomic import recover_leftovers, replace_folder, staging_folder

SMALL = pipeline.Config(allow_missing_speakers=True, dev_speakers=(8,), test_speakers=(11,))


def _tree(ravdess_dir, destination, *, actors=(1, 8, 11), speech=2, song=1):
    return copy_clips(ravdess_dir, destination, actors, speech=speech, song=song)


@pytest.fixture(scope="module")
def tree(ravdess_dir, tmp_path_factory):
    return _tree(ravdess_dir, tmp_path_factory.mktemp("bad-tree"))


@pytest.fixture(scope="module")
def built(tree, model_files_kwargs, tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-built")
    return pipeline.build(SMALL, out=root / "out", source=tree,
                          run=pipeline.Run(cache_dir=root / "cache", jobs=2, progress=False), **model_files_kwargs)


def _files(folder: Path) -> dict:
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def _npy(folder: Path) -> dict:
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*.npy"))}


# --- output safety ---------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["source", "parent of the source", "cache", "foreign folder", "model file", "file"])
def test_an_output_that_would_lose_data_is_refused_before_any_work(where, tree, vggish_files, tmp_path,
                                                                   model_files_kwargs):
    source = tmp_path / "data" / "ravdess"
    shutil.copytree(tree, source)
    cache = tmp_path / "cache"
    files = model_files_kwargs["files"]
    if where == "source":
        out = source
    elif where == "parent of the source":
        out = tmp_path / "data"
    elif where == "cache":
        cache.mkdir()
        out = cache
    elif where == "foreign folder":
        out = tmp_path / "thesis"
        out.mkdir()
        (out / "chapter1.tex").write_text("years of work")
    elif where == "model file":
        out = tmp_path / "models"
        out.mkdir()
        shutil.copyfile(vggish_files.pca_params, out / "pca.npz")
        files = dataclasses.replace(vggish_files, pca_params=out / "pca.npz")
    else:
        out = tmp_path / "notes.txt"
        out.write_text("mine")
    before = {folder: _files(folder) for folder in (tmp_path,)}
    with pytest.raises(OutputError, match="choose another --out") as caught:
        pipeline.build(SMALL, out=out, source=source, files=files,
                       run=pipeline.Run(cache_dir=cache, jobs=2, progress=False))
    assert str(out.resolve()) in str(caught.value)
    assert _files(tmp_path) == before[tmp_path]  # nothing written, nothing deleted
    status = cli.main(["build", "--source", str(source), "--out", str(out), "--cache-dir", str(cache),
                       "--no-progress", "--allow-missing-speakers", "--dev-actors", "8", "--test-actors", "11"])
    assert status == 1 and _files(tmp_path) == before[tmp_path]


def test_a_failed_build_leaves_no_folder_behind(tmp_path):
    with pytest.raises(SourceError, match="no such file or folder"):
        pipeline.build(SMALL, out=tmp_path / "new" / "deeper" / "out", source=tmp_path / "missing",
                       run=pipeline.Run(cache_dir=tmp_path / "cache", progress=False))
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_a_folder_this_library_wrote_is_replaced(built, tree, model_files_kwargs, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(built.out, out)
    again = pipeline.build(SMALL.replace(shuffle_seed=3), out=out, source=tree,
                           run=pipeline.Run(cache_dir=built.out.parent / "cache", progress=False), **model_files_kwargs)
    assert again.cached == 9 and Manifest.read(out)["config"]["shuffle_seed"] == 3
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]  # no staging or old folder left


def test_the_replacement_keeps_a_whole_output_at_every_instant(built, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(built.out, out)
    staging = staging_folder(out)
    shutil.copytree(built.out, staging)
    (staging / "new.txt").write_text("new")
    replace_folder(staging, out)
    assert (out / "new.txt").is_file() and (out / "manifest.json").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]


def test_leftovers_of_a_dead_build_are_cleaned_and_a_lost_output_restored(built, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has ended
    out = tmp_path / "out"
    shutil.copytree(built.out, tmp_path / f".out.old-{pid}")  # killed between the two renames: no out
    shutil.copytree(built.out, tmp_path / f".out.partial-{pid}")
    (tmp_path / f".out.partial-{os.getpid()}").mkdir()  # this process's own: kept
    (tmp_path / ".other.partial-1").mkdir()  # another folder's: not ours to judge
    removed = recover_leftovers(out)
    assert removed == [tmp_path / f".out.partial-{pid}"]
    assert _files(out) == _files(built.out)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([f".out.partial-{os.getpid()}", ".other.partial-1",
                                                                       "out"])


def test_a_full_disk_when_the_lock_is_taken_leaves_nothing(tmp_path, monkeypatch):
    out = tmp_path / "new" / "out"

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(lock_module.os, "write", full)
    with pytest.raises(OutputError, match=r"\.out\.lock: the lock cannot be written \(no space left on the device\)"):
        with OutputLock(out):
            pass
    assert not (tmp_path / "new").exists()  # neither the lock file nor the folder made for it


def test_two_writers_of_one_output_one_wins(built, tmp_path):
    out = tmp_path / "out"
    with OutputLock(out):
        with pytest.raises(OutputError, match=f"another build is writing this folder \\(process {os.getpid()}\\)"):
            with OutputLock(out):
                pass
        code = textwrap.dedent(f"""
            from ravdess_prep import cli
            raise SystemExit(cli.main(["build", "--source", {str(built.out)!r}, "--out", {str(out)!r}, "--no-progress"]))
        """)
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert other.returncode == 1 and "another build is writing this folder" in other.stderr
    assert "Traceback" not in other.stderr
    assert not out.exists() and not (tmp_path / ".out.lock").exists()


# --- a verified cache --------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "empty", "wrong shape", "wrong type"])
def test_a_damaged_cache_entry_is_named_recomputed_and_never_used(damage, built, tree, model_files_kwargs, tmp_path,
                                                                   caplog):
    cache = tmp_path / "cache"
    shutil.copytree(built.out.parent / "cache", cache)
    entries = sorted((cache / "clips").rglob("*.npy"))
    victim = entries[4]
    data = victim.read_bytes()
    if damage == "flipped byte":
        victim.write_bytes(data[:-5] + bytes([data[-5] ^ 0x40]) + data[-4:])
    elif damage == "truncated":
        victim.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        victim.write_bytes(b"")
    else:  # stored with a matching digest: the shape and type checks find these
        import hashlib
        import io

        value = np.load(victim)
        value = value[:-1] if damage == "wrong shape" else value.astype(np.float32)
        buffer = io.BytesIO()
        np.save(buffer, value)
        audio, key, _ = victim.stem.split("-")
        victim.unlink()
        victim = victim.with_name(f"{audio}-{key}-{hashlib.sha256(buffer.getvalue()).hexdigest()[:16]}.npy")
        victim.write_bytes(buffer.getvalue())
    again = pipeline.build(SMALL, out=tmp_path / "out", source=tree,
                           run=pipeline.Run(cache_dir=cache, jobs=2, progress=False), **model_files_kwargs)
    assert (again.computed, again.cached) == (1, 8)
    assert [path for path, _ in again.rejected] == [victim]
    assert str(victim) in caplog.text
    assert _npy(again.out) == _npy(built.out)


# --- every input read whole or refused ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["wav", "flac"])
def test_truncated_audio_is_named_by_info_and_build(kind, ravdess_dir, model_files_kwargs, tmp_path, capsys):
    tree = _tree(ravdess_dir, tmp_path / "tree")
    victim = sorted(tree.rglob("*.flac"))[2]
    if kind == "wav":
        samples, rate = soundfile.read(str(victim), dtype="int16")
        victim.unlink()
        victim = victim.with_suffix(".wav")
        soundfile.write(str(victim), samples, rate, subtype="PCM_16")
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) * 2 // 3])
    assert cli.main(["info", "--source", str(tree)]) == 1
    printed = capsys.readouterr().out
    assert f"{victim}: the " in printed and ("truncated" in printed or "cannot be decoded to its end" in printed)
    with pytest.raises(SourceError, match=str(victim)):
        pipeline.build(SMALL, out=tmp_path / "out", source=tree,
                       run=pipeline.Run(cache_dir=tmp_path / "cache", progress=False), **model_files_kwargs)
    assert not (tmp_path / "out").exists()


def test_symlinked_folders_are_followed_once(ravdess_dir, tmp_path):
    real = _tree(ravdess_dir, tmp_path / "real", actors=(1,), speech=2, song=0)
    source = tmp_path / "source"
    source.mkdir()
    (source / "actor01").symlink_to(real / SPEECH / "Actor_01", target_is_directory=True)
    (source / "actor01" / "loop").symlink_to(source, target_is_directory=True)  # a link back up
    clips = pipeline.source(source)
    assert len(clips) == 2 and all("/actor01/" in path for path in clips["path"])


def test_missing_speakers_and_empty_splits_are_named_unless_allowed(tree):
    clips = pipeline.source(tree)
    with pytest.raises(SplitError, match="the dev speakers 19, 24 have no clip.*the test speakers 14, 15") as caught:
        pipeline.split(clips, pipeline.Config())
    assert "allow_missing_speakers=True" in str(caught.value)
    with pytest.raises(SplitError, match="the test split is empty"):
        pipeline.split(clips, pipeline.Config(dev_speakers=(1, 8), test_speakers=(2,), allow_missing_speakers=False))
    assert len(pipeline.split(clips, pipeline.Config(allow_missing_speakers=True))) == 9
    three = pipeline.Config(speakers=(1, 8, 11))
    chosen = pipeline.source(tree, three)  # actors left out on purpose are not missing
    assert len(pipeline.split(chosen, three)) == 9


def test_channel_policy_and_a_clip_silent_only_in_the_chosen_channel(ravdess_dir, model_files_kwargs, tmp_path):
    tree = _tree(ravdess_dir, tmp_path / "tree")
    samples, rate = soundfile.read(str(sorted(tree.rglob("*.flac"))[0]), dtype="float64")
    stereo = np.stack([np.zeros_like(samples), samples], axis=1)  # the voice in the second channel only
    victim = tree / SPEECH / "Actor_01" / "03-01-08-02-02-02-01.wav"
    write_audio(victim, stereo, sample_rate_hz=rate)
    result = pipeline.build(SMALL, out=tmp_path / "first", source=tree,
                            run=pipeline.Run(cache_dir=tmp_path / "cache", progress=False), **model_files_kwargs)
    handled = {entry["clip"]: (entry["policy"], entry["active_channels"])
               for entry in result.manifest["handled_by_policy"]}
    assert handled == {"speech/Actor_01/03-01-08-02-02-02-01.wav":
                       ("no active sample: kept whole; silent in channel 1 but not in channel 2", [2])}
    mean = pipeline.build(SMALL.replace(channel="mean"), out=tmp_path / "mean", source=tree,
                          run=pipeline.Run(cache_dir=tmp_path / "cache", progress=False), **model_files_kwargs)
    assert mean.manifest["handled_by_policy"] == [] and mean.manifest["config"]["channel"] == "mean"
    assert mean.computed == 10  # another channel policy is another cache key


# --- model files checked for meaning -----------------------------------------------------------


def test_a_checkpoint_with_nan_or_damaged_data_is_a_model_file_error(vggish_files, tmp_path):
    from vggish import params
    from vggish.testing import write_random_checkpoint

    biases = np.zeros(params.VARIABLE_SHAPES["vggish/fc2/biases"], np.float32)
    biases[7] = np.nan
    nan = write_random_checkpoint(tmp_path / "nan.ckpt", seed=1, values={"vggish/fc2/biases": biases})
    with pytest.raises(ModelFileError, match="nan.ckpt: vggish/fc2/biases holds 1 NaN or infinite values"):
        pipeline.model_files(pipeline.Config(), dataclasses.replace(vggish_files, checkpoint=nan))
    damaged = write_random_checkpoint(tmp_path / "damaged" / "model.ckpt", seed=2, version=2)
    data_file = next((tmp_path / "damaged").glob("model.ckpt.data-*"))
    data = bytearray(data_file.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = b"\xff" * 4096  # the data damaged, the index intact
    data_file.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"model.ckpt: the data of .* cannot be read \(damaged\)") as caught:
        pipeline.model_files(pipeline.Config(), dataclasses.replace(vggish_files, checkpoint=damaged))
    from ravdess_prep.storage.digest import path_sha256

    assert path_sha256(damaged) in str(caught.value)


def test_pca_parameters_with_a_nan_are_refused(vggish_files, tmp_path):
    with np.load(vggish_files.pca_params) as stored:
        vectors, means = stored["pca_eigen_vectors"].copy(), stored["pca_means"].copy()
    vectors[3, 5] = np.nan
    poisoned = tmp_path / "pca.npz"
    np.savez(poisoned, pca_eigen_vectors=vectors, pca_means=means)
    files = dataclasses.replace(vggish_files, pca_params=poisoned, allow_custom_pca_params=True)
    with pytest.raises(ModelFileError, match="pca.npz: pca_eigen_vectors holds 1 NaN or infinite values"):
        pipeline.model_files(pipeline.Config(), files)


# --- one error path ----------------------------------------------------------------------------


def test_damaged_zip_member_is_named(tree, tmp_path):
    archive = tmp_path / "ravdess.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(tree.rglob("*.flac")):
            bundle.write(path, path.relative_to(tree).as_posix())
    data = bytearray(archive.read_bytes())
    start = data.find(b"fLaC") + 20000  # inside the first member's compressed data
    data[start : start + 200] = b"\0" * 200
    archive.write_bytes(bytes(data))
    with pytest.raises(SourceError, match=r"ravdess.zip: member .* is damaged"):
        pipeline.source(archive, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.flac"))


def _run(args, tmp_path):
    finished = subprocess.run([sys.executable, "-m", "ravdess_prep.cli", *args], capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)
    return finished.returncode, finished.stderr


def test_every_command_ends_bad_input_in_one_line_without_a_traceback(built, tree, tmp_path, capsys):
    """Each command in this process, as ``ravdess-prep`` runs it (its exit status and error
    output); one with ``--debug`` in a process of its own."""
    with FileServer({}) as server:
        _every_command(built, tree, tmp_path, server, capsys)


def _every_command(built, tree, tmp_path, server, capsys):
    bad_audio = tmp_path / "bad.wav"
    bad_audio.write_bytes(b"RIFF....WAVEjunk")
    missing = tmp_path / "missing.wav"
    silent = write_audio(tmp_path / "silent.wav", np.zeros(48000))
    folder = tmp_path / "a-folder"
    folder.mkdir()
    not_a_dataset = tmp_path / "empty-folder"
    not_a_dataset.mkdir()
    cases = [
        (["download", "--dest", str(tmp_path / "dl"), "--files-url", server.url + "/none", "--api-url",
          server.url + "/api", "--no-progress"], "HTTP 404"),
        (["info", "--source", str(missing)], str(missing)),
        (["measure", "--source", str(bad_audio)], str(bad_audio)),
        (["measure", "--source", str(tree), "--jobs", "0"], "--jobs"),
        (["preprocess", str(missing), "--target-length", "1000", "--out", str(tmp_path / "p.wav")], str(missing)),
        (["build", "--source", str(tree), "--out", str(tmp_path / "b"), "--jobs", "0"], "--jobs"),
        (["build", "--source", str(tree), "--out", str(tmp_path / "b"), "--hop", "-1"], "--hop"),
        (["embed", str(missing), "--dataset", str(built.out), "--out", str(tmp_path / "e.npy")], str(missing)),
        (["embed", str(silent), "--dataset", str(built.out), "--out", str(folder)], str(folder)),
        (["embed", str(silent), "--dataset", str(not_a_dataset), "--out", str(tmp_path / "e.npy")], "manifest"),
        (["export", str(not_a_dataset), "--format", "parquet", "--out", str(tmp_path / "x.parquet")], "manifest"),
        (["tag", str(bad_audio), "--yamnet-model", str(not_a_dataset)], str(bad_audio)),  # inputs first
        (["tag", str(silent), "--yamnet-model", str(not_a_dataset)], str(not_a_dataset)),
        (["train", "--data", str(not_a_dataset), "--model-dir", str(tmp_path / "m")], str(not_a_dataset)),
        (["predict", str(silent), "--dataset", str(built.out), "--model-dir", str(not_a_dataset)], str(not_a_dataset)),
        (["crossval", "--data", str(not_a_dataset)], str(not_a_dataset)),
    ]
    for args, named in cases:
        status, _, stderr = run_command(capsys, *args)
        assert status in (1, 2), (args, status, stderr)
        assert "Traceback" not in stderr, (args, stderr)
        errors = [line for line in stderr.splitlines() if "error:" in line]
        assert len(errors) == 1 and named in errors[0], (args, stderr)
    status, stderr = _run(["--debug", "info", "--source", str(missing)], tmp_path)
    assert status == 1 and "no such file" in stderr


def test_messages_name_the_flag_when_the_command_line_is_the_caller(tree, built, tmp_path, capsys):
    long_clip = write_audio(tmp_path / "long.wav", np.sin(np.arange(48000 * 8) / 10) * 0.3)
    assert cli.main(["embed", str(long_clip), "--dataset", str(built.out), "--out", str(tmp_path / "e.npy")]) == 1
    error = capsys.readouterr().err
    assert "--on-too-long crop" in error and "on_too_long=" not in error
    assert cli.main(["embed", str(long_clip), "--dataset", str(built.out), "--out", str(tmp_path / "e.npy"),
                     "--on-too-long", "crop"]) == 0
    assert "long.wav: longer than the target length: center-cropped" in capsys.readouterr().err
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not audio")
    with ravdess_prep.embedder(dataset=built.out) as embedding:  # every failing file in one error
        with pytest.raises(AudioError, match=rf"^2 of 2 files cannot be embedded: {long_clip}: trimmed length \d+ "
                                             rf"samples is longer than the target length of \d+ samples \(center-crop "
                                             rf"it with on_too_long='crop'\); {not_audio}: not a readable audio file"):
            embedding.process_files([long_clip, not_audio])


def test_embed_says_when_an_input_is_silent(built, tmp_path, capsys):
    silent = write_audio(tmp_path / "silent.wav", np.zeros(48000))
    assert cli.main(["embed", str(silent), "--dataset", str(built.out), "--out", str(tmp_path / "e.npy")]) == 0
    assert f"{silent}: no active sample: kept whole" in capsys.readouterr().err


def test_the_build_summary_names_clips_handled_by_a_policy(tree, built, tmp_path, capsys):
    source = tmp_path / "tree"
    shutil.copytree(tree, source)
    for index in range(7):
        write_audio(source / SPEECH / "Actor_01" / f"03-01-08-0{1 + index % 2}-0{1 + index // 4}-0{1 + index // 2 % 2}-01.wav",
                    np.zeros(24000 + index))  # not one file's bytes under two names
    args = ["build", "--source", str(source), "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
            "--no-progress", "--allow-missing-speakers", "--on-silent", "drop", "--checkpoint",
            str(built.manifest["embedder"]["files"]["checkpoint"]["path"]), "--custom-checkpoint", "--pca-params",
            str(built.manifest["embedder"]["files"]["pca_params"]["path"])]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "handled by a policy: 7" in printed
    assert printed.count("no active sample: dropped") == 5 and "and 2 more" in printed
