"""The fixtures and helpers the test modules share: where ../shared is, small audio writers,
the random-weights VGGish checkpoint, and the small trees and builds that many modules read.

Under pytest-xdist each process runs its own session, so a session fixture alone would be made
once per process. What is costly and only read (the checkpoint, the small build) is made once
per run instead, in a folder every process of the run sees (:func:`made_once`): the first
process to ask makes it, the others wait for it and read it.
"""

from __future__ import annotations

import dataclasses
import fcntl
import importlib.util
import os
import shutil
from pathlib import Path
from typing import Callable

# When the suite runs in several processes (pytest-xdist: ``-n 2`` in setup.cfg, one per core),
# each process's math libraries take one thread, and so does every subprocess a test starts
# (it inherits this environment), so that the processes do not oversubscribe the cores
# (measured on 2 cores: 9 min 47 s with the libraries' own thread counts, 8 min 7 s with one).
# Set before numpy, TensorFlow or PyTorch is imported; a value already set is kept; a run in
# one process (``-n 0``, as for ``-m slow``) keeps every thread.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                      "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SHARED_ENV = "RAVDESS_PREP_SHARED"
#: The modules that take longest (measured on the 2-core machine), longest first: they are
#: handed to the test processes first, so that no long module starts when the others are done.
#: test_trim.py is short once librosa's numba functions are compiled, which its first test does
#: in a fresh environment (about 20 s).
LONGEST_FIRST = ("test_pipeline.py", "test_bad_inputs_commands.py", "test_beam.py", "test_beam_dask.py",
                 "test_bad_inputs.py", "test_docs.py", "test_classifier.py", "test_datasets_elsewhere.py",
                 "test_golden_outputs.py", "test_vggish_model.py", "test_embedders_whisper.py", "test_embedders_hf.py",
                 "test_interface.py", "test_embedders_egemaps.py", "test_readme.py", "test_trim.py",
                 "test_embedders_yamnet.py", "test_plugins.py", "test_bad_model_files.py", "test_seams.py",
                 "test_measure.py", "test_embedders_vggish.py", "test_yamnet.py", "test_crossval.py",
                 "test_crosscorpus.py", "test_imports.py", "test_whisper.py")


def pytest_collection_modifyitems(items):
    """The longest modules first (see :data:`LONGEST_FIRST`); the others keep their order."""
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def shared_root() -> Path:
    """``$RAVDESS_PREP_SHARED``, else ``../shared`` beside the repository."""
    configured = os.environ.get(SHARED_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[1].parent / "shared"


def require_shared(relative: str) -> Path:
    """A path inside the shared folder; skip when it is missing, fail when ``CI`` is set."""
    path = shared_root() / relative
    if not path.exists():
        message = f"shared data {path} is missing (set {SHARED_ENV} to the shared folder)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_opensmile() -> None:
    """Skip unless openSMILE is installed, without importing it: the library loads it with its
    own symbols first (see ravdess_prep.embedders.egemaps), which an import by a test made after
    TensorFlow would pre-empt."""
    if importlib.util.find_spec("opensmile") is None:
        pytest.skip("openSMILE is not installed (pip install -e \".[egemaps]\")", allow_module_level=True)


@pytest.fixture(scope="session")
def ravdess_dir() -> Path:
    """The complete RAVDESS audio-only set (FLAC)."""
    return require_shared("ravdess")


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    """The original project's golden files."""
    return require_shared("seed/example")


@pytest.fixture(scope="session")
def vggish_shared_dir() -> Path:
    """The VGGish specification and PCA parameters."""
    return require_shared("vggish")


@pytest.fixture(scope="session")
def yamnet_dir() -> Path:
    """The YAMNet SavedModel with Google's real weights (read only)."""
    return require_shared("yamnet/yamnet_savedmodel")


@pytest.fixture(scope="session")
def yamnet_shared_readme() -> Path:
    """The facts of the shared YAMNet model."""
    return require_shared("yamnet/README.md")


@pytest.fixture(scope="session")
def vggish_files(random_checkpoint, vggish_shared_dir):
    """The random-weights checkpoint and the official PCA parameters, as build arguments."""
    from ravdess_prep.embedders import VGGishFiles

    return VGGishFiles(checkpoint=random_checkpoint, pca_params=vggish_shared_dir / "vggish_pca_params.npz",
                       allow_custom_checkpoint=True)


@pytest.fixture(scope="session")
def model_files_kwargs(vggish_files) -> dict:
    """``files=`` of a build with the random-weights checkpoint and the official PCA parameters."""
    return {"files": vggish_files}


@pytest.fixture(scope="session")
def encoder_tree(ravdess_dir, tmp_path_factory) -> Path:
    """Nine real clips for the speech encoders' tests (read only): actors 08 (dev), 11 (test)
    and 12 (train), two speech clips and one song each, all calm (a head needs two training
    clips of every class the data holds)."""
    return copy_clips(ravdess_dir, tmp_path_factory.mktemp("encoder-tree"), (8, 11, 12), speech=2, song=1,
                      pick=slice(4, None, 2))


SPEECH = "Audio_Speech_Actors_01-24"
SONG = "Audio_Song_Actors_01-24"


def copy_clips(ravdess_dir: Path, destination: Path, actors, *, speech: int, song: int, pick: slice = slice(None)) -> Path:
    """Copy real clips into ``destination`` in the corpus's layout: per actor, of its sorted
    speech and song files, those ``pick`` selects, the first ``speech`` and ``song`` of them."""
    for actor in actors:
        for folder, count in ((SPEECH, speech), (SONG, song)):
            for path in sorted((ravdess_dir / folder / f"Actor_{actor:02d}").glob("*.flac"))[pick][:count]:
                target = destination / folder / path.parent.name / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
    return destination


def write_audio(path: Path, samples: np.ndarray, sample_rate_hz: int = 48000, subtype: str = "PCM_16") -> Path:
    """Write samples (float in [-1, 1], shape (n,) or (n, channels)) to ``path``.

    16-bit output is written as exact integers x * 32768 (libsndfile would scale by 32767).
    """
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    samples = np.asarray(samples)
    if subtype == "PCM_16" and samples.dtype.kind == "f":
        samples = np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)
    soundfile.write(str(path), samples, sample_rate_hz, subtype=subtype)
    return path


