"""The build on Apache Beam's local runner against the default executor, byte for byte."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from commands import error_line, run_command
from conftest import SONG, SPEECH, write_audio
from ravdess_prep import cli, pipeline
from ravdess_prep.build.plan import BuildPlan
from ravdess_prep.build.executors import BeamExecutor
from ravdess_prep.build.executors import Run
from ravdess_prep.config import Config
from ravdess_prep.exceptions import ParameterError, SilentClipError

if os.environ.get("CI"):  # CI installs the beam extra: missing Beam is a failure there
    importlib.import_module("apache_beam")
else:
    pytest.importorskip("apache_beam")

from ravdess_prep.build import beam  # noqa: E402

ACTORS = (1, 8, 11)  # train, dev, test
WORKERS = 2
SMALL = Config(allow_missing_speakers=True)  # actors 01, 08, 11 only
#: Beam's local runner in threads, where worker processes are not what a test checks (the
#: module's beam build and the first failing-clip run use processes, the Dask tests a cluster).
THREADS = ("direct_running_mode=multi_threading", f"direct_num_workers={WORKERS}")


def _output_bytes(out: Path) -> dict[str, bytes]:
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def tree(small_tree):
    """The run's small tree (18 real clips: actors 01, 08, 11; 4 speech and 2 song clips each)."""
    return small_tree


@pytest.fixture(scope="module")
def local_build(small_build):
    """The default executor's build of the tree, with SMALL (made once per run)."""
    return small_build


@pytest.fixture(scope="module")
def beam_build(tree, model_files_kwargs, tmp_path_factory):
    root = tmp_path_factory.mktemp("beam")
    return pipeline.build(SMALL, out=root / "out", source=tree, run=Run(cache_dir=root / "cache", jobs=WORKERS, progress=False, runner="beam"), **model_files_kwargs)


def test_beam_bundles_and_manifest_are_byte_identical_to_the_default_executor(local_build, beam_build):
    local, on_beam = _output_bytes(local_build.out), _output_bytes(beam_build.out)
    assert sorted(on_beam) == sorted(local) == [
        ".ravdess-prep-written", "README.md", "counts.png", "dev/dev_embeddings.npy", "dev/dev_filenames.npy", "dev/dev_labels.npy",
        "lengths.png", "manifest.json", "metadata.csv", "test/test_embeddings.npy", "test/test_filenames.npy",
        "test/test_labels.npy", "train/train_embeddings.npy", "train/train_filenames.npy", "train/train_labels.npy",
    ]
    different = [name for name in local if local[name] != on_beam[name]]
    assert different == []
    manifest = beam_build.manifest
    assert {name: split["clips"] for name, split in manifest["splits"].items()} == {"train": 6, "dev": 6, "test": 6}
    assert all(split["counts"]["vocal_channel"] == {"song": 2, "speech": 4} for split in manifest["splits"].values())


def test_beam_loads_the_model_once_per_worker_not_per_clip(beam_build):
    assert beam_build.computed == 18 and beam_build.cached == 0
    assert 1 <= beam_build.model_loads <= WORKERS
    assert beam_build.model_calls >= 1


def test_beam_run_resumes_from_the_cache(tree, model_files_kwargs, beam_build, tmp_path):
    again = pipeline.build(SMALL, out=tmp_path / "out", source=tree, run=Run(cache_dir=beam_build.out.parent / "cache", jobs=WORKERS, progress=False, runner=BeamExecutor(beam_options=THREADS)), **model_files_kwargs)
    assert (again.computed, again.cached, again.model_loads) == (0, 18, 0)
    assert _output_bytes(again.out) == _output_bytes(beam_build.out)


