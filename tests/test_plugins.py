"""An embedder, a corpus, an executor and a classifier head from outside the library, installed
as a package would be (a folder on ``sys.path`` with a ``*.dist-info`` declaring entry points),
built, trained, cross-validated and used from the command line with their own options, without
touching the library.

The corpus takes its labels from an annotation file (not from the file names), leaves out the
utterances its annotators could not agree on (counted, not errors), and brings its own split
preset (leave one session out), as IEMOCAP-like corpora need.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import write_audio

PLUGIN = textwrap.dedent('''
    """A corpus labelled by an annotation file, and an embedder of random projections."""

    import csv
    import dataclasses
    from pathlib import Path
    from typing import ClassVar

    import numpy as np

    import vggish
    from ravdess_prep.build.executors import Executor, LocalExecutor
    from ravdess_prep.corpora import Corpus, Excluded
    from ravdess_prep.embedders import Embedder
    from ravdess_prep.evaluation.heads import Head
    from ravdess_prep.exceptions import ClipNameError, SourceError
    from ravdess_prep.embedders.outputs import SEQUENCE
    from ravdess_prep.settings import INTEGER, PATH, POSITIVE, TEXT, setting
    from ravdess_prep.corpora.split import customary_split, speaker_groups

    EMOTIONS = ("happy", "sad")


    class SessionsCorpus(Corpus):
        """Files named <session>_<speaker>_<utterance>.wav; labels in labels.csv; 'xxx' left out."""

        name = "sessions"
        title = "A corpus of sessions, labelled by annotators"
        columns = ("clip_name", "path", "speaker", "session", "emotion", "label", "sample_rate_hz", "channels",
                   "num_samples")
        label_names = EMOTIONS
        sort_columns = ("speaker", "clip_name")
        facet_columns = ("session",)
        card_columns = ("emotion", "session")
        speakers = (1, 2, 3, 4, 5, 6)
        default_dev_speakers = (5,)
        default_test_speakers = (6,)
        split_presets = {"original": customary_split("original"), "sessions": speaker_groups("sessions", [(1, 2), (3, 4), (5, 6)],
                                                    "leave one session out: session K test, K+1 dev")}

        def annotations(self, roots):
            labels = {}
            for root in roots:
                path = Path(root) / "labels.csv"
                if not path.is_file():
                    raise SourceError(f"{path}: no annotation file")
                with open(path, newline="") as stream:
                    labels.update({row["utterance"]: row["emotion"] for row in csv.DictReader(stream)})
            return labels

        def clip_metadata(self, path, *, root, annotations):
            parts = Path(path).stem.split("_")
            if len(parts) != 3:
                raise ClipNameError(f"{path}: not named <session>_<speaker>_<utterance>.wav")
            emotion = annotations.get(Path(path).stem)
            if emotion is None:
                raise ClipNameError(f"{path}: no label in labels.csv")
            if emotion not in EMOTIONS:
                return Excluded(f"annotators did not agree ({emotion})")
            return {"clip_name": f"{parts[0]}/{Path(path).name}", "speaker": int(parts[1]), "session": int(parts[0]),
                    "emotion": emotion, "label": EMOTIONS.index(emotion)}


    @dataclasses.dataclass(frozen=True)
    class ProjectionEmbedder(Embedder):
        """A fixed random projection of VGGish's log-mel examples."""

        dim: int = setting(8, flags="--projection-dim", kind=POSITIVE, group="the embedder",
                           help="projection: output width")
        seed: int = setting(0, flags="--projection-seed", kind=INTEGER, group="the embedder",
                            help="projection: the weights' seed")

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
            return vggish.num_examples(num_samples, hop_seconds=0.48)

        def examples(self, signal, *, sample_rate_hz, sound=None):
            return vggish.log_mel_examples(signal, hop_seconds=0.48, sound=sound)

        def load(self, files):
            return Projection(np.random.default_rng(self.seed).standard_normal((96 * 64, self.dim)) / 96.0)


    class Projection:
        def __init__(self, weights):
            self.weights = weights.astype(np.float32)

        def embed(self, examples):
            return examples.reshape(len(examples), -1) @ self.weights

        def postprocess(self, raw):
            return raw

        def close(self):
            pass


    @dataclasses.dataclass(frozen=True)
    class JournalExecutor(Executor):
        """The default executor, then one line of what the build did appended to a journal."""

        journal: str = setting("journal.txt", flags="--journal", kind=PATH, group="running",
                               help="journal: the file to append to")
        note: str = setting("", flags="--journal-note", kind=TEXT, group="running", help="journal: a note")

        name: ClassVar[str] = "journal"

        def run(self, plan, run):
            result = LocalExecutor().run(plan, run)
            with open(self.journal, "a") as stream:
                stream.write(f"{self.note}: {len(plan.clips)} clips, {result.computed} computed\\n")
            return result


    class CentroidHead(Head):
        """Nearest class mean: a clip scores -|x - m_c|^2 / 2 for class c, up to a constant
        (x . m_c - |m_c|^2 / 2), one dense layer of Keras fitted in closed form."""

        name = "centroid"
        kinds = ("vector",)
        learning_rate = None
        epochs = None

        def fit(self, data, watched, config, *, num_classes, verbose=0):
            import keras

            x = data.embeddings.reshape(len(data), -1).astype(np.float64)
            means = np.stack([x[data.labels == label].mean(axis=0) if (data.labels == label).any()
                              else np.full(x.shape[1], np.inf) for label in range(num_classes)])
            inputs = keras.Input(shape=data.embeddings.shape[1:], name="embeddings")
            logits = keras.layers.Dense(num_classes, name="logits")
            model = keras.Model(inputs, logits(inputs), name="emotion_classifier_centroid")
            finite = np.isfinite(means).all(axis=1)
            weights = np.where(finite[:, None], means, 0.0).T
            bias = np.where(finite, -0.5 * np.sum(np.where(finite[:, None], means, 0.0) ** 2, axis=1), -1e30)
            logits.set_weights([weights.astype(np.float32), bias.astype(np.float32)])
            return model, {}, self.resolved(config, data.axes)
