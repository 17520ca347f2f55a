"""Datasets people can take elsewhere: split presets, Parquet and Hugging Face export, the
data card, rebuilding from a manifest or a config file. Real clips of three actors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile
import yaml

from conftest import copy_clips
from ravdess_prep.dataset.manifest import Manifest
from ravdess_prep.evaluation import classifier, crossval
from ravdess_prep import cli, pipeline
from ravdess_prep.dataset.bundles import read_bundles
from ravdess_prep.evaluation.training_data import read_data
from ravdess_prep.exceptions import ModelFileError, ParameterError, SourceError, SplitError
from ravdess_prep.corpora.ravdess import RAVDESS

ACTORS = (1, 2, 5, 6, 9)  # folds6 puts 01, 02 in fold 1, 05, 06 in fold 2, 09 in fold 3


@pytest.fixture(scope="module")
def tree(ravdess_dir, tmp_path_factory):
    return copy_clips(ravdess_dir, tmp_path_factory.mktemp("elsewhere-tree"), ACTORS, speech=3, song=1,
                      pick=slice(4, None, 1))  # all calm: two training clips of every class at least


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("elsewhere-cache")


@pytest.fixture(scope="module")
def fold1(tree, cache, model_files_kwargs, tmp_path_factory):
    config = pipeline.Config(split_preset="folds6", fold=1, target_length_samples=200000, on_too_long="crop",
                             allow_missing_speakers=True)  # five actors of the 24
    return pipeline.build(config, out=tmp_path_factory.mktemp("fold1") / "out", source=tree,
                          run=pipeline.Run(cache_dir=cache, jobs=2, progress=False), **model_files_kwargs)


@pytest.mark.parametrize("preset, fold, dev, test", [
    ("original", None, (8, 19, 24), (11, 14, 15)),
    ("folds6", 1, (5, 6, 7, 8), (1, 2, 3, 4)),
    ("folds6", 6, (1, 2, 3, 4), (21, 22, 23, 24)),
    ("loso", 1, (2,), (1,)),
    ("loso", 24, (1,), (24,)),
    ("folds6", 7, SplitError, "from 1 to 6"),
    ("folds6", None, SplitError, "needs a fold"),
    ("loso", 0, SplitError, "from 1 to 24"),
    ("original", 2, SplitError, "no folds"),
    ("emobox", 1, (4, 10, 12, 14), (1, 11, 20, 21)),
    ("emobox", 6, (1, 11, 20, 21), (6, 13, 17, 22)),
    ("luna2022", 5, (2, 5, 14, 15, 16), (1, 4, 9, 22)),
    ("pepino2021", None, (21, 22), (23, 24)),
    ("pepino2021", 1, SplitError, "no folds"),
    ("emobox", 7, SplitError, "from 1 to 6"),
    ("thirds", 1, ParameterError, "split_preset='thirds': the ravdess corpus has no such split preset .its presets: "
                                  "original, folds6, loso, emobox, pepino2021, luna2022"),
])
def test_split_presets(preset, fold, dev, test):
    if isinstance(dev, type):
        with pytest.raises(dev, match=test):
            pipeline.Config(split_preset=preset, fold=fold)
        return
    config = pipeline.Config(split_preset=preset, fold=fold)
    assert (config.dev_speakers, config.test_speakers) == (dev, test)
    assert pipeline.Config.from_dict(config.to_dict()) == config
    if preset == "folds6":  # each fold: two male (odd) and two female (even) actors
        assert sorted(actor % 2 for actor in test) == [0, 0, 1, 1]


def test_explicit_speaker_lists_are_a_custom_split():
    config = pipeline.Config(dev_speakers=(1,), test_speakers=(2,))
    assert config.split_preset == "custom"
    with pytest.raises(SplitError, match="not those of the folds6 split"):
        pipeline.Config(split_preset="folds6", fold=1, dev_speakers=(9,))


def test_a_fold_reuses_every_clip_of_another(fold1, tree, cache, model_files_kwargs, tmp_path):
    manifest = fold1.manifest
    assert manifest["config"]["split_preset"] == "folds6" and manifest["config"]["fold"] == 1
    assert {name: split["speakers"] for name, split in manifest["splits"].items()} == {
        "train": [9], "dev": [5, 6], "test": [1, 2]}
    fold2 = pipeline.build(pipeline.Config(split_preset="folds6", fold=2, target_length_samples=200000,
                                           on_too_long="crop", allow_missing_speakers=True),
                           out=tmp_path / "fold2", source=tree, run=pipeline.Run(cache_dir=cache, jobs=2, progress=False),
                           **model_files_kwargs)
    assert (fold2.computed, fold2.cached) == (0, 20)  # a fold changes no embedding
    assert {name: split["speakers"] for name, split in fold2.manifest["splits"].items()} == {
        "train": [1, 2], "dev": [9], "test": [5, 6]}


def test_parquet_round_trip_is_bit_for_bit(fold1, tmp_path):
    import pandas as pd

    datasets = pytest.importorskip("datasets")
    path = tmp_path / "fold1.parquet"
    assert cli.main(["export", str(fold1.out), "--format", "parquet", "--out", str(path)]) == 0
    table = pd.read_parquet(path)
    bundles = read_bundles(fold1.out)
    assert list(table["split"].unique()) == [name for name in ("train", "dev", "test") if len(bundles[name])]
    for name, bundle in bundles.items():
        part = table[table["split"] == name]
        assert part["clip_name"].tolist() == bundle.names.tolist()
        assert part["label"].tolist() == bundle.labels.tolist() and part["speaker"].tolist() == bundle.speakers.tolist()
        embeddings = np.stack([np.stack(row) for row in part["embedding"]])
        assert embeddings.dtype == np.float32 and np.array_equal(embeddings, bundle.embeddings)
    row = table.iloc[0]
    assert row["emotion"] == row["label_name"] and row["gender"] in ("male", "female")
    assert {"emotion_code", "intensity", "statement", "repetition", "vocal_channel", "trim_start", "trim_end",
            "actor"} <= set(table.columns)
    loaded = datasets.load_dataset("parquet", data_files=str(path), cache_dir=str(tmp_path / "hf-cache"))["train"]
    first = np.asarray(loaded.with_format("numpy")[0]["embedding"], dtype=np.float32)
    np.testing.assert_array_equal(first, read_bundles(fold1.out)["train"].embeddings[0])
    before = path.read_bytes()  # nothing is replaced
    assert cli.main(["export", str(fold1.out), "--format", "parquet", "--out", str(path)]) == 1
    assert path.read_bytes() == before


def test_hugging_face_dataset_round_trip_is_bit_for_bit(fold1, tmp_path):
    datasets = pytest.importorskip("datasets")
    path = tmp_path / "fold1-hf"
    assert cli.main(["export", str(fold1.out), "--format", "hf", "--out", str(path)]) == 0
    loaded = datasets.load_from_disk(str(path))
    assert set(loaded) == {"train", "validation", "test"}
    assert loaded["test"].features["label"].names == ["neutral", "calm", "happy", "sad", "angry", "fearful",
                                                      "disgust", "surprised"]
    bundles = read_bundles(fold1.out)
    for split, name in (("train", "train"), ("dev", "validation"), ("test", "test")):
        numpy = loaded[name].with_format("numpy")
        assert np.array_equal(np.asarray(numpy["embedding"]), bundles[split].embeddings)
        assert np.asarray(numpy["label"]).tolist() == bundles[split].labels.tolist()


def test_data_card_header_counts_equal_the_bundles(fold1):
    text = (fold1.out / "README.md").read_text()
    assert text.startswith("---\n")
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["license"] == "cc-by-nc-sa-4.0"
    info = header["ravdess_prep"]
    bundles = read_bundles(fold1.out)
    import pandas as pd

    metadata = pd.read_csv(fold1.out / "metadata.csv").set_index("clip_name")
    for split, bundle in bundles.items():
        rows = metadata.loc[bundle.names.tolist()]
        expected: dict = {}
        for (emotion, gender, channel), count in rows.groupby(["emotion", "gender", "vocal_channel"]).size().items():
            expected.setdefault(emotion, {}).setdefault(gender, {})[channel] = int(count)
        assert info["counts"][split] == expected
        assert info["speakers"][split] == sorted(set(bundle.speakers.tolist()))
    splits = {entry["name"]: entry["num_examples"] for entry in header["dataset_info"]["splits"]}
    assert splits == {"train": len(bundles["train"]), "validation": len(bundles["dev"]), "test": len(bundles["test"])}
    assert info["target_length_samples"] == 200000 and info["split_preset"] == "folds6" and info["fold"] == 1
    assert "Livingstone" in text and "10.1371/journal.pone.0196391" in text and "1188976" in text
    assert "Hershey" in text and "--from-manifest" in text
    import matplotlib.image

    for figure in ("lengths.png", "counts.png"):
        assert matplotlib.image.imread(fold1.out / figure).shape[:2] == (400, 640)


def test_rebuild_from_the_manifest_is_byte_identical(fold1, tree, vggish_files, tmp_path, capsys):
    args = ["build", "--from-manifest", str(fold1.out / "manifest.json"), "--source", str(tree), "--out",
            str(tmp_path / "again"), "--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    assert cli.main(args) == 0
    capsys.readouterr()
    for pattern in ("*.npy", "metadata.csv", "README.md", "*.png"):
        again = {path.relative_to(tmp_path / "again"): path.read_bytes() for path in (tmp_path / "again").rglob(pattern)}
        first = {path.relative_to(fold1.out): path.read_bytes() for path in fold1.out.rglob(pattern)}
        assert again == first and again, pattern
    with pytest.raises(SystemExit):
        cli.main(args + ["--hop", "0.5"])
    assert "--from-manifest takes every setting from the manifest; drop --hop" in capsys.readouterr().err


def test_rebuild_refuses_other_sources_and_model_files(fold1, tree, vggish_files, tmp_path):
    changed = tmp_path / "tree"
    shutil.copytree(tree, changed)
    victim, other = sorted(changed.rglob("*.flac"))[3:5]
    samples, rate = soundfile.read(other)
    soundfile.write(victim, samples * 0.5, rate)  # another recording under the same name
    run = pipeline.Run(cache_dir=tmp_path / "cache", progress=False)
    with pytest.raises(SourceError, match=f"{victim.name}: SHA-256 .* differs"):
        pipeline.rebuild(fold1.out, out=tmp_path / "out", source=changed, run=run)
    victim.unlink()
    with pytest.raises(SourceError, match="is not in the source"):
        pipeline.rebuild(fold1.out, out=tmp_path / "out", source=changed, run=run)
    other = tmp_path / "other.npz"
    np.savez(other, pca_eigen_vectors=np.eye(128), pca_means=np.zeros(128))
    with pytest.raises(ModelFileError, match="other.npz: the dataset's pca_params has SHA-256"):
        pipeline.rebuild(fold1.out, out=tmp_path / "out", source=tree, run=run,
                         files=pipeline.VGGishFiles(pca_params=other))
    assert not (tmp_path / "out").exists()


def test_config_file_with_options_overriding_it(tree, cache, vggish_files, fold1, tmp_path, capsys):
    config = tmp_path / "build.toml"
    config.write_text(f"""