def test_threads_of_a_worker_share_one_model(tree, model_files_kwargs, tmp_path, monkeypatch):
    """In one process with two worker threads, the checkpoint is restored once (counted at
    the constructor, independently of the runner's counters), and the per-clip recipe is made
    once for the whole build."""
    from vggish import model as vggish_model

    constructed = []
    original = vggish_model.VGGish.__init__

    def counting(self, *args, **kwargs):
        constructed.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(vggish_model.VGGish, "__init__", counting)
    recipes = []  # the per-clip recipe: made once, in a step of its own, and handed to every element
    original_recipe = BuildPlan.recipe
    monkeypatch.setattr(BuildPlan, "recipe", lambda self, *args, **kwargs: recipes.append(1) or original_recipe(
        self, *args, **kwargs))
    run = Run(cache_dir=tmp_path / "cache", progress=False, runner=BeamExecutor(
        beam_options=("direct_running_mode=multi_threading", f"direct_num_workers={WORKERS}")))
    result = pipeline.build(SMALL, out=tmp_path / "out", source=tree, run=run, **model_files_kwargs)
    assert result.computed == 18
    assert len(constructed) == result.model_loads == 1
    assert len(recipes) == 1


def test_beam_policies_match_the_default_executor(tree, model_files_kwargs, tmp_path):
    """A silent clip dropped, clips cropped to a fixed target, a seeded shuffle: same bytes."""
    source = tmp_path / "tree"
    shutil.copytree(tree, source)
    silent = source / SPEECH / "Actor_08" / "03-01-08-02-02-02-08.flac"
    assert not silent.exists()
    write_audio(silent, np.zeros(96000))
    config = Config(on_silent="drop", target_length_samples=150000, on_too_long="crop", shuffle_seed=7,
                    allow_missing_speakers=True)
    outputs = {}
    for runner in ("local", "beam"):
        result = pipeline.build(config, out=tmp_path / runner / "out", source=source,
                                run=Run(cache_dir=tmp_path / runner / "cache", jobs=WORKERS, progress=False,
                                        runner=BeamExecutor(beam_options=THREADS) if runner == "beam" else runner),
                                **model_files_kwargs)
        outputs[runner] = _output_bytes(result.out)
    assert outputs["beam"] == outputs["local"]
    manifest = result.manifest
    policies = {entry["policy"] for entry in manifest["handled_by_policy"]}
    assert "no active sample: dropped" in policies and any("center-cropped" in policy for policy in policies)
    assert manifest["splits"]["dev"]["clips"] == 6


def test_a_failing_clip_is_named_and_nothing_is_written(tree, vggish_files, model_files_kwargs, tmp_path, capsys):
    source = tmp_path / "tree"
    shutil.copytree(tree, source)
    silent = write_audio(source / SONG / "Actor_11" / "03-02-01-01-01-01-11.flac", np.zeros(48000))
    out = tmp_path / "out"
    with pytest.raises(SilentClipError, match=r"song/Actor_11/03-02-01-01-01-01-11\.wav: no active sample") as caught:
        # one worker process: the error crosses a process boundary, as with several
        pipeline.build(Config(on_silent="error", allow_missing_speakers=True), out=out, source=source, run=Run(cache_dir=tmp_path / "cache", jobs=1, progress=False, runner="beam"), **model_files_kwargs)
    assert "Beam step 'Measure'" in str(caught.value)
    assert not out.exists()

    status = cli.main([
        "build", "--source", str(source), "--out", str(out), "--checkpoint", str(vggish_files.checkpoint),
        "--pca-params", str(vggish_files.pca_params), "--custom-checkpoint", "--cache-dir", str(tmp_path / "cache"),
        "--no-progress", "--allow-missing-speakers", "--on-silent", "error", "--runner", "beam", "--beam-option", f"direct_num_workers={WORKERS}",
        "--beam-option", "direct_running_mode=multi_threading",
    ])
    assert status == 1
    assert f"song/Actor_11/{silent.stem}.wav: no active sample" in capsys.readouterr().err
    assert not out.exists()


