"""Models and corpora are pluggable: a toy embedder and a toy corpus, each one class plus its
registration, built end to end into bundles, embedded again as the dataset was, and trained on."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import vggish
from commands import executor
from conftest import write_audio
from ravdess_prep.dataset.manifest import Manifest
from ravdess_prep.evaluation import classifier
from ravdess_prep import corpora, embedders, pipeline
from ravdess_prep.dataset.bundles import read_bundles
from ravdess_prep.corpora import Corpus
from ravdess_prep.embedders import Embedder
from ravdess_prep.exceptions import ClipNameError
from ravdess_prep.embedders.outputs import SEQUENCE

EMOTIONS = ("happy", "sad")


class ToyCorpus(Corpus):
    """Clips named ``s<speaker>_<emotion>_<take>.wav``, speakers 1..6, two emotions."""

    name = "toy"
    title = "A toy corpus of synthetic clips"
    columns = ("clip_name", "path", "speaker", "emotion", "label", "take", "sample_rate_hz", "channels", "num_samples")
    speaker_column = "speaker"
    label_names = EMOTIONS
    sort_columns = ("speaker", "clip_name")
    facet_columns = ("take",)
    card_columns = ("emotion", "take")
    speakers = (1, 2, 3, 4, 5, 6)
    default_dev_speakers = (5,)
    default_test_speakers = (6,)

    def parse_name(self, path):
        match = re.fullmatch(r"s(\d\d)_(happy|sad)_(\d)\.(wav|flac)", Path(path).name)
        if match is None:
            raise ClipNameError(f"{path}: not named s<speaker>_<emotion>_<take>.wav")
        speaker, emotion, take, _ = match.groups()
        return {"clip_name": f"s{speaker}/{Path(path).stem}.wav", "speaker": int(speaker), "emotion": emotion,
                "label": EMOTIONS.index(emotion), "take": int(take)}


@dataclasses.dataclass(frozen=True)
class ProjectionEmbedder(Embedder):
    """A fixed random projection of VGGish's log-mel examples."""

    dim: int = 8
    seed: int = 0
    hop_seconds: float = 0.48

    name: ClassVar[str] = "projection"
    sample_rate_hz: ClassVar[int] = 16000
    output: ClassVar[str] = "random projections of log-mel examples"

    def clip_kind(self):
        return SEQUENCE

    @property
    def batch_examples(self):
        return 16

    def clip_shape(self, *, examples, files):
        return (examples, self.dim)

    def num_examples(self, num_samples, *, sample_rate_hz=16000):
        return vggish.num_examples(num_samples, hop_seconds=self.hop_seconds)

    def examples(self, signal, *, sample_rate_hz, sound=None):
        return vggish.log_mel_examples(signal, hop_seconds=self.hop_seconds, sound=sound)

    def silent_example(self):
        return vggish.silent_example()

    def load(self, files):
        return ProjectionModel(np.random.default_rng(self.seed).standard_normal((96 * 64, self.dim)) / 96.0)


class ProjectionModel:
    runs = 0

    def __init__(self, weights):
        self.weights = weights.astype(np.float32)

    def embed(self, examples):
        ProjectionModel.runs += 1
        return examples.reshape(len(examples), -1) @ self.weights

    def postprocess(self, raw):
        return raw

    def close(self):
        pass


@pytest.fixture
def registered():
    corpora.CORPORA.register(ToyCorpus.name, ToyCorpus())
    embedders.EMBEDDERS.register(ProjectionEmbedder.name, ProjectionEmbedder)
    yield
    corpora.CORPORA.unregister(ToyCorpus.name)
    embedders.EMBEDDERS.unregister(ProjectionEmbedder.name)


def _toy_tree(folder: Path) -> Path:
    """Happy clips are a 1760 Hz tone, sad ones a 220 Hz tone, in noise and silence, at 16 kHz."""
    rng = np.random.default_rng(0)
    for speaker in range(1, 7):
        for emotion, frequency in (("happy", 1760.0), ("sad", 220.0)):
            for take in range(1, 4):
                seconds = rng.uniform(0.8, 1.6)
                t = np.arange(int(seconds * 16000)) / 16000
                sound = 0.3 * np.sin(2 * np.pi * frequency * t) + rng.normal(0, 0.02, t.size)
                silence = np.zeros(int(rng.uniform(0.1, 0.4) * 16000))
                write_audio(folder / f"s{speaker:02d}" / f"s{speaker:02d}_{emotion}_{take}.wav",
                            np.concatenate([silence, sound, silence]), sample_rate_hz=16000)
    return folder