source = [{json.dumps(str(tree))}]
cache_dir = {json.dumps(str(cache))}
progress = false
split_preset = "folds6"
fold = 2
target_length_samples = 200000
on_too_long = "crop"
allow_missing_speakers = true

[files]
checkpoint = {json.dumps(str(vggish_files.checkpoint))}
pca_params = {json.dumps(str(vggish_files.pca_params))}
allow_custom_checkpoint = true
""")
    assert cli.main(["build", "--config", str(config), "--out", str(tmp_path / "out"), "--fold", "1"]) == 0
    assert "clips embedded: 0, from the cache: 20" in capsys.readouterr().out
    manifest = Manifest.read(tmp_path / "out")
    assert manifest["config"]["fold"] == 1  # the command line wins
    first = {path.name: path.read_bytes() for path in fold1.out.rglob("*.npy")}
    assert {path.name: path.read_bytes() for path in (tmp_path / "out").rglob("*.npy")} == first
    for text, message in (('hopp = 0.5', "unknown key 'hopp'"), ('fold = "two"', "key 'fold' has to be an integer"),
                          ('dev_speakers = "8"', "key 'dev_speakers' has to be a list of numbers"),
                          ('split-preset = "folds6"', "unknown key 'split-preset' (the key is 'split_preset')"),
                          ('embedder = "wav2vec"', "key 'embedder': --embedder has to be one of 'vggish'"), ("fold = ", "--config")):
        config.write_text(text + "\n")
        with pytest.raises(SystemExit) as caught:
            cli.main(["build", "--config", str(config), "--out", str(tmp_path / "never")])
        assert caught.value.code == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_crossval_over_a_presets_folds(fold1, monkeypatch):
    reads = []
    original = Manifest.read.__func__
    monkeypatch.setattr(Manifest, "read", classmethod(lambda cls, *args, **kwargs: reads.append(args) or original(
        cls, *args, **kwargs)))
    result = crossval.cross_validate(fold1.out, classifier.TrainConfig(epochs=1, batch_size=8), folds="folds6")
    assert len(reads) == 1  # the dataset's manifest, read once for its bundles, corpus and protocol
    # the folds with a test speaker present: 01-04 (01, 02), 05-08 (05, 06), 09-12 (09)
    assert [fold["test_speakers"] for fold in result["folds"]] == [[1, 2], [5, 6], [9]]
    assert [fold["dev_speakers"] for fold in result["folds"]] == [[5, 6], [9], []]
    assert [fold["clips"] for fold in result["folds"]] == [8, 8, 4]
    assert RAVDESS().preset("folds6").speakers(fold=3, speakers=range(1, 25)) == ((13, 14, 15, 16), (9, 10, 11, 12))


def test_a_protocol_preset_builds_its_clips_and_cites_it(tree, cache, model_files_kwargs, fold1, tmp_path):
    # emobox fold 4: test 03, 05, 07, 24; dev (fold 5's test) 02, 15, 16, 18; of the tree's actors
    # 01, 02, 05, 06, 09 that is test 05, dev 02, train 01, 06, 09; speech only
    config = pipeline.Config(split_preset="emobox", fold=4, target_length_samples=200000, on_too_long="crop",
                             allow_missing_speakers=True)
    result = pipeline.build(config, out=tmp_path / "emobox", source=tree,
                            run=pipeline.Run(cache_dir=cache, jobs=2, progress=False), **model_files_kwargs)
    manifest = result.manifest
    assert {name: split["speakers"] for name, split in manifest["splits"].items()} == {
        "train": [1, 6, 9], "dev": [2], "test": [5]}
    assert sum(split["clips"] for split in manifest["splits"].values()) == 15  # 3 speech clips of each actor
    assert manifest["source"]["excluded"] == {"outside the emobox split preset's clips": 5}  # the song clips
    assert all(name.startswith("speech/") for split in read_bundles(result.out).values() for name in split.names)
    assert manifest["corpus"]["protocol"]["name"] == "emobox"
    card = (result.out / "README.md").read_text()
    assert "`emobox` evaluation protocol" in card and "EmoBox: Multilingual Multi-corpus" in card
    assert "protocol" not in fold1.manifest["corpus"]  # other presets record no protocol


def test_a_pepino2021_dataset_trains_in_its_seven_classes(tree, cache, model_files_kwargs, tmp_path):
    config = pipeline.Config(split_preset="pepino2021", target_length_samples=200000, on_too_long="crop",
                             allow_missing_speakers=True)  # the tree has none of its dev and test actors
    result = pipeline.build(config, out=tmp_path / "pepino", source=tree,
                            run=pipeline.Run(cache_dir=cache, jobs=2, progress=False), **model_files_kwargs)
    assert result.manifest["splits"]["train"]["clips"] == 20  # speech and song
    assert "calm as neutral" in (result.out / "README.md").read_text()
    trained = classifier.train(result.out, tmp_path / "model", classifier.TrainConfig(epochs=1, batch_size=8))
    names = ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")
    assert tuple(trained.metrics["class_names"]) == names
    bundle = read_bundles(result.out)["train"]
    calm = np.asarray([name.split("/")[-1][6:8] == "02" for name in bundle.names])  # emotion 02, calm
    assert calm.any()
    assert trained.metrics["splits"]["train"]["per_class"]["neutral"]["support"] == int(
        np.sum(bundle.labels[~calm] == 0) + calm.sum())
    # crossval on another protocol maps from the corpus's own labels, not from the merged ones
    own = read_data(result.out, built_protocol=False).bundles["train"]
    assert own.label_names == RAVDESS.label_names and (own.labels == bundle.labels).all()
