"""The whole pipeline on small trees of real clips with a random-weights checkpoint."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import SONG, SPEECH, copy_clips, tone, write_audio
from ravdess_prep.dataset.manifest import Manifest
from ravdess_prep import cli, pipeline
from ravdess_prep.dataset import export
from ravdess_prep.dataset.bundles import read_bundle, read_bundles
from ravdess_prep.build.executors import Run
from ravdess_prep.storage.digest import json_digest
from ravdess_prep.config import Config
from ravdess_prep.embedders import VGGishFiles
from ravdess_prep.exceptions import ClipTooLongError, SourceError
from ravdess_prep.audio.measure import Measurement

# the small trees hold actors 01, 08 and 11 only: the original split's other actors are missing
SMALL = Config(allow_missing_speakers=True)


def _copy_tree(ravdess_dir, destination, actors, *, speech_per_actor, song_per_actor):
    return copy_clips(ravdess_dir, destination, actors, speech=speech_per_actor, song=song_per_actor)


def _npy_bytes(out):
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*.npy"))}


def test_bundles_have_the_original_layout(small_build, small_tree):
    out = small_build.out
    bundles = read_bundles(out, allow_pickled_names=False)
    assert list(bundles) == ["train", "dev", "test"]
    manifest = Manifest.read(out)
    examples = manifest["examples_per_clip"]
    assert examples > 0
    for name, actor in (("train", 1), ("dev", 8), ("test", 11)):
        bundle = bundles[name]
        assert len(bundle) == 6
        assert bundle.embeddings.shape == (6, examples, 128) and bundle.embeddings.dtype == np.float32
        assert bundle.embeddings.min() >= 0 and bundle.embeddings.max() <= 255
        assert np.all(bundle.embeddings == np.round(bundle.embeddings))
        assert bundle.labels.dtype == np.int32
        assert bundle.names.dtype.kind == "U"
        assert all(f"/Actor_{actor:02d}/" in clip for clip in bundle.names)
        assert [clip.split("/")[0] for clip in bundle.names] == ["speech"] * 4 + ["song"] * 2
        expected_labels = [int(clip.split("/")[-1].split("-")[2]) - 1 for clip in bundle.names]
        assert bundle.labels.tolist() == expected_labels
        assert manifest["splits"][name]["speakers"] == [actor]
        assert sum(manifest["splits"][name]["label_counts"]) == 6
    assert manifest["config"] == SMALL.to_dict()
    assert manifest["embedder"]["official"] is False
    assert manifest["target_length_samples"] == max(
        row["trimmed_length_samples"] for row in _metadata_rows(out))
    assert len(_metadata_rows(out)) == 18


def _metadata_rows(out):
    import pandas as pd

    return pd.read_csv(out / "metadata.csv").to_dict("records")


def test_metadata_has_offsets_and_splits(small_build):
    rows = _metadata_rows(small_build.out)
    for row in rows:
        assert row["trim_end"] - row["trim_start"] == row["trimmed_length_samples"] > 0
        assert row["split"] == {1: "train", 8: "dev", 11: "test"}[row["actor"]]
        assert len(row["audio_sha256"]) == 64


def test_rebuild_from_scratch_is_byte_identical(small_build, small_tree, model_files_kwargs, tmp_path):
    again = pipeline.build(SMALL, out=tmp_path / "out", source=small_tree, run=Run(cache_dir=tmp_path / "cache", jobs=1, progress=False), **model_files_kwargs)
    assert again.computed == 18
    assert _npy_bytes(again.out) == _npy_bytes(small_build.out)


def test_fast_path_bundles_equal_the_straightforward_paths(small_build, small_tree, model_files_kwargs, tmp_path,
                                                         monkeypatch):
    calls = _count_model_calls(monkeypatch)
    straightforward = pipeline.build(SMALL, out=tmp_path / "plain", source=small_tree, run=Run(cache_dir=tmp_path / "plain-cache", jobs=2, progress=False, fast=False), **model_files_kwargs)
    plain_examples = calls["examples"]
    assert plain_examples == 18 * straightforward.manifest["examples_per_clip"]
    assert _npy_bytes(straightforward.out) == _npy_bytes(small_build.out)  # small_build took the fast path
    # the fast path on the same clips (the same target): the examples wholly in the padding are
    # not run again; counted on the shortest clips, where most of them lie in the padding
    measurement = pipeline.measure(pipeline.split(pipeline.source(small_tree, SMALL), SMALL), SMALL, jobs=2)
    shortest = sorted(measurement.kept, key=lambda clip: clip.end - clip.start)[:3]
    calls["examples"] = 0
    files = pipeline.model_files(SMALL, model_files_kwargs["files"], progress=False)
    fast = pipeline.embed(Measurement(measurement.target, tuple(shortest)), SMALL, files,
                          cache_dir=tmp_path / "fast-cache", jobs=2, fast=True)
    assert fast.computed == 3 and 0 < calls["examples"] < 3 * straightforward.manifest["examples_per_clip"]


def _count_model_calls(monkeypatch):
    from vggish.model import VGGish

    calls = {"runs": 0, "examples": 0}
    original = VGGish.embed

    def counting(self, examples):
        calls["runs"] += 1
        calls["examples"] += len(examples)
        return original(self, examples)

    monkeypatch.setattr(VGGish, "embed", counting)
    return calls


def test_second_build_with_the_cache_recomputes_nothing(small_build, small_tree, model_files_kwargs, tmp_path, monkeypatch):
    calls = _count_model_calls(monkeypatch)
    cache = small_build.out.parent / "cache"
    again = pipeline.build(SMALL, out=tmp_path / "out", source=small_tree, run=Run(cache_dir=cache, jobs=2, progress=False),
                           **model_files_kwargs)
    assert calls == {"runs": 0, "examples": 0}
    assert again.cached == 18
    assert _npy_bytes(again.out) == _npy_bytes(small_build.out)


def test_build_killed_mid_run_resumes_without_recomputing(small_tree, small_build, vggish_files, tmp_path,
                                                          monkeypatch):
    tree, total = small_tree, len(list(small_tree.rglob("*.flac")))
    cache = tmp_path / "cache"
    # the build kills itself (SIGKILL) while it stores its fourth clip: after the entry's bytes
    # are written to a temporary name and before the rename
    script = textwrap.dedent(f"""
        import os, signal
        from ravdess_prep import pipeline
        from ravdess_prep.embedders import VGGishFiles
        rename, stored = os.replace, []
        def rename_or_die(source, destination):
            if str(destination).endswith(".npy"):
                stored.append(destination)
                if len(stored) == 4:
                    os.kill(os.getpid(), signal.SIGKILL)
            rename(source, destination)
        os.replace = rename_or_die
        pipeline.build(pipeline.Config(allow_missing_speakers=True), out={str(tmp_path / 'killed')!r},
                       source={str(tree)!r}, files=VGGishFiles({str(vggish_files.checkpoint)!r},
                       {str(vggish_files.pca_params)!r}, allow_custom_checkpoint=True),
                       run=pipeline.Run(cache_dir={str(cache)!r}, jobs=1, progress=False))
    """)
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    clips_dir = cache / "clips"
    finished_before = len(list(clips_dir.rglob("*.npy")))
    assert finished_before == 3
    assert len([path for path in clips_dir.rglob(".*") if path.is_file()]) == 1  # the entry it was storing
    assert not (tmp_path / "killed").exists()
    for entry in clips_dir.rglob("*.npy"):  # every entry the killed run left is whole
        assert np.load(entry).shape[1:] == (128,) and np.load(entry).dtype == np.uint8

    calls = _count_model_calls(monkeypatch)
    # the straightforward path runs every example of a computed clip through the model: exact counting
    config = SMALL  # small_build's settings: the same bytes are expected
    resumed = pipeline.build(config, out=tmp_path / "resumed", source=tree,
                             run=Run(cache_dir=cache, jobs=1, progress=False, fast=False), files=vggish_files)
    examples_per_clip = resumed.manifest["examples_per_clip"]
    assert resumed.cached == finished_before and resumed.computed == total - finished_before
    assert calls["examples"] == (total - finished_before) * examples_per_clip
    assert _npy_bytes(resumed.out) == _npy_bytes(small_build.out)  # a build of the same tree that was not killed


def test_unreadable_clip_names_it_and_writes_nothing(small_tree, model_files_kwargs, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(small_tree, tree)
    victim = sorted(tree.rglob("*.flac"))[5]
    victim.write_bytes(victim.read_bytes()[:200])  # a truncated FLAC
    out = tmp_path / "out"
    with pytest.raises(SourceError) as caught:  # the source stage finds it cannot be decoded to its end
        pipeline.build(SMALL, out=out, source=tree, run=Run(cache_dir=tmp_path / "cache", jobs=2, progress=False),
                       **model_files_kwargs)
    assert victim.name in str(caught.value)
    assert not out.exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


def test_bad_model_file_found_while_measuring_names_it_and_writes_nothing(small_tree, vggish_files, tmp_path):
    from ravdess_prep.exceptions import ModelFileError

    bad = tmp_path / "vggish_model.ckpt"
    bad.write_bytes(b"not a checkpoint" * 100)
    out = tmp_path / "out"
    with pytest.raises(ModelFileError, match="vggish_model.ckpt"):
        pipeline.build(SMALL, out=out, source=small_tree, run=Run(cache_dir=tmp_path / "cache", jobs=2, progress=False),
                       files=dataclasses.replace(vggish_files, checkpoint=bad))
    assert not out.exists()


def test_bad_clip_and_bad_model_file_report_the_clip(small_tree, tmp_path):
    """The measure pass runs first: its error is the one raised."""
    tree = tmp_path / "tree"
    shutil.copytree(small_tree, tree)
    victim = sorted(tree.rglob("*.flac"))[2]
    victim.write_bytes(victim.read_bytes()[:20000])  # its header is intact: the source stage accepts it
    with pytest.raises(SourceError, match=victim.name):  # the source stage finds it truncated
        pipeline.build(SMALL, out=tmp_path / "out", source=tree, run=Run(cache_dir=tmp_path / "cache", jobs=2, progress=False),
                       files=VGGishFiles(tmp_path / "missing.ckpt", tmp_path / "missing.npz"))
    assert not (tmp_path / "out").exists()


def test_existing_output_is_replaced_whole(small_build, small_tree, model_files_kwargs, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(small_build.out, out)
    (out / "stale.txt").write_text("from an older build")
    with (out / ".ravdess-prep-written").open("a") as record:  # an older build's own file
        record.write("stale.txt\n")
    pipeline.build(Config(dev_speakers=(1,), test_speakers=(8,)), out=out, source=small_tree,
                   run=Run(cache_dir=small_build.out.parent / "cache", jobs=2, progress=False), **model_files_kwargs)
    assert not (out / "stale.txt").exists()
    assert Manifest.read(out)["splits"]["dev"]["speakers"] == [1]
    assert Manifest.read(out)["splits"]["train"]["speakers"] == [11]


def test_embed_files_matches_the_dataset(small_build, small_tree, tmp_path, capsys):
    bundle = read_bundle(small_build.out, "dev")
    clip = bundle.names[2]
    channel, actor_folder, name = clip.split("/")
    source = small_tree / (SPEECH if channel == "speech" else SONG) / actor_folder / name.replace(".wav", ".flac")
    embedded = pipeline.embed_files([source], small_build.out)
    np.testing.assert_array_equal(embedded[0], bundle.embeddings[2])

    status = cli.main(["embed", str(source), "--dataset", str(small_build.out), "--out", str(tmp_path / "e.npy")])
    assert status == 0
    np.testing.assert_array_equal(np.load(tmp_path / "e.npy")[0], bundle.embeddings[2])


def test_embed_files_too_long_clip_follows_the_policy(small_build, tmp_path):
    target = Manifest.read(small_build.out)["target_length_samples"]
    long_clip = write_audio(tmp_path / "long.wav", tone((target + 48000) / 48000, amplitude=0.3))
    with pytest.raises(ClipTooLongError, match="long.wav"):
        pipeline.embed_files([long_clip], small_build.out)
    cropped = pipeline.embed_files([long_clip], small_build.out, on_too_long="crop")
    assert cropped.shape == (1, Manifest.read(small_build.out)["examples_per_clip"], 128)


def test_original_format_bundles_still_load(small_build, tmp_path):
    out = tmp_path / "original"
    for split in ("train", "dev", "test"):
        bundle = read_bundle(small_build.out, split)
        folder = out / split
        folder.mkdir(parents=True)
        np.save(folder / f"{split}_filenames.npy", np.array(list(bundle.names), dtype=object), allow_pickle=True)
        np.save(folder / f"{split}_embeddings.npy", bundle.embeddings.astype(np.float64))
        np.save(folder / f"{split}_labels.npy", bundle.labels.astype(np.int64))
    loaded = read_bundle(out, "dev")
    assert loaded.names.dtype.kind == "U" and loaded.embeddings.dtype == np.float32 and loaded.labels.dtype == np.int32
    np.testing.assert_array_equal(loaded.embeddings, read_bundle(small_build.out, "dev").embeddings)
    with pytest.raises(SourceError, match="pickled object array"):
        read_bundle(out, "dev", allow_pickled_names=False)


def test_clip_facts_come_from_the_metadata_and_a_missing_row_is_named(small_build, tmp_path):
    every = read_bundles(small_build.out)
    for split, bundle in every.items():
        alone = read_bundle(small_build.out, split)
        np.testing.assert_array_equal(bundle.speakers, alone.speakers)
        # RAVDESS names carry the actor in their last field: the metadata must agree with it
        assert bundle.speakers.astype(int).tolist() == [int(name.split(".")[0].split("-")[6]) for name in bundle.names]
    out = tmp_path / "no-row"
    shutil.copytree(small_build.out, out)
    lines = (out / "metadata.csv").read_text().splitlines(keepends=True)
    dropped = every["dev"].names[0]
    (out / "metadata.csv").write_text("".join(line for line in lines if not line.startswith(f"{dropped},")))
    for reader in (read_bundles, export.clip_rows):  # the manifest records metadata.csv's SHA-256
        with pytest.raises(SourceError, match=r"metadata\.csv: SHA-256 \w+, but the manifest recorded \w+ \(changed"):
            reader(out)
    # a dataset written before that digest was recorded: the missing row itself is named
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["bundle_sha256"]["metadata.csv"], manifest["manifest_sha256"]
    manifest["manifest_sha256"] = json_digest(manifest)
    (out / "manifest.json").write_text(json.dumps(manifest))
    for reader in (read_bundles, export.clip_rows):
        with pytest.raises(SourceError, match=rf"metadata\.csv: no row for clip {dropped}"):
            reader(out)


def test_build_command_and_script(small_tree, vggish_files, small_build, tmp_path, capsys):
    args = ["--source", str(small_tree), "--out", str(tmp_path / "cli"), "--checkpoint", str(vggish_files.checkpoint),
            "--pca-params", str(vggish_files.pca_params), "--custom-checkpoint",
            "--cache-dir", str(small_build.out.parent / "cache"), "--no-progress", "--jobs", "2", "--allow-missing-speakers"]
    assert cli.main(["build", *args]) == 0
    printed = capsys.readouterr().out
    assert "clips embedded: 0, from the cache: 18" in printed
    assert _npy_bytes(tmp_path / "cli") == _npy_bytes(small_build.out)
    script = subprocess.run([sys.executable, "scripts/build_dataset.py", *args[:3], str(tmp_path / "script"),
                             *args[4:]], capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert script.returncode == 0, script.stderr
    assert _npy_bytes(tmp_path / "script") == _npy_bytes(small_build.out)
    manifest = json.loads((tmp_path / "script" / "manifest.json").read_text())
    assert manifest["splits"]["test"]["speakers"] == [11]


def _full_set_checks(out, actors):
    """What FACTS.md says of the original's bundles, for the splits present among ``actors``."""
    manifest = Manifest.read(out)
    expected_labels = {"train": [140, 280, 280, 280, 280, 280, 144, 144], "dev": [24, 48, 48, 48, 48, 48, 24, 24],
                       "test": [24, 48, 48, 48, 48, 48, 24, 24]}
    for name, bundle in read_bundles(out, allow_pickled_names=False).items():
        assert bundle.embeddings.shape == (len(bundle), 20, 128) and bundle.embeddings.dtype == np.float32
        assert 0 <= bundle.embeddings.min() and bundle.embeddings.max() <= 255
        assert manifest["splits"][name]["clips"] == len(bundle)
        if len(actors) == 24:
            assert np.bincount(bundle.labels, minlength=8).tolist() == expected_labels[name]
    return manifest