def test_a_registered_corpus_and_embedder_build_embed_and_train(registered, tmp_path):
    tree = _toy_tree(tmp_path / "toy")
    run = pipeline.Run(cache_dir=tmp_path / "cache", jobs=2, progress=False)
    config = pipeline.Config(corpus="toy", embedder=ProjectionEmbedder(pool="mean"))
    result = pipeline.build(config, out=tmp_path / "bundles", source=tree, run=run)
    manifest = Manifest.read(result.out)
    assert manifest["embedder"]["name"] == "projection" and manifest["corpus"]["name"] == "toy"
    assert manifest["config"]["embedder"] == {"name": "projection", "pool": "mean", "dim": 8, "seed": 0,
                                              "hop_seconds": 0.48}
    bundles = read_bundles(result.out)
    assert {name: len(bundle) for name, bundle in bundles.items()} == {"train": 24, "dev": 6, "test": 6}
    assert bundles["train"].embeddings.shape == (24, 8) and bundles["train"].embeddings.dtype == np.float32
    assert set(bundles["dev"].speakers.tolist()) == {5} and set(bundles["test"].speakers.tolist()) == {6}
    assert bundles["test"].label_names == EMOTIONS
    assert manifest["splits"]["train"]["label_counts"] == [12, 12]

    # a clip of the dataset, embedded again with the dataset's settings, gives its bundle row
    name = bundles["test"].names[0]
    again = pipeline.embed_files([tree / name], result.out)
    np.testing.assert_array_equal(again[0], bundles["test"].embeddings[0])

    # the rows are the projection of the examples, pooled: computed here without the pipeline
    trimmed, _ = pipeline.trim(tree / name, config)
    target = manifest["target_length_samples"]
    padded = pipeline.pad(trimmed, target, config)
    examples = vggish.log_mel_examples(padded, hop_seconds=0.48)
    weights = ProjectionEmbedder().load(None).weights
    np.testing.assert_allclose(again[0], (examples.reshape(len(examples), -1) @ weights).mean(axis=0), rtol=1e-5)

    trained = classifier.train(result.out, tmp_path / "model",
                               classifier.TrainConfig(epochs=40, learning_rate=1e-2, batch_size=8, seed=0))
    assert trained.metrics["splits"]["test"]["accuracy"] == 1.0
    assert set(trained.metrics["splits"]["test"]["accuracy_by_take"]) == {"1", "2", "3"}
    assert trained.metrics["class_names"] == list(EMOTIONS)


def test_a_registered_embedder_runs_on_beam_with_the_same_bytes(registered, tmp_path):
    pytest.importorskip("apache_beam")
    tree = _toy_tree(tmp_path / "toy")
    config = pipeline.Config(corpus="toy", embedder=ProjectionEmbedder(dim=8, seed=3))
    outputs = {}
    for runner, options in (("local", ()), ("beam", ("direct_running_mode=multi_threading", "direct_num_workers=2"))):
        run = pipeline.Run(cache_dir=tmp_path / runner, jobs=2, progress=False, runner=executor(runner, options))
        out = pipeline.build(config, out=tmp_path / f"out-{runner}", source=tree, run=run).out
        outputs[runner] = {path.relative_to(out): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}
    assert outputs["beam"] == outputs["local"]
    bundles = read_bundles(tmp_path / "out-local")
    assert bundles["train"].embeddings.ndim == 3 and bundles["train"].embeddings.shape[2] == 8


def test_unknown_names_are_errors_listing_the_known_ones():
    with pytest.raises(ValueError, match="corpus has to be one of 'ravdess'"):
        pipeline.Config(corpus="toy")
    with pytest.raises(ValueError, match="embedder has to be one of 'vggish'"):
        embedders.embedder_from_dict({"name": "projection"})
