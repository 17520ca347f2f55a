"""The default outputs do not change: bundles and metadata.csv equal, byte for byte, what
ravdess-prep 0.1.0 wrote for the same inputs and settings.

``data/golden_v1_digests.json`` holds the SHA-256 of every ``.npy`` and ``metadata.csv`` that
the code before the embedder/corpus re-layout wrote on the tree below (19 real and synthetic
clips, four settings), with the seed-0 random VGGish checkpoint and the official PCA file;
``data/golden_v1_embeddings.npz`` holds its embeddings. TensorFlow's float32 results can
differ in the last bits between processor families, so the digests of the embeddings are
compared where the model computes the recorded fingerprint (the raw output of a fixed batch),
and elsewhere the embeddings are compared with the recorded ones at one quantization step on
a small fraction of values. Everything that does not go through the model (names, labels,
metadata) is compared byte for byte everywhere.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from conftest import copy_clips
from ravdess_prep import pipeline
from ravdess_prep.embedders import VGGishEmbedder
from ravdess_prep.params import CLIP_CACHE_FOLDER

DATA = Path(__file__).resolve().parent / "data"
RECORDED = json.loads((DATA / "golden_v1_digests.json").read_text())

# the tree holds actors 01, 08 and 11 only (allow_missing_speakers changes no output)
VARIANTS = {
    "default": pipeline.Config(allow_missing_speakers=True),
    "hop096_nofc2_shuffled_resplit": pipeline.Config(embedder=VGGishEmbedder(hop_seconds=0.96, fc2_activation=None),
                                                     shuffle_seed=7, dev_speakers=(1,), test_speakers=(8,)),
    "fixed_target_crop_drop_silent": pipeline.Config(target_length_samples=150000, on_too_long="crop",
                                                     on_silent="drop", allow_missing_speakers=True),
    "resampled_16k_energy": pipeline.Config(sample_rate_hz=16000, trim_method="energy", allow_missing_speakers=True),
}


def make_tree(ravdess_dir: Path, destination: Path) -> Path:
    """Actors 01, 08, 11: four speech and two song clips each, plus one second of digital
    silence named as a speech clip of actor 11 (the tree the digests were recorded on)."""
    copy_clips(ravdess_dir, destination, (1, 8, 11), speech=4, song=2)
    silent = destination / "Audio_Speech_Actors_01-24" / "Actor_11" / "03-01-08-02-02-02-11.wav"
    soundfile.write(str(silent), np.zeros(48000, np.int16), 48000, subtype="PCM_16")
    return destination


@pytest.fixture(scope="module")
def golden_builds(ravdess_dir, model_files_kwargs, small_build, tmp_path_factory):
    """The four builds. The tree is the run's small tree and one silent clip, so the cache
    starts with the small build's clips: the default variant computes only the silent clip (the
    recorded digests check every byte either way); the other variants compute every clip."""
    root = tmp_path_factory.mktemp("golden")
    tree = make_tree(ravdess_dir, root / "tree")
    shutil.copytree(small_build.cache / CLIP_CACHE_FOLDER, root / "cache" / CLIP_CACHE_FOLDER)
    run = pipeline.Run(cache_dir=root / "cache", jobs=2, progress=False)
    return {name: pipeline.build(config, out=root / "out" / name, source=tree, run=run, **model_files_kwargs).out
            for name, config in VARIANTS.items()}


def _digests(out: Path) -> dict[str, str]:
    return {path.relative_to(out).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(out.rglob("*")) if path.suffix in (".npy", ".csv")}


def _fingerprint(checkpoint: Path) -> str:
    import vggish

    examples = np.random.default_rng(0).standard_normal((128, 96, 64)).astype(np.float32)
    with vggish.VGGish(checkpoint) as model:
        return hashlib.sha256(model.embed(examples).tobytes()).hexdigest()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_outputs_equal_the_recorded_ones(variant, golden_builds, random_checkpoint):
    found = _digests(golden_builds[variant])
    expected = RECORDED["variants"][variant]
    assert sorted(found) == sorted(expected)
    model_free = [name for name in expected if not name.endswith("_embeddings.npy")]
    assert {name: found[name] for name in model_free} == {name: expected[name] for name in model_free}
    embeddings = [name for name in expected if name.endswith("_embeddings.npy")]
    if _fingerprint(random_checkpoint) == RECORDED["machine_fingerprint"]:
        assert {name: found[name] for name in embeddings} == {name: expected[name] for name in embeddings}
        return
    with np.load(DATA / "golden_v1_embeddings.npz") as recorded:  # another processor family
        for name in embeddings:
            split = name.split("/")[0]
            new = np.load(golden_builds[variant] / name)
            old = recorded[f"{variant}/{split}"].astype(np.float32)
            assert new.shape == old.shape and new.dtype == np.float32
            difference = np.abs(new - old)
            assert difference.max() <= 1 and (difference > 0).mean() < 1e-3, (name, difference.max())