def test_pipeline_options():
    options = beam.pipeline_options(["direct_num_workers=3", "--streaming"], jobs=2).get_all_options()
    assert options["runner"] == "DirectRunner" and options["direct_running_mode"] == "multi_processing"
    assert options["direct_num_workers"] == 3 and options["streaming"] is True
    options = beam.pipeline_options({"runner": "FlinkRunner", "flink_master": "host:8081"}).get_all_options()
    assert options["runner"] == "FlinkRunner" and options["flink_master"] == "host:8081"
    assert options["direct_num_workers"] == 1  # Beam's own default: nothing local added for a cluster runner
    with pytest.raises(ParameterError, match="direct_num_worker"):
        beam.pipeline_options(["direct_num_worker=3"])
    with pytest.raises(ParameterError, match="KEY=VALUE"):
        beam.pipeline_options(["runner="])
    with pytest.raises(ParameterError, match="runner has to be one of"):
        Run(runner="spark")
    with pytest.raises(ParameterError, match="worker.wait.* has to be a positive number of seconds, not 0"):
        BeamExecutor(worker_wait_seconds=0)


def test_the_default_executor_works_without_beam(tree, vggish_files, local_build, tmp_path):
    """With apache_beam unimportable, the local build runs (its clips from the module's cache:
    the model does not depend on Beam) and the Beam runner says what to install."""
    code = textwrap.dedent(f"""
        import sys
        sys.modules["apache_beam"] = None  # import apache_beam now raises ImportError
        from ravdess_prep import pipeline
        from ravdess_prep.exceptions import RavdessPrepError
        files = pipeline.VGGishFiles({str(vggish_files.checkpoint)!r}, {str(vggish_files.pca_params)!r},
                                     allow_custom_checkpoint=True)
        run = pipeline.Run(cache_dir={str(local_build.out.parent / "cache")!r}, progress=False, jobs=2)
        config = pipeline.Config(allow_missing_speakers=True)
        result = pipeline.build(config, out={str(tmp_path / "out")!r}, source={str(tree)!r}, speakers=[8], files=files,
                                run=run)
        print("clips", result.computed + result.cached, "computed", result.computed)
        try:
            pipeline.build(config, out={str(tmp_path / "out2")!r}, source={str(tree)!r}, files=files,
                           run=pipeline.Run(cache_dir={str(tmp_path / "cache")!r}, progress=False, runner="beam"))
        except RavdessPrepError as error:
            print("error", error)
    """)
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert "clips 6 computed 0" in finished.stdout
    assert 'pip install -e ".[beam]"' in finished.stdout


def test_a_target_shorter_than_one_example_fails_once_in_the_target_step(tree, model_files_kwargs, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ParameterError, match=r"^target length 1000 samples at 48000 Hz is shorter than one vggish example"):
        pipeline.build(Config(target_length_samples=1000, on_too_long="crop", allow_missing_speakers=True), out=out, source=tree,
                       run=Run(cache_dir=tmp_path / "cache", jobs=WORKERS, progress=False,
                               runner=BeamExecutor(beam_options=THREADS)), **model_files_kwargs)
    assert not out.exists()


def test_beams_options_belong_to_its_executor(tree, tmp_path, capsys):
    """Beam's options are the Beam executor's settings: with another runner they are refused,
    named, from the command line and from a --config file, before any work."""
    out = tmp_path / "out"
    status, _, err = run_command(capsys, "build", "--source", tree, "--out", out, "--beam-option",
                                 "direct_num_workers=2")
    assert status == 2 and "--beam-option is not a setting of the local executor (--runner local)" in error_line(err)
    settings = tmp_path / "run.toml"
    settings.write_text('runner = "local"\nworker_wait_seconds = 3\n')
    status, _, err = run_command(capsys, "build", "--config", settings, "--source", tree, "--out", out)
    assert status == 2 and f"--config {settings} (--runner local): unknown key 'worker_wait_seconds'" in err
    settings.write_text('runner = "beam"\nworker_wait_seconds = 0\n')
    status, _, err = run_command(capsys, "build", "--config", settings, "--source", tree, "--out", out)
    assert status in (1, 2) and "--worker-wait has to be a positive number of seconds, not 0" in err
    assert not out.exists()
