"""A corpus from a labels table: RAVDESS clips under other names, described by a table, build the
rows the same clips build as ``--corpus ravdess``; the table's split column, its emotion map,
its record in the manifest, and every bad table named by its line."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from conftest import SPEECH
from ravdess_prep import cli, pipeline
from ravdess_prep.corpora.audformat_db import database_rows
from ravdess_prep.corpora.table import read_emotion_map, read_table, table_corpus
from ravdess_prep.dataset.bundles import read_bundles
from ravdess_prep.evaluation import crossval, classifier
from ravdess_prep.exceptions import ParameterError, SourceError

pytest.importorskip("torch")

from ravdess_prep.embedders import WhisperEmbedder, WhisperFiles  # noqa: E402
from whisper_models import random_whisper  # noqa: E402

ACTORS = {8: "dev", 11: "test", 12: "train", 13: "train"}
STEMS = ("03-01-01-01-01-01-{actor:02d}", "03-01-01-01-02-01-{actor:02d}", "03-01-03-01-01-01-{actor:02d}",
         "03-01-03-02-01-01-{actor:02d}")
EMOTION = {"01": "neutral", "03": "happy"}


@pytest.fixture(scope="module")
def trees(ravdess_dir, tmp_path_factory):
    """The same 16 clips as RAVDESS lays them out, and renamed ``people/<speaker>/take<N>.flac``
    with a labels table (speakers named ``spk08``..., emotions as the table's own words, mapped)."""
    root = tmp_path_factory.mktemp("table")
    rows, names = ["file,speaker,emotion,split,gender"], {}
    for actor, split in ACTORS.items():
        for index, stem in enumerate(STEMS):
            name = stem.format(actor=actor)
            source = ravdess_dir / SPEECH / f"Actor_{actor:02d}" / f"{name}.flac"
            original = root / "ravdess" / SPEECH / f"Actor_{actor:02d}" / f"{name}.flac"
            renamed = root / "people" / f"spk{actor:02d}" / f"take{index}.flac"
            for target in (original, renamed):
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
            word = {"neutral": "neu", "happy": "joy"}[EMOTION[name.split("-")[2]]]
            rows.append(f"spk{actor:02d}/take{index}.flac,spk{actor:02d},{word},{split},female")
            names[f"spk{actor:02d}/take{index}.flac"] = f"speech/Actor_{actor:02d}/{name}.wav"
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    (root / "map.csv").write_text("from,to\nneu,neutral\njoy,happy\n")
    return root, names


@pytest.fixture(scope="module")
def builds(trees, tmp_path_factory):
    root, _ = trees
    model = random_whisper(tmp_path_factory.mktemp("table-model") / "tiny", seed=3)
    run = pipeline.Run(cache_dir=root / "cache", jobs=1, progress=False)
    ravdess = pipeline.build(pipeline.Config(embedder=WhisperEmbedder(), dev_speakers=(8,), test_speakers=(11,)),
                             out=root / "out-ravdess", source=root / "ravdess", files=WhisperFiles(model), run=run)
    table = pipeline.build(pipeline.Config(corpus="table", labels=str(root / "labels.csv"),
                                           emotion_map=str(root / "map.csv"), license="CC BY 4.0",
                                           citation="A lab (2026)", embedder=WhisperEmbedder()),
                           out=root / "out-table", source=root / "people", files=WhisperFiles(model), run=run)
    return ravdess.out, table.out, model


def test_a_table_corpus_builds_the_rows_of_the_same_clips(trees, builds):
    _, names = trees
    ravdess, table = (read_bundles(folder) for folder in builds[:2])
    assert set(table) == {"train", "dev", "test"}
    for split in ("train", "dev", "test"):
        by_name = dict(zip(ravdess[split].names, ravdess[split].embeddings))
        assert len(table[split]) == len(ravdess[split]) == {"train": 8, "dev": 4, "test": 4}[split]
        for name, row in zip(table[split].names, table[split].embeddings):
            np.testing.assert_array_equal(row, by_name[names[str(name)]])
        assert table[split].label_names == ("neutral", "happy")
    # the table's split column; speakers named spk08, spk11, ... are numbered 1, 2, ... in sorted order
    assert sorted(set(table["test"].speakers.tolist())) == [2]
    metadata = (builds[1] / "metadata.csv").read_text().splitlines()
    header = metadata[0].split(",")
    test_rows = [row.split(",") for row in metadata[1:] if row.split(",")[header.index("split")] == "test"]
    assert {row[header.index("speaker_name")] for row in test_rows} == {"spk11"}


def test_the_manifest_records_the_table_and_its_license(trees, builds):
    root, _ = trees
    manifest = json.loads((builds[1] / "manifest.json").read_text())
    recorded = manifest["corpus"]["labels_table"]
    assert recorded["rows"] == 16 and recorded["path"] == str((root / "labels.csv").resolve())
    assert recorded["sha256"] == hashlib.sha256((root / "labels.csv").read_bytes()).hexdigest()
    assert manifest["corpus"]["license"]["name"] == "CC BY 4.0" and manifest["corpus"]["citation"] == "A lab (2026)"
    assert manifest["config"]["labels"] == str(root / "labels.csv") and manifest["config"]["split_preset"] == "table"


def test_leave_one_speaker_out_runs_on_the_table_dataset(builds):
    record = crossval.cross_validate(builds[1], classifier.TrainConfig(head="lda", layers=(1, 2), shrinkage=0.5),
                                     folds="loso")
    assert [fold["test_speakers"] for fold in record["folds"]] == [[1], [2], [3], [4]]


def _table(tmp_path, text: str, name: str = "labels.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize("text, message", [
    ("file,speaker,emotion,mood\na.wav,1,happy,x\n", "column 'mood' is not one a labels table has"),
    ("file,emotion\na.wav,happy\n", "no 'speaker' column"),
    ("file,speaker,emotion\n", "the labels table has no row"),
    ("file,speaker,emotion\n../a.wav,1,happy\n", "line 2: '../a.wav' lies outside the source folder"),
    ("file,speaker,emotion\n/etc/a.wav,1,happy\n", "line 2: '/etc/a.wav' lies outside the source folder"),
    ("file,speaker,emotion\na.wav,1,happy\na.wav,1,sad\n", "line 3: 'a.wav' is listed twice \\(first at line 2\\)"),
    ("file,speaker,emotion\na.wav,1,joyful\n", "line 2: emotion 'joyful' is not a canonical one \\(neutral, calm"),
    ("file,speaker,emotion,split\na.wav,1,happy,train\nb.wav,1,sad,test\n",
     "speaker '1' is in several splits \\(train at line 2, test at line 3\\)"),
    ("file,speaker,emotion,split\na.wav,1,happy,holdout\n", "split 'holdout' is not one of train, dev, test"),
    (b"file,speaker,emotion\n\xff.wav,1,happy\n", "the labels table is not UTF-8 text"),
])
def test_a_bad_table_is_named_by_its_line(tmp_path, text, message):
    with pytest.raises(ParameterError, match=message):
        read_table(_table(tmp_path, text))