''')

ENTRY_POINTS = """[ravdess_prep.corpora]
sessions = toy_plugin:SessionsCorpus

[ravdess_prep.embedders]
projection = toy_plugin:ProjectionEmbedder

[ravdess_prep.executors]
journal = toy_plugin:JournalExecutor

[ravdess_prep.heads]
centroid = toy_plugin:CentroidHead
"""


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> Path:
    """A folder holding the package and its ``*.dist-info``, as pip would install it."""
    site = tmp_path_factory.mktemp("site")
    (site / "toy_plugin").mkdir()
    (site / "toy_plugin" / "__init__.py").write_text(PLUGIN)
    info = site / "toy_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return site


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """Six speakers in three sessions, two utterances of each emotion each, 16 kHz; happy is a
    1760 Hz tone, sad a 220 Hz one; one utterance per speaker the annotators did not agree on."""
    root = tmp_path_factory.mktemp("sessions")
    rng = np.random.default_rng(0)
    rows = ["utterance,emotion"]
    for speaker in range(1, 7):
        session = (speaker + 1) // 2
        for take, (emotion, frequency) in enumerate([("happy", 1760.0), ("sad", 220.0)] * 2 + [("xxx", 440.0)]):
            stem = f"{session}_{speaker}_{take}"
            t = np.arange(int(rng.uniform(0.9, 1.5) * 16000)) / 16000
            sound = 0.3 * np.sin(2 * np.pi * frequency * t) + rng.normal(0, 0.02, t.size)
            write_audio(root / f"session{session}" / f"{stem}.wav",
                        np.concatenate([np.zeros(1600), sound, np.zeros(1600)]), sample_rate_hz=16000)
            rows.append(f"{stem},{emotion}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def _command(args, plugin: Path | str, cwd: Path):
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(plugin), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "ravdess_prep.cli", *args], capture_output=True, text=True,
                          timeout=600, env=environment, cwd=cwd)


def test_an_installed_embedder_and_corpus_build_from_the_command_line_with_their_own_options(plugin, source, tmp_path):
    out = tmp_path / "bundles"
    helped = _command(["build", "--help"], plugin, tmp_path)
    assert helped.returncode == 0
    assert "--projection-dim" in helped.stdout and "projection" in helped.stdout and "sessions" in helped.stdout
    built = _command(["build", "--corpus", "sessions", "--source", str(source), "--out", str(out), "--embedder",
                      "projection", "--projection-dim", "6", "--projection-seed", "3", "--pool", "mean",
                      "--split-preset", "sessions", "--fold", "1", "--cache-dir", str(tmp_path / "cache"),
                      "--no-progress"], plugin, tmp_path)
    assert built.returncode == 0, built.stderr
    assert "files left out by the corpus: 6 (annotators did not agree (xxx))" in built.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["embedder"] == {"name": "projection", "pool": "mean", "dim": 6, "seed": 3}
    assert manifest["config"]["corpus"] == "sessions" and manifest["source"]["excluded"] == {
        "annotators did not agree (xxx)": 6}
    assert {name: split["speakers"] for name, split in manifest["splits"].items()} == {
        "train": [5, 6], "dev": [3, 4], "test": [1, 2]}
    assert manifest["output"] == {"kind": "vector", "axes": ["clips", "dim"], "row_shape": [6]}
    embeddings = np.load(out / "test" / "test_embeddings.npy")
    labels = np.load(out / "test" / "test_labels.npy")
    assert embeddings.shape == (8, 6) and sorted(labels.tolist()) == [0] * 4 + [1] * 4

    # the plug-in's own setting is checked like the library's, and named by its flag
    refused = _command(["build", "--corpus", "sessions", "--source", str(source), "--out", str(tmp_path / "no"),
                        "--embedder", "projection", "--projection-dim", "0"], plugin, tmp_path)
    assert refused.returncode == 2 and "--projection-dim: has to be a positive integer" in refused.stderr
    other = _command(["build", "--corpus", "sessions", "--source", str(source), "--out", str(tmp_path / "no"),
                      "--projection-dim", "4"], plugin, tmp_path)
    assert other.returncode == 2 and "--projection-dim is not a setting of the vggish embedder" in other.stderr
    assert not (tmp_path / "no").exists()

    # a dataset's manifest given to --config builds the same bytes again, here on the plug-in's
    # executor, with its own options from the command line
    journal = tmp_path / "journal.txt"
    again = _command(["build", "--config", str(out / "manifest.json"), "--source", str(source), "--out",
                      str(tmp_path / "again"), "--cache-dir", str(tmp_path / "other-cache"), "--no-progress",
                      "--runner", "journal", "--journal", str(journal), "--journal-note", "rebuilt"], plugin, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "clips embedded: 24" in again.stdout
    assert "{local,beam,journal}" in helped.stdout  # --runner's choices
    assert "--journal PATH" in helped.stdout and journal.read_text() == "rebuilt: 24 clips, 24 computed\n"
    # ... and from a --config file; an option of one executor with another is refused
    settings = tmp_path / "run.toml"
    settings.write_text(f'corpus = "sessions"\nrunner = "journal"\njournal = "{journal}"\nnote = "from a file"\n')
    filed = _command(["build", "--config", str(settings), "--source", str(source), "--out", str(tmp_path / "filed"),
                      "--embedder", "projection", "--cache-dir", str(tmp_path / "cache"), "--no-progress",
                      "--allow-missing-speakers", "--dev-speakers", "5", "--test-speakers", "6"], plugin, tmp_path)
    assert filed.returncode == 0, filed.stderr
    assert journal.read_text().splitlines()[-1] == "from a file: 24 clips, 24 computed"
    local = _command(["build", "--corpus", "sessions", "--source", str(source), "--out", str(tmp_path / "no"),
                      "--journal", str(journal)], plugin, tmp_path)
    assert local.returncode == 2 and "--journal is not a setting of the local executor" in local.stderr
    for path in sorted(out.rglob("*.npy")):
        assert (tmp_path / "again" / path.relative_to(out)).read_bytes() == path.read_bytes()


def test_an_installed_head_trains_cross_validates_and_predicts(plugin, source, tmp_path):
    out = tmp_path / "bundles"
    built = _command(["build", "--corpus", "sessions", "--source", str(source), "--out", str(out), "--embedder",
                      "projection", "--pool", "mean", "--split-preset", "sessions", "--fold", "1", "--cache-dir",
                      str(tmp_path / "cache"), "--no-progress"], plugin, tmp_path)
    assert built.returncode == 0, built.stderr
    for command in ("train", "crossval"):
        helped = _command([command, "--help"], plugin, tmp_path)
        assert helped.returncode == 0 and "{auto,bigru,sequence,linear,mlp,lda,centroid}" in helped.stdout, command
    trained = _command(["train", "--data", str(out), "--head", "centroid", "--model-dir", str(tmp_path / "model")],
                       plugin, tmp_path)
    assert trained.returncode == 0, trained.stderr
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["config"]["head"] == "centroid" and metrics["splits"]["test"]["clips"] == 8
    # the nearest class mean, computed here from the bundles, is what the head predicts
    train_rows, train_labels = np.load(out / "train" / "train_embeddings.npy"), np.load(out / "train" / "train_labels.npy")
    test_rows, test_labels = np.load(out / "test" / "test_embeddings.npy"), np.load(out / "test" / "test_labels.npy")
    means = np.stack([train_rows[train_labels == label].mean(axis=0) for label in (0, 1)])
    nearest = np.argmin(((test_rows[:, None, :] - means[None]) ** 2).sum(axis=-1), axis=1)
    assert metrics["splits"]["test"]["accuracy"] == pytest.approx(float(np.mean(nearest == test_labels)))
    crossed = _command(["crossval", "--data", str(out), "--head", "centroid", "--folds", "sessions", "--json",
                        str(tmp_path / "folds.json")], plugin, tmp_path)
    assert crossed.returncode == 0, crossed.stderr
    record = json.loads((tmp_path / "folds.json").read_text())
    assert len(record["folds"]) == 3 and {fold["chosen"]["head"] for fold in record["folds"]} == {"centroid"}
    clip = sorted(source.rglob("*.wav"))[0]
    predicted = _command(["predict", str(clip), "--dataset", str(out), "--model-dir", str(tmp_path / "model")],
                         plugin, tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.startswith(f"{clip}: ") and ("happy" in predicted.stdout or "sad" in predicted.stdout)
    # without the plug-in, the head is unknown, and so is the model it made
    code = f"from ravdess_prep.evaluation.model_folder import load_model; load_model({str(tmp_path / 'model')!r})"
    refused = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1 and "SourceError: " + str(tmp_path / "model" / "metrics.json") in refused.stderr
    assert "the head 'centroid', which is not installed (the heads: bigru, sequence, linear, mlp, lda)" in refused.stderr


def test_without_the_plugin_its_names_are_unknown(source, tmp_path):
    finished = subprocess.run([sys.executable, "-m", "ravdess_prep.cli", "build", "--corpus", "sessions", "--source",
                               str(source), "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 2
    assert "--corpus: has to be one of ravdess, emodb, cremad, table, audformat, not 'sessions'" in finished.stderr


#: Packages whose plug-ins are broken each in its own way, beside the working one.
BROKEN = {
    "raises_plugin": ("raise RuntimeError('the plug-in fails on purpose')\n", "exploding = raises_plugin:Anything"),
    "missing_plugin": ("import no_such_module_of_anyone  # noqa\n", "needy = missing_plugin:Anything"),
    "plain_plugin": ("class NotAnEmbedder:\n    name = 'plain'\n", "plain = plain_plugin:NotAnEmbedder"),
    "syntax_plugin": ("def broken(:\n", "garbled = syntax_plugin:Anything"),
    "exiting_plugin": ("import sys\nsys.exit(3)\n", "quitter = exiting_plugin:Anything"),
    "refusing_plugin": ("raise ImportError('the plug-in refuses on purpose')\n", "refuser = refusing_plugin:Anything"),
    "runner_plugin": ("raise RuntimeError('the executor fails on purpose')\n",
                      "[ravdess_prep.executors]\nstuck = runner_plugin:Anything"),
    # the working toy embedder again, under a built-in's name and under a name its class does not have
    "rogue_plugin": ("", "vggish = toy_plugin:ProjectionEmbedder\nrenamed = toy_plugin:ProjectionEmbedder"),
}


@pytest.fixture(scope="module")
def broken_plugins(plugin, tmp_path_factory) -> Path:
    """A folder of eight more packages, each declaring embedders (or an executor) as entry points."""
    site = tmp_path_factory.mktemp("broken-site")
    for package, (code, points) in BROKEN.items():
        (site / package).mkdir()
        (site / package / "__init__.py").write_text(code)
        info = site / f"{package.replace('_', '-')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package.replace('_', '-')}\nVersion: 0.1\n")
        group = "" if points.startswith("[") else "[ravdess_prep.embedders]\n"
        (info / "entry_points.txt").write_text(f"{group}{points}\n")
    return site


def test_broken_plugins_break_nothing_that_does_not_use_them_and_are_named_when_used(plugin, broken_plugins, source,
                                                                                    tmp_path):
    path = Path(f"{broken_plugins}{os.pathsep}{plugin}")
    assert _command(["--help"], path, tmp_path).returncode == 0
    helped = _command(["build", "--help"], path, tmp_path)
    assert helped.returncode == 0, helped.stderr
    listed = " ".join(helped.stdout.split())
    for name, package, cause in (("exploding", "raises-plugin", "RuntimeError: the plug-in fails on purpose"),
                                 ("needy", "missing-plugin", "needs no_such_module_of_anyone"),
                                 ("plain", "plain-plugin", "is not an Embedder subclass"),
                                 ("garbled", "syntax-plugin", "SyntaxError"),
                                 ("quitter", "exiting-plugin", "SystemExit: 3"),
                                 ("refuser", "refusing-plugin", "ImportError: the plug-in refuses on purpose"),
                                 ("renamed", "rogue-plugin", "is named 'projection' by its class"),
                                 ("vggish", "rogue-plugin", "has the name of the library's own")):
        assert f"--embedder {name}: the embedder '{name}' " in listed and package in listed and cause in listed, name
        used = _command(["build", "--source", str(source), "--out", str(tmp_path / name), "--embedder", name],
                        path, tmp_path)
        lines = used.stderr.strip().splitlines()
        assert used.returncode in (1, 2) and len(lines) == 1, used.stderr
        assert package in lines[0] and cause in lines[0] and "Traceback" not in used.stderr, lines[0]
        assert not (tmp_path / name).exists()
    assert "--runner stuck: the executor 'stuck' (package runner-plugin" in listed
    stuck = _command(["build", "--corpus", "sessions", "--embedder", "projection", "--source", str(source), "--out",
                      str(tmp_path / "stuck"), "--runner", "stuck"], path, tmp_path)
    lines = stuck.stderr.strip().splitlines()
    assert stuck.returncode in (1, 2) and len(lines) == 1 and "Traceback" not in stuck.stderr, stuck.stderr
    assert "runner-plugin" in lines[0] and "RuntimeError: the executor fails on purpose" in lines[0]
    assert not (tmp_path / "stuck").exists()
    assert "(package rogue-plugin, entry point toy_plugin:ProjectionEmbedder)" in listed
    assert "the name of the library's own (ravdess_prep.embedders.vggish:VGGishEmbedder)" in listed
    for command in (["info", "--help"], ["train", "--help"], ["export", "--help"]):
        assert _command(command, path, tmp_path).returncode == 0, command
    # the working plug-in beside them builds as before
    built = _command(["build", "--corpus", "sessions", "--source", str(source), "--out", str(tmp_path / "out"),
                      "--embedder", "projection", "--pool", "mean", "--split-preset", "sessions", "--fold", "1",
                      "--cache-dir", str(tmp_path / "cache"), "--no-progress"], path, tmp_path)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "out" / "manifest.json").is_file()


def test_two_packages_claiming_one_name_are_named_both(plugin, tmp_path):
    site = tmp_path / "site"
    for package in ("first-claim", "second-claim"):
        info = site / f"{package}-0.1.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text("[ravdess_prep.embedders]\ntwice = toy_plugin:ProjectionEmbedder\n")
    used = _command(["build", "--source", str(tmp_path), "--out", str(tmp_path / "out"), "--embedder", "twice"],
                    Path(f"{site}{os.pathsep}{plugin}"), tmp_path)
    assert used.returncode in (1, 2)
    assert "two packages register the embedder 'twice': first-claim" in used.stderr and "second-claim" in used.stderr
