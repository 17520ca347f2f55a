"""The classifier: training on separable synthetic bundles, reports, reload, prediction."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ravdess_prep.evaluation import classifier, crossval, model_folder
from ravdess_prep.evaluation.heads import HEADS
from ravdess_prep import cli
from ravdess_prep.dataset.bundles import Bundle, read_bundles
from ravdess_prep.corpora.ravdess import EMOTION_NAMES, RAVDESS
from ravdess_prep.params import CLIP_CACHE_FOLDER
from ravdess_prep.exceptions import ModelFileError, ParameterError, SourceError

FAST = classifier.TrainConfig(epochs=8, learning_rate=3e-3, batch_size=32, seed=1)


def _synthetic(actors, clips_per_class, rng, centers):
    names, embeddings, labels = [], [], []
    for actor in actors:
        for label in range(8):
            for index in range(clips_per_class):
                intensity = 1 if label == 0 else 1 + index % 2
                names.append(f"speech/Actor_{actor:02d}/03-01-{label + 1:02d}-{intensity:02d}-01-{1 + index % 2:02d}-{actor:02d}.wav")
                noise = rng.normal(0, 25, (20, 128))
                embeddings.append(np.clip(np.round(centers[label] + noise), 0, 255))
                labels.append(label)
    return _with_facts(Bundle(np.asarray(names), np.asarray(embeddings, np.float32), np.asarray(labels, np.int32)))


def _with_facts(bundle):
    """The bundle with the speakers, facets and label names the dataset reader gives."""
    rows = [RAVDESS().parse_name(name) for name in bundle.names]
    return Bundle(bundle.names, bundle.embeddings, bundle.labels, np.asarray([row["actor"] for row in rows]),
                  {facet: np.asarray([row[facet] for row in rows]) for facet in ("intensity", "vocal_channel")},
                  EMOTION_NAMES)


@pytest.fixture(scope="module")
def separable():
    """Bundles whose classes are separable: each emotion has its own mean vector."""
    rng = np.random.default_rng(0)
    centers = rng.uniform(40, 215, (8, 1, 128))
    return {
        "train": _synthetic(range(1, 19), 2, rng, centers),
        "dev": _synthetic((19, 20, 21), 2, rng, centers),
        "test": _synthetic((22, 23, 24), 2, rng, centers),
    }


@pytest.fixture(scope="module")
def trained(separable, tmp_path_factory):
    return classifier.train(separable, tmp_path_factory.mktemp("model"), FAST)


def test_separable_classes_are_learned_in_a_few_epochs(trained):
    for split in ("train", "dev", "test"):
        assert trained.metrics["splits"][split]["accuracy"] >= 0.9, split
    assert len(trained.history["loss"]) == FAST.epochs and "val_accuracy" in trained.history


def test_reports_are_written(trained):
    metrics = json.loads((trained.model_dir / "metrics.json").read_text())
    dev = metrics["splits"]["dev"]
    assert set(dev) >= {"accuracy", "balanced_accuracy", "per_class", "confusion_matrix", "accuracy_by_intensity",
                        "accuracy_by_vocal_channel"}
    assert set(dev["per_class"]) == {"neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"}
    assert set(dev["accuracy_by_intensity"]) == {"normal", "strong"}
    assert np.asarray(dev["confusion_matrix"]).sum() == 48
    assert metrics["config"]["epochs"] == FAST.epochs
    import matplotlib.image

    image = matplotlib.image.imread(trained.model_dir / "confusion_matrix.png")
    assert image.shape[:2] == (600, 3 * 640)  # one 6.4 x 6 inch panel per split at 100 dpi


def test_a_model_folder_is_checked_when_it_is_loaded(trained, tmp_path):
    """metrics.json records the SHA-256 of its values and of the model's file; a record edited
    by hand (two classes swapped), another model's file, a record of another number of classes
    or a name that is no emotion is refused naming the file."""
    record = json.loads((trained.model_dir / "metrics.json").read_text())
    assert {"record_sha256", "model_sha256"} <= set(record)
    cases = []
    swapped = dict(record, class_names=[record["class_names"][1], record["class_names"][0], *record["class_names"][2:]])
    cases.append(("metrics.json", swapped, None, "edited since train wrote it"))
    older = {key: value for key, value in record.items() if key not in ("record_sha256", "model_sha256")}
    cases.append(("metrics.json", dict(older, class_names=record["class_names"][:6]), None,
                  "6 class names for a model of 8 outputs"))
    cases.append(("metrics.json", dict(older, canonical_names=["joyful", *record["class_names"][1:]]), None,
                  "'joyful' is no canonical emotion"))
    cases.append(("metrics.json", ["not", "a", "record"], None, "not a model record"))
    cases.append(("metrics.json", {key: value for key, value in older.items() if key != "class_names"}, None,
                  "no class_names; not a record ravdess-prep train wrote"))
    cases.append(("model.keras", record, b"PK\x03\x04 cut short", "SHA-256"))
    for number, (named, values, model_bytes, message) in enumerate(cases):
        folder = tmp_path / f"model-{number}"
        shutil.copytree(trained.model_dir, folder)
        (folder / "metrics.json").write_text(json.dumps(values))
        if model_bytes is not None:
            (folder / "model.keras").write_bytes(model_bytes)
        with pytest.raises((SourceError, ModelFileError), match=rf"^{folder / named}: .*{message}"):
            model_folder.load_model(folder)
    # an older model's truncated file: no digest to compare, and still one line naming it
    folder = tmp_path / "older"
    shutil.copytree(trained.model_dir, folder)
    (folder / "metrics.json").write_text(json.dumps(older))
    (folder / "model.keras").write_bytes((trained.model_dir / "model.keras").read_bytes()[:500])
    with pytest.raises(ModelFileError, match=rf"^{folder / 'model.keras'}: not a readable model"):
        model_folder.load_model(folder)


def test_another_dataset_is_named_by_its_first_difference():
    """An fp32 model against a bf16 dataset: the nested setting that differs, not two whole
    configurations."""
    trained = {"row_shape": [4, 512], "config": {"embedder": {"name": "whisper", "precision": "fp32", "layers": [1]},
                                                 "trim_threshold": 0.01}}
    given = {"row_shape": [4, 512], "config": {"embedder": {"name": "whisper", "precision": "bf16", "layers": [1]},
                                               "trim_threshold": 0.01}}
    with pytest.raises(ParameterError, match=r"^m was trained on data other than d's \(config differs: "
                                             r"embedder\.precision: 'fp32' against 'bf16'\); give the dataset"):
        model_folder.check_same_dataset(trained, given, model_dir="m", dataset="d")


@pytest.mark.parametrize("head", sorted(HEADS.builtin()))
def test_degenerate_training_data_is_refused_for_every_head(separable, head, tmp_path):
    """One clip of a class in train, or a class of train missing from dev, is refused naming the
    class and its count, before any head is fitted; nothing is written."""
    train, dev = separable["train"], separable["dev"]
    happy = EMOTION_NAMES.index("happy")
    one_happy = np.flatnonzero(train.labels != happy).tolist() + [int(np.flatnonzero(train.labels == happy)[0])]
    cases = [({"train": crossval.subset(train, one_happy), "dev": dev},
              "class 'happy' has 1 clip in train; a head needs at least 2 training clips of every class the data "
              "holds"),
             ({"train": crossval.subset(train, np.flatnonzero(train.labels != happy)), "test": separable["test"]},
              "class 'happy' has 0 clips in train"),
             ({"train": train, "dev": crossval.subset(dev, np.flatnonzero(dev.labels != happy))},
              "class 'happy' has 36 clips in train but none in dev, where the head's choices are scored")]
    for bundles, message in cases:
        with pytest.raises(SourceError, match=f"^the bundles given: {message}"):
            classifier.train(bundles, tmp_path / "model", classifier.TrainConfig(head=head))
        assert not (tmp_path / "model").exists()


def test_no_within_class_scatter_saves_no_model(separable, tmp_path):
    """A stack of layers with two identical clips of each class in train: shrinkage LDA has
    nothing to shrink (it divided by zero and saved a NaN model)."""
    first = {label: int(np.flatnonzero(separable["train"].labels == label)[0]) for label in range(8)}
    train = crossval.subset(separable["train"], [index for index in first.values() for _ in range(2)])
    stack = {name: Bundle(bundle.names, bundle.embeddings, bundle.labels, bundle.speakers, bundle.facets,
                          bundle.label_names, axes=("layers", "dim"))
             for name, bundle in {"train": train, "test": separable["test"]}.items()}
    with pytest.raises(ParameterError, match="no within-class scatter"):
        classifier.train(stack, tmp_path / "model", classifier.TrainConfig(head="lda"))
    assert not (tmp_path / "model").exists()


def test_reloaded_model_predicts_exactly_the_same(trained, separable):
    model = model_folder.load_model(trained.model_dir)
    again = model_folder.load_model(trained.model_dir)
    first = classifier.predict_probabilities(model, separable["test"].embeddings)
    np.testing.assert_array_equal(first, classifier.predict_probabilities(again, separable["test"].embeddings))
    np.testing.assert_allclose(first.sum(axis=1), 1.0, rtol=1e-5)
    predicted = first.argmax(axis=1)
    accuracy = (predicted == separable["test"].labels).mean()
    assert accuracy == pytest.approx(json.loads((trained.model_dir / "metrics.json").read_text())["splits"]["test"]["accuracy"])


def test_original_format_bundles_load_and_train(separable, tmp_path):
    data = tmp_path / "original"
    for split, bundle in separable.items():
        (data / split).mkdir(parents=True)
        np.save(data / split / f"{split}_filenames.npy", np.array(list(bundle.names), dtype=object), allow_pickle=True)
        np.save(data / split / f"{split}_embeddings.npy", bundle.embeddings.astype(np.float64))
        np.save(data / split / f"{split}_labels.npy", bundle.labels.astype(np.int64))
    result = classifier.train(data, tmp_path / "model", classifier.TrainConfig(epochs=1, batch_size=64))
    assert set(result.metrics["splits"]) == {"train", "dev", "test"}
    assert (tmp_path / "model" / "model.keras").is_file()


def test_evaluate_against_hand_counts():
    """Three classes of unequal size, so that UA, WA and macro-F1 all differ; every figure worked
    out by hand from the ten clips below."""
    channels, intensities = [1] * 8 + [2] * 2, [1, 2] * 5  # speech / song; normal / strong
    names = [f"{'speech' if channel == 1 else 'song'}/Actor_{actor:02d}/03-{channel:02d}-03-{intensity:02d}-01-01-"
             f"{actor:02d}.wav" for actor, channel, intensity in zip(range(1, 11), channels, intensities)]
    facets = _with_facts(Bundle(np.asarray(names), np.zeros((10, 1)), np.zeros(10, np.int32))).facets
    labels = [0, 0, 0, 0, 0, 0, 1, 1, 2, 2]
    predicted = [0, 0, 0, 0, 0, 1, 0, 1, 2, 1]
    result = classifier.evaluate(labels, predicted, label_names=EMOTION_NAMES, facets=facets)
    assert result["wa"] == result["accuracy"] == pytest.approx(7 / 10)
    assert result["ua"] == result["balanced_accuracy"] == pytest.approx((5 / 6 + 1 / 2 + 1 / 2) / 3)  # 11/18
    assert result["macro_f1"] == pytest.approx((5 / 6 + 2 / 5 + 2 / 3) / 3)  # 19/30
    assert result["per_class"]["neutral"] == {"precision": pytest.approx(5 / 6), "recall": pytest.approx(5 / 6),
                                              "f1": pytest.approx(5 / 6), "support": 6}
    assert result["per_class"]["calm"] == {"precision": pytest.approx(1 / 3), "recall": 0.5,
                                           "f1": pytest.approx(2 / 5), "support": 2}
    assert result["per_class"]["happy"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert [row[:3] for row in result["confusion_matrix"][:3]] == [[5, 1, 0], [1, 1, 0], [0, 1, 1]]
    assert result["accuracy_by_vocal_channel"] == {"song": 0.5, "speech": 0.75}
    assert result["accuracy_by_intensity"] == {"normal": pytest.approx(4 / 5), "strong": pytest.approx(3 / 5)}


def test_cross_validation_by_speaker(separable):
    pooled = {name: Bundle(bundle.names, bundle.embeddings.mean(axis=1), bundle.labels, bundle.speakers, bundle.facets,
                           bundle.label_names) for name, bundle in separable.items()}  # vectors: the closed-form head
    result = crossval.cross_validate(pooled, classifier.TrainConfig(head="lda", shrinkage=0.5), folds=3)
    held = sorted(actor for fold in result["folds"] for actor in fold["test_speakers"])
    assert held == list(range(1, 25)) and len(result["folds"]) == 3
    assert all(fold["dev_speakers"] == [] and fold["trained_on"] == ["train"] for fold in result["folds"])
    for name in ("ua", "wa", "macro_f1"):
        values = [fold[name] for fold in result["folds"]]
        assert result[name]["mean"] == pytest.approx(np.mean(values)) and result[name]["std"] == pytest.approx(np.std(values))
        low, high = result[name]["ci95"]
        assert low <= result[name]["mean"] <= high
    assert result["wa"]["mean"] >= 0.9


@pytest.mark.parametrize("head", ["linear", "mlp"])
def test_pooled_bundles_train_the_clip_level_heads(separable, tmp_path, head):
    pooled = {name: Bundle(bundle.names, bundle.embeddings.mean(axis=1), bundle.labels, bundle.speakers, bundle.facets,
                           bundle.label_names) for name, bundle in separable.items()}
    config = classifier.TrainConfig(head="auto" if head == "linear" else head, epochs=30, batch_size=32, seed=1)
    result = classifier.train(pooled, tmp_path / head, config)
    assert model_folder.load_model(tmp_path / head).name == f"emotion_classifier_{head}"
    assert result.metrics["config"]["head"] == head  # auto is the linear head for one vector per clip
    assert result.metrics["config"]["learning_rate"] == {"linear": 1e-2, "mlp": 1e-3}[head]  # docs/classifier.md
    for split in ("train", "dev", "test"):
        assert result.metrics["splits"][split]["accuracy"] >= 0.9, split
    with pytest.raises(ParameterError, match="bigru head"):
        classifier.train(pooled, tmp_path / "bigru", classifier.TrainConfig(head="bigru", epochs=1))


@pytest.mark.parametrize("field, value", [("epochs", 0), ("dropout", 1.0), ("learning_rate", 0.0), ("gru_units", 2.5),
                                          ("head", "transformer"), ("hidden_units", 0), ("l2", -1.0)])
def test_train_config_rejects_bad_values(field, value):
    with pytest.raises(ParameterError, match=field):
        classifier.TrainConfig(**{field: value})


def test_train_and_predict_commands_end_to_end(small_tree, small_build, random_checkpoint, vggish_shared_dir, tmp_path,
                                               capsys):
    """Build the small tree with the random checkpoint (its clips from the run's small build's
    cache: the commands are what is tested here), train on it, predict a wav file."""
    tree = small_tree
    shutil.copytree(small_build.cache / CLIP_CACHE_FOLDER, tmp_path / "cache" / CLIP_CACHE_FOLDER)
    assert cli.main(["build", "--source", str(tree), "--out", str(tmp_path / "data"), "--checkpoint",
                     str(random_checkpoint), "--custom-checkpoint", "--pca-params",
                     str(vggish_shared_dir / "vggish_pca_params.npz"), "--cache-dir", str(tmp_path / "cache"),
                     "--no-progress", "--jobs", "1", "--allow-missing-speakers"]) == 0
    capsys.readouterr()
    assert cli.main(["train", "--data", str(tmp_path / "data"), "--model-dir", str(tmp_path / "model"),
                     "--epochs", "2"]) == 0
    table = capsys.readouterr().out
    assert "train" in table and "dev" in table and "test" in table and "UA" in table and "macro" not in table
    import soundfile

    samples, rate = soundfile.read(str(sorted(tree.rglob("*.flac"))[0]), dtype="int16")
    soundfile.write(str(tmp_path / "new.wav"), samples, rate)
    assert cli.main(["predict", str(tmp_path / "new.wav"), "--dataset", str(tmp_path / "data"),
                     "--model-dir", str(tmp_path / "model"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report[0]["file"] == str(tmp_path / "new.wav")
    assert report[0]["emotion"] in report[0]["probabilities"]
    assert sum(report[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert read_bundles(tmp_path / "data")["train"].embeddings.shape[1] > 0
