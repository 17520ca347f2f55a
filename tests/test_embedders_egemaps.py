"""eGeMAPS through openSMILE as the third embedder: functionals on the trimmed clip, LLDs on
the padded one, equal to openSMILE applied directly; everything else as for the others."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from commands import executor
from conftest import SONG, SPEECH, copy_clips, require_opensmile
from ravdess_prep.dataset.manifest import Manifest
from ravdess_prep import cli, pipeline
from ravdess_prep.dataset.bundles import read_bundles
from ravdess_prep.embedders import EGeMAPSEmbedder
from ravdess_prep.embedders.egemaps import opensmile_module
from ravdess_prep.audio.pad import pad_center

require_opensmile()
opensmile = opensmile_module()  # openSMILE's library loaded with its own symbols first



@pytest.fixture(scope="module")
def tree(ravdess_dir, tmp_path_factory):
    """Actors 08 (dev), 11 (test), 12 (train): three speech and two song clips each."""
    return copy_clips(ravdess_dir, tmp_path_factory.mktemp("egemaps-tree"), (8, 11, 12), speech=3, song=2,
                      pick=slice(1, None, 7))


def _config(level="functionals", **changes):
    return pipeline.Config(embedder=EGeMAPSEmbedder(level=level), dev_speakers=(8,), test_speakers=(11,), **changes)


@pytest.fixture(scope="module")
def functionals(tree, tmp_path_factory):
    root = tmp_path_factory.mktemp("functionals")
    return pipeline.build(_config(), out=root / "out", source=tree,
                          run=pipeline.Run(cache_dir=root / "cache", jobs=2, progress=False))


def _path(tree, name):
    channel, actor, stem = name.split("/")
    return tree / (SPEECH if channel == "speech" else SONG) / actor / stem.replace(".wav", ".flac")


def test_functionals_are_opensmile_on_the_trimmed_clip(functionals, tree):
    reference = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                feature_level=opensmile.FeatureLevel.Functionals)
    bundles = read_bundles(functionals.out)
    assert {name: bundle.embeddings.shape for name, bundle in bundles.items()} == {
        name: (5, 88) for name in ("train", "dev", "test")}
    for split in ("train", "test"):
        for row, name in enumerate(bundles[split].names):
            trimmed, _ = pipeline.trim(_path(tree, name))
            expected = reference.process_signal(trimmed.astype(np.float32), 48000).to_numpy(np.float32)[0]
            np.testing.assert_array_equal(bundles[split].embeddings[row], expected)
    manifest = Manifest.read(functionals.out)
    assert manifest["embedder"]["feature_set"] == "eGeMAPSv02" and manifest["embedder"]["level"] == "functionals"
    assert manifest["embedder"]["padded"] is False and manifest["embedder"]["opensmile"] == opensmile.__version__
    names = (functionals.out / "feature_names.txt").read_text().splitlines()
    assert names == list(reference.feature_names) == manifest["embedder"]["feature_names"] and len(names) == 88


def test_lld_are_opensmile_on_the_padded_clip_with_its_frame_count(tree, tmp_path):
    result = pipeline.build(_config("lld"), out=tmp_path / "out", source=tree,
                            run=pipeline.Run(cache_dir=tmp_path / "cache", jobs=2, progress=False))
    manifest = Manifest.read(result.out)
    target = manifest["target_length_samples"]
    frames = manifest["examples_per_clip"]
    reference = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
    bundle = read_bundles(result.out)["dev"]
    assert bundle.embeddings.shape == (5, frames, 25) and manifest["embedder"]["padded"] is True
    trimmed, _ = pipeline.trim(_path(tree, bundle.names[0]))
    padded, _ = pad_center(trimmed, target_length_samples=target)
    expected = reference.process_signal(padded.astype(np.float32), 48000).to_numpy(np.float32)
    np.testing.assert_array_equal(bundle.embeddings[0], expected)
    rng = np.random.default_rng(0)
    for rate in (8000, 11025, 16000, 22050, 44100, 48000):
        for seconds in (0.06, 0.0637, 0.0701, 1.0, 1.0049, 2.3456):
            for length in (int(seconds * rate), int(seconds * rate) + 1):
                values = reference.process_signal(rng.normal(0, 0.1, length).astype(np.float32), rate).to_numpy()
                count = values.shape[0] if np.isfinite(values).all() else 0  # shorter than 0.06 s: NaN
                assert EGeMAPSEmbedder(level="lld").num_examples(length, sample_rate_hz=rate) == count, (rate, length)


def test_cache_rebuild_beam_and_new_files(functionals, tree, tmp_path):
    again = pipeline.build(_config(), out=tmp_path / "again", source=tree,
                           run=pipeline.Run(cache_dir=functionals.out.parent / "cache", jobs=1, progress=False))
    assert (again.computed, again.cached) == (0, 15)
    outputs = {}
    for runner in ("local", "beam"):
        if runner == "beam":
            pytest.importorskip("apache_beam")
        out = pipeline.build(_config(), out=tmp_path / runner, source=tree,
                             run=pipeline.Run(cache_dir=tmp_path / f"cache-{runner}", jobs=2, progress=False,
                                              runner=executor(runner, ("direct_running_mode=multi_threading",)))).out
        outputs[runner] = {path.relative_to(out): path.read_bytes() for path in sorted(out.rglob("*.npy"))}
    first = {path.relative_to(functionals.out): path.read_bytes() for path in sorted(functionals.out.rglob("*.npy"))}
    assert outputs["local"] == first == outputs["beam"]
    dev = read_bundles(functionals.out)["dev"]
    np.testing.assert_array_equal(pipeline.embed_files([_path(tree, dev.names[2])], functionals.out)[0],
                                  dev.embeddings[2])


def test_pooling_functionals_is_refused_and_the_level_is_checked():
    with pytest.raises(ValueError, match="one vector per clip: there is nothing to pool"):
        pipeline.Config(embedder=EGeMAPSEmbedder(pool="mean"))
    with pytest.raises(ValueError, match="level has to be one of 'functionals', 'lld'"):
        EGeMAPSEmbedder(level="frames")


def test_build_command_with_egemaps(tree, functionals, tmp_path, capsys):
    args = ["build", "--source", str(tree), "--out", str(tmp_path / "cli"), "--embedder", "egemaps", "--egemaps-level",
            "functionals", "--cache-dir", str(functionals.out.parent / "cache"), "--dev-actors", "8", "--test-actors",
            "11", "--no-progress"]
    assert cli.main(args) == 0
    assert "clips embedded: 0, from the cache: 15" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(args + ["--hop", "0.5"])
    assert "--hop is not a setting of the egemaps embedder" in capsys.readouterr().err


def test_a_missing_opensmile_is_an_error_naming_the_extra(tree, tmp_path):
    code = textwrap.dedent(f"""
        import sys
        sys.modules["opensmile"] = None  # import opensmile now raises ImportError
        from ravdess_prep import cli
        sys.exit(cli.main(["build", "--source", {str(tree)!r}, "--out", {str(tmp_path / "out")!r}, "--embedder",
                           "egemaps", "--cache-dir", {str(tmp_path / "cache")!r}, "--no-progress", "--dev-actors", "8", "--test-actors", "11"]))
    """)
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 1
    assert 'pip install -e ".[egemaps]"' in finished.stderr
    assert not (tmp_path / "out").exists()