def test_many_bad_rows_make_one_message_with_the_count(tmp_path):
    text = "file,speaker,emotion\n" + "".join(f"f{index}.wav,1,joyful\n" for index in range(100000))
    with pytest.raises(ParameterError, match="100000 bad rows: line 2: emotion 'joyful'"):
        read_table(_table(tmp_path, text))


def test_missing_files_and_links_out_of_the_source_are_named(tmp_path, ravdess_dir):
    source = tmp_path / "source"
    source.mkdir()
    clip = ravdess_dir / SPEECH / "Actor_08" / "03-01-01-01-01-01-08.flac"
    shutil.copyfile(clip, source / "here.flac")
    outside = tmp_path / "outside.flac"
    shutil.copyfile(clip, outside)
    (source / "link.flac").symlink_to(outside)
    rows = "".join(f"gone{index}.flac,1,happy\n" for index in range(5))
    corpus = table_corpus(_table(tmp_path, "file,speaker,emotion\nhere.flac,1,happy\n" + rows))
    with pytest.raises(SourceError, match=r"5 rows name a file the source \(.*\) lacks: gone0.flac \(line 3\), "
                                          r"gone1.flac \(line 4\), gone2.flac \(line 5\) \.\.\."):
        corpus.survey(source)
    linked = table_corpus(_table(tmp_path, "file,speaker,emotion\nlink.flac,1,happy\n", "linked.csv"))
    with pytest.raises(SourceError, match="1 rows name a file that links outside the source \\(link.flac"):
        linked.survey(source)


def test_emotion_maps_and_settings_that_need_the_table_corpus(tmp_path):
    assert read_emotion_map(_table(tmp_path, '{"joy": "happy"}', "map.json")) == {"joy": "happy"}
    assert read_emotion_map(_table(tmp_path, "joy,happy\nneu,neutral\n", "map.csv")) == {"joy": "happy",
                                                                                        "neu": "neutral"}
    with pytest.raises(ParameterError, match="'gleeful' is not canonical"):
        read_emotion_map(_table(tmp_path, "joy,gleeful\n", "bad.csv"))
    with pytest.raises(ParameterError, match="labels describes a table corpus; give it with corpus='table'"):
        pipeline.Config(labels=str(tmp_path / "labels.csv"))
    with pytest.raises(ParameterError, match="needs the labels table"):
        pipeline.Config(corpus="table")