def tone(seconds: float, *, frequency_hz: float = 440.0, sample_rate_hz: int = 48000, amplitude: float = 0.5,
         silence_seconds: float = 0.0) -> np.ndarray:
    """A sine tone padded with ``silence_seconds`` of digital silence on both sides."""
    t = np.arange(int(round(seconds * sample_rate_hz))) / sample_rate_hz
    signal = amplitude * np.sin(2 * np.pi * frequency_hz * t)
    pad = np.zeros(int(round(silence_seconds * sample_rate_hz)))
    return np.concatenate([pad, signal, pad])


# --- made once per run, read by every module -----------------------------------------------


@pytest.fixture(scope="session")
def run_folder(tmp_path_factory) -> Path:
    """A folder of this run that every test process sees (the parent of each xdist process's
    base folder; the base folder itself without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "made-once"


def made_once(folder: Path, make: Callable[[Path], object]) -> Path:
    """``folder``, made by ``make(folder)`` in the first process of the run that asks for it;
    the others wait on a file lock until it is done. A folder left half made (its maker
    failed) is made again."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder.parent / f"{folder.name}.done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            (folder.parent / f"{folder.name}.done").touch()
    return folder


@pytest.fixture(scope="session")
def random_checkpoint(run_folder) -> Path:
    """A V1 checkpoint in the official VGGish layout with seeded random weights (about 290 MB;
    read only)."""
    from vggish.testing import write_random_checkpoint

    folder = made_once(run_folder / "vggish", lambda folder: write_random_checkpoint(folder / "vggish_model.ckpt",
                                                                                     seed=0))
    return folder / "vggish_model.ckpt"


@pytest.fixture(scope="session")
def small_tree(ravdess_dir, run_folder) -> Path:
    """18 real clips (read only): actors 01 (train), 08 (dev), 11 (test); the first 4 speech
    and 2 song clips of each."""
    return made_once(run_folder / "small-tree", lambda folder: copy_clips(ravdess_dir, folder, (1, 8, 11), speech=4,
                                                                          song=2))


@dataclasses.dataclass(frozen=True)
class SharedBuild:
    """A build made once per run: its output folder, and its clip cache at ``out.parent /
    "cache"`` (builds of the same clips and settings take every clip from it; a test that
    counts what a build computes, or damages entries, copies it first)."""

    out: Path

    @property
    def cache(self) -> Path:
        return self.out.parent / "cache"


@pytest.fixture(scope="session")
def small_build(small_tree, vggish_files, run_folder) -> SharedBuild:
    """The small tree built with the default settings (VGGish as the original used it; the
    tree lacks the original split's other actors, hence ``allow_missing_speakers``) and the
    random-weights checkpoint (read only)."""
    from ravdess_prep import pipeline

    def build(folder: Path) -> None:
        pipeline.build(pipeline.Config(allow_missing_speakers=True), out=folder / "out", source=small_tree,
                       files=vggish_files,
                       run=pipeline.Run(cache_dir=folder / "cache", jobs=2, progress=False))

    return SharedBuild(made_once(run_folder / "small-build", build) / "out")
