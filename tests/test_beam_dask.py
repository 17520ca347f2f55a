"""The Beam pipeline on a real engine: Beam's Dask runner against a local Dask cluster (a
scheduler and two worker processes on 127.0.0.1, started and stopped here), byte-identical to
the default executor, and a failing clip reported as on any runner."""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import SONG, write_audio
from ravdess_prep import pipeline
from ravdess_prep.build.executors import BeamExecutor
from ravdess_prep.build.executors import Run
from ravdess_prep.config import Config
from ravdess_prep.exceptions import SilentClipError, SourceError

if os.environ.get("CI"):  # CI installs the beam extra, which brings Dask: missing is a failure there
    importlib.import_module("distributed")
else:
    pytest.importorskip("distributed")

SMALL = Config(allow_missing_speakers=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``tcp://127.0.0.1:PORT`` of a Dask scheduler with two single-threaded worker processes."""
    logs = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{_free_port()}"
    command = [sys.executable, "-m", "dask"]
    processes = [subprocess.Popen(command + ["scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                                             "--no-dashboard"], stdout=subprocess.DEVNULL,
                                  stderr=open(logs / "scheduler.log", "w"))]
    for index in range(2):
        processes.append(subprocess.Popen(command + ["worker", address, "--nworkers", "1", "--nthreads", "1",
                                                     "--no-dashboard", "--name", f"worker-{index}"],
                                          stdout=subprocess.DEVNULL, stderr=open(logs / f"worker-{index}.log", "w")))
    from distributed import Client

    deadline = time.monotonic() + 120
    while True:
        try:
            with Client(address, timeout=5) as client:
                if len(client.scheduler_info()["workers"]) == 2:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Dask cluster did not start: {(logs / 'scheduler.log').read_text()[-2000:]}")
        time.sleep(1)
    yield address
    for process in reversed(processes):  # the workers, then the scheduler
        process.terminate()
    for process in processes:
        process.wait(timeout=60)


@pytest.fixture(scope="module")
def tree(small_tree):
    """The run's small tree (18 real clips: actors 01, 08, 11; four speech and two song clips each)."""
    return small_tree


def _dask(address: str, **options) -> tuple[str, ...]:
    return ("runner=DaskRunner", f"dask_client_address={address}", "dask_partition_size=4",
            *(f"{key}={value}" for key, value in options.items()))


def _output_bytes(out):
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}


def test_the_dask_runner_writes_the_default_executors_bytes(cluster, tree, small_build, model_files_kwargs, tmp_path,
                                                            monkeypatch):
    local = small_build  # the default executor's build of the tree with SMALL
    on_dask = pipeline.build(SMALL, out=tmp_path / "dask", source=tree,
                             run=Run(cache_dir=tmp_path / "cache-dask", progress=False, runner=BeamExecutor(beam_options=_dask(cluster))),
                             **model_files_kwargs)
    assert on_dask.computed == 18 and on_dask.cached == 0 and 1 <= on_dask.model_loads <= 2
    assert _output_bytes(on_dask.out) == _output_bytes(local.out)
    # a relative cache folder is this process's, not the workers' (they run in another folder)
    monkeypatch.chdir(tmp_path)
    again = pipeline.build(SMALL, out=tmp_path / "dask", source=tree,
                           run=Run(cache_dir="cache-dask", progress=False, runner=BeamExecutor(beam_options=_dask(cluster))),
                           **model_files_kwargs)
    assert (again.computed, again.cached, again.model_loads) == (0, 18, 0)


def test_an_unreachable_scheduler_and_one_without_workers_fail_in_time_naming_the_address(tree, model_files_kwargs,
                                                                                           tmp_path):
    nowhere = f"tcp://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with pytest.raises(SourceError, match=f"the Dask scheduler at {nowhere} cannot be reached within 10 s"):
        pipeline.build(SMALL, out=tmp_path / "out", source=tree,
                       run=Run(cache_dir=tmp_path / "cache", progress=False, runner=BeamExecutor(beam_options=_dask(nowhere))),
                       **model_files_kwargs)
    assert time.monotonic() - started < 20
    address = f"tcp://127.0.0.1:{_free_port()}"
    scheduler = subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port",
                                  address.rsplit(":", 1)[1], "--no-dashboard"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:  # the scheduler listens (started on a loaded machine, it may take a while)
            try:
                socket.create_connection(("127.0.0.1", int(address.rsplit(":", 1)[1])), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the Dask scheduler did not start"
                time.sleep(0.5)
        with pytest.raises(SourceError, match=f"the Dask scheduler at {address} has no worker after 3 s .*"
                                              "worker_wait_seconds"):
            pipeline.build(SMALL, out=tmp_path / "out", source=tree,
                           run=Run(cache_dir=tmp_path / "cache", progress=False, runner=BeamExecutor(
                               worker_wait_seconds=3, beam_options=_dask(address))), **model_files_kwargs)
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=60)
    assert not (tmp_path / "out").exists()


def test_a_failing_clip_on_dask_is_named_and_nothing_is_written(cluster, tree, model_files_kwargs, tmp_path):
    source = tmp_path / "tree"
    shutil.copytree(tree, source)
    write_audio(source / SONG / "Actor_11" / "03-02-01-01-01-01-11.flac", np.zeros(48000))
    with pytest.raises(SilentClipError, match=r"song/Actor_11/03-02-01-01-01-01-11\.wav: no active sample.*"
                                              r"Beam step 'Measure'"):
        pipeline.build(SMALL.replace(on_silent="error"), out=tmp_path / "out", source=source,
                       run=Run(cache_dir=tmp_path / "cache", progress=False, runner=BeamExecutor(beam_options=_dask(cluster))),
                       **model_files_kwargs)
    assert not (tmp_path / "out").exists()