def test_the_command_line_names_a_missing_emotion_map(trees, tmp_path, capsys):
    root, _ = trees
    try:
        status = cli.main(["build", "--corpus", "table", "--labels", str(root / "labels.csv"), "--source",
                           str(root / "people"), "--out", str(tmp_path / "out"), "--emotion-map",
                           str(root / "nothing.csv"), "--no-progress"])
    except SystemExit as exit:  # a usage error
        status = exit.code
    err = capsys.readouterr().err
    assert status != 0 and "--emotion-map" in err and "nothing.csv: no such file" in err
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def database(trees):
    """The renamed clips as an audformat database: emotion tables per split, a files table of
    speakers whose scheme gives their gender."""
    audformat = pytest.importorskip("audformat")
    root, _ = trees
    folder = root / "database"
    shutil.copytree(root / "people", folder / "people")
    rows = [line.split(",") for line in (root / "labels.csv").read_text().splitlines()[1:]]
    db = audformat.Database("renamed-ravdess", source="a test", usage=audformat.define.Usage.RESEARCH,
                            license="CC BY-NC-SA 4.0", author="A lab")
    db.schemes["emotion"] = audformat.Scheme(labels=["neu", "joy"])
    db.schemes["speaker"] = audformat.Scheme(labels={f"spk{actor:02d}": {"gender": "female"} for actor in ACTORS})
    db["files"] = audformat.Table(audformat.filewise_index([f"people/{row[0]}" for row in rows]))
    db["files"]["speaker"] = audformat.Column(scheme_id="speaker")
    db["files"]["speaker"].set([row[1] for row in rows])
    for split in ("train", "dev", "test"):
        db.splits[split] = audformat.Split(split)
        chosen = [row for row in rows if row[3] == split]
        db[f"emotion.{split}"] = audformat.Table(audformat.filewise_index([f"people/{row[0]}" for row in chosen]),
                                                 split_id=split)
        db[f"emotion.{split}"]["emotion"] = audformat.Column(scheme_id="emotion")
        db[f"emotion.{split}"]["emotion"].set([row[2] for row in chosen])
    db.save(str(folder))
    return folder


def test_an_audformat_database_builds_the_rows_of_the_same_clips(trees, builds, database, tmp_path):
    root, names = trees
    out = tmp_path / "out-database"
    assert cli.main(["build", "--corpus", "audformat", "--source", str(database), "--emotion-map",
                     str(root / "map.csv"), "--embedder", "whisper", "--whisper-model",
                     str(builds[2]), "--cache-dir", str(root / "cache"), "--out", str(out), "--no-progress"]) == 0
    ravdess, built = read_bundles(builds[0]), read_bundles(out)
    for split in ("train", "dev", "test"):
        by_name = dict(zip(ravdess[split].names, ravdess[split].embeddings))
        assert len(built[split]) == len(ravdess[split])
        for name, row in zip(built[split].names, built[split].embeddings):
            np.testing.assert_array_equal(row, by_name[names[str(name).removeprefix("people/")]])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["corpus"]["name"] == "audformat" and manifest["corpus"]["license"]["name"] == "CC BY-NC-SA 4.0"
    assert manifest["corpus"]["database"]["tables"] == ["emotion.dev", "emotion.test", "emotion.train"]
    assert manifest["config"]["split_preset"] == "table"
    record = crossval.cross_validate(out, classifier.TrainConfig(head="lda", layers=(1, 2), shrinkage=0.5),
                                     folds="loso")
    assert len(record["folds"]) == 4


def test_a_folder_that_is_no_database_or_lacks_the_column_is_named(database, tmp_path):
    with pytest.raises(ParameterError, match="no db.yaml \\(not an audformat database\\)"):
        database_rows(tmp_path)
    with pytest.raises(ParameterError, match="no table has a column 'mood' \\(tables: "):
        database_rows(database, column="mood")
    with pytest.raises(ParameterError, match="no table 'ratings' with a column 'emotion'"):
        database_rows(database, table="ratings")


def test_a_hundred_thousand_missing_files_make_one_message(tmp_path, ravdess_dir):
    """One message with the count and the first three, whatever the number of rows (one stat
    per row: about 2 s for these 10^5)."""
    source = tmp_path / "source"
    source.mkdir()
    shutil.copyfile(ravdess_dir / SPEECH / "Actor_08" / "03-01-01-01-01-01-08.flac", source / "here.flac")
    rows = "".join(f"gone/{index:06d}.flac,{index % 7},happy\n" for index in range(100000))
    corpus = table_corpus(_table(tmp_path, "file,speaker,emotion\nhere.flac,1,happy\n" + rows))
    with pytest.raises(SourceError, match=r"100000 rows name a file the source \(.*\) lacks: gone/000000.flac "
                                          r"\(line 3\), gone/000001.flac \(line 4\), gone/000002.flac \(line 5\) \.\.\."):
        corpus.survey(source)