def test_real_subset_build_at_the_original_length(ravdess_dir, model_files_kwargs, tmp_path):
    """CI's real-data build: actors 08 (dev), 11 (test) and 18 (train, speech only), both vocal
    channels, at the full set's target length so that every clip gives 20 examples."""
    result = pipeline.build(Config(target_length_samples=259431), out=tmp_path / "out", source=ravdess_dir,
                            speakers=(8, 11, 18), run=Run(cache_dir=tmp_path / "cache", jobs=2, progress=False), **model_files_kwargs)
    manifest = _full_set_checks(result.out, (8, 11, 18))
    assert {name: split["clips"] for name, split in manifest["splits"].items()} == {"train": 60, "dev": 104, "test": 104}
    assert manifest["splits"]["dev"]["counts"]["vocal_channel"] == {"song": 44, "speech": 60}
    assert manifest["splits"]["dev"]["label_counts"] == [8, 16, 16, 16, 16, 16, 8, 8]
    assert manifest["examples_per_clip"] == 20 and manifest["handled_by_policy"] == []


@pytest.mark.slow
def test_full_build_reproduces_the_original_split(ravdess_dir, model_files_kwargs, tmp_path):
    result = pipeline.build(SMALL, out=tmp_path / "out", source=ravdess_dir, run=Run(cache_dir=tmp_path / "cache", jobs=2, progress=False), **model_files_kwargs)
    manifest = _full_set_checks(result.out, tuple(range(1, 25)))
    assert manifest["target_length_samples"] == 259431
    assert manifest["longest_clip"] == "song/Actor_01/03-02-05-02-01-01-01.wav"
    assert {name: split["clips"] for name, split in manifest["splits"].items()} == {"train": 1828, "dev": 312, "test": 312}
    for name, actors in (("dev", (8, 19, 24)), ("test", (11, 14, 15))):
        names = set(read_bundle(result.out, name).names)
        expected = {f"{channel}/Actor_{actor:02d}/{path.stem}.wav" for actor in actors
                    for channel, folder in (("speech", SPEECH), ("song", SONG))
                    for path in (ravdess_dir / folder / f"Actor_{actor:02d}").glob("*.flac")}
        assert names == expected
