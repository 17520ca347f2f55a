"""The ``ravdess-prep`` command line.

Every choice it offers comes from the constants the settings validate against
(:data:`ravdess_prep.config.CHOICES`); options map to settings through the tables below.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import re
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from . import classifier, export, pipeline, tag
from .atomic import atomic_path
from .audio import write_wav
from .bundle import read_manifest
from .config import CHOICES, Config, Run
from .corpora import get_corpus
from .corpora.ravdess import ZENODO_FILES_URL, ZENODO_RECORD_API_URL, download_ravdess
from .embedders import EMBEDDERS, YAMNetFiles, embedder_class
from .embedders.egemaps import LEVELS
from .exceptions import ParameterError, RavdessPrepError
from .export import FORMATS
from .output import check_new_file
from .pad import pad_center

#: Options that set a field of the embedder's settings: ``{field: flag}``.
EMBEDDER_SETTING_FLAGS = {"hop_seconds": "--hop", "fc2_activation": "--fc2-activation", "batch_size": "--batch-size",
                          "level": "--egemaps-level"}
#: Options that say where the embedder's files are: ``{field of its files type: flag}``.
MODEL_FILE_FLAGS = {"checkpoint": "--checkpoint", "pca_params": "--pca-params",
                    "allow_custom_checkpoint": "--custom-checkpoint", "allow_custom_pca_params": "--custom-pca-params",
                    "model_dir": "--yamnet-model"}


class UsageError(Exception):
    """Options that do not go together; reported like argparse's own errors (exit status 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status: 0, 1 for an error (one line
    naming the file and the cause; the traceback only with ``--debug``), 2 for a usage error,
    130 when interrupted."""
    parser = _parser()
    args = parse_args(parser, argv)
    notes = _NoteHandler()
    try:
        return args.run(args)
    except UsageError as error:
        args.subparser.error(flag_wording(str(error), args.subparser))
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"ravdess-prep {args.command}: interrupted (what was finished is in the cache)", file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug:
            raise
        message = str(error) if isinstance(error, RavdessPrepError) else (
            f"unexpected {type(error).__name__}: {error} (run with --debug for the traceback)")
        print(f"ravdess-prep {args.command}: error: {flag_wording(' '.join(message.split()), args.subparser)}",
              file=sys.stderr)
        return 1
    finally:
        notes.close()


class _NoteHandler(logging.Handler):
    """The library's notes (a clip a policy handled, a damaged cache entry) on stderr, one line
    each, while a command runs; :meth:`close` puts the logger back as it was."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.logger = logging.getLogger("ravdess_prep")
        self.saved = (self.logger.level, self.logger.propagate)
        self.logger.addHandler(self)
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False

    def emit(self, record: logging.LogRecord) -> None:
        print(f"ravdess-prep: note: {record.getMessage()}", file=sys.stderr)

    def close(self) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self.saved[0])
        self.logger.propagate = self.saved[1]
        super().close()


def flag_wording(message: str, parser: argparse.ArgumentParser) -> str:
    """``message`` with the library's keyword arguments named as this command's options:
    ``on_too_long='crop'`` becomes ``--on-too-long crop``, ``hop_seconds has to`` becomes
    ``--hop has to``."""
    for action in parser._actions:
        flags = [option for option in action.option_strings if option.startswith("--")]
        if not flags or action.dest in ("help", "subparser"):
            continue
        flag = flags[0]
        switch = isinstance(action, argparse._StoreTrueAction)
        message = re.sub(rf"\b{action.dest}=True\b" if switch else rf"\b{action.dest}=('?)([^\s',)]+)\1",
                         flag if switch else rf"{flag} \2", message)
        message = re.sub(rf"(^|[\s(]){action.dest} has to\b", rf"\1{flag} has to", message)
    return message


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse ``argv``; a ``--config`` file's settings become the defaults, so that options given
    on the command line override them."""
    args = parser.parse_args(argv)
    path = getattr(args, "config_file", None)
    if path:
        subparser = args.subparser
        try:
            subparser.set_defaults(**config_file_defaults(subparser, path))
        except UsageError as error:
            subparser.error(str(error))
        args = parser.parse_args(argv)
    return args


def config_file_defaults(parser: argparse.ArgumentParser, path: str) -> dict:
    """The options a TOML file sets, ``{dest: value}``: its keys are the command's long option
    names (``embedder = "yamnet"``, ``dev-actors = [8, 19, 24]``, ``source = ["data/ravdess"]``).

    Raises:
        UsageError: The file is unreadable or not TOML, or a key is unknown or has a value of
            the wrong type; the message names the file and the key.
    """
    try:
        import tomllib
    except ImportError:  # Python 3.10
        raise UsageError(f"--config {path}: reading TOML needs Python 3.11 or newer") from None
    try:
        with open(path, "rb") as stream:
            values = tomllib.load(stream)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"--config {path}: {error}") from None
    actions = {option.lstrip("-"): action for action in parser._actions for option in action.option_strings
               if option.startswith("--")}
    defaults = {}
    for key, value in values.items():
        action = actions.get(key) or actions.get(key.replace("_", "-"))
        if action is None or action.dest in ("config_file", "help"):
            raise UsageError(f"--config {path}: unknown key {key!r} (keys are the long options of the command)")
        defaults[action.dest] = _option_value(action, value, where=f"--config {path}: key {key!r}")
    return defaults


def _option_value(action: argparse.Action, value, *, where: str):
    """``value`` from a configuration file, checked and converted as the option would be."""
    if isinstance(action, argparse._StoreTrueAction):
        if not isinstance(value, bool):
            raise UsageError(f"{where} has to be true or false, not {value!r}")
        return value
    if isinstance(action, argparse._AppendAction):
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in items):
            raise UsageError(f"{where} has to be a string or a list of strings, not {value!r}")
        return items
    if action.type is _speaker_list:
        if not (isinstance(value, list) and all(isinstance(item, int) and not isinstance(item, bool) for item in value)):
            raise UsageError(f"{where} has to be a list of numbers, not {value!r}")
        return tuple(value)
    expected = {int: (int,), float: (int, float)}.get(action.type, (str,))
    if isinstance(value, bool) or not isinstance(value, expected):
        kind = {int: "an integer", float: "a number"}.get(action.type, "a string")
        raise UsageError(f"{where} has to be {kind}, not {value!r}")
    if action.choices is not None and value not in action.choices:
        raise UsageError(f"{where} has to be one of {', '.join(map(repr, action.choices))}, not {value!r}")
    return action.type(value) if action.type in (int, float) else value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ravdess-prep", description="Turn emotional-speech recordings into embedding bundles."
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, run, **kwargs):
        sub = commands.add_parser(name, **kwargs)
        sub.set_defaults(run=run, subparser=sub)
        return sub

    download = command("download", _download, help="download and extract the RAVDESS audio-only archives")
    download.add_argument("--dest", required=True, help="folder that receives the extracted archives")
    download.add_argument("--files-url", default=ZENODO_FILES_URL, help="base URL of the archives (a mirror)")
    download.add_argument("--api-url", default=ZENODO_RECORD_API_URL, help="records API that publishes checksums")
    download.add_argument("--keep-archives", action="store_true", help="keep the zip files after extraction")
    download.add_argument("--no-progress", action="store_true", help="no progress bars")

    info = command("info", _info, help="count the clips of a source and list every problem")
    _add_source_options(info, required=True)
    info.add_argument("--json", action="store_true", help="print JSON instead of text")

    measure = command("measure", _measure, help="the global target length: maximum trimmed length of a source")
    _add_source_options(measure, required=True)
    measure.add_argument("--jobs", type=_positive_int, default=None, help="worker threads (default: every core)")
    measure.add_argument("--json", action="store_true", help="print JSON instead of text")
    _add_audio_options(measure, silent_choices=CHOICES["on_silent"]())

    preprocess = command("preprocess", _preprocess, help="trim and center-pad one clip, as the build does")
    preprocess.add_argument("input", help="the audio file")
    preprocess.add_argument("--target-length", dest="target_length_samples", type=int, required=True,
                            help="output length in samples")
    preprocess.add_argument("--out", required=True, help="the padded clip (16-bit PCM wav at the source rate)")
    preprocess.add_argument("--trimmed", help="also write the trimmed clip here")
    _add_audio_options(preprocess, silent_choices=("keep", "error"), fixed_target=True)

    build = command("build", run_build, help="the whole pipeline: source to train/dev/test bundles")
    add_build_arguments(build)

    embed = command("embed", _embed, help="embed new audio files exactly as a dataset was embedded")
    embed.add_argument("files", nargs="+", help="audio files")
    embed.add_argument("--dataset", required=True, help="a folder written by 'ravdess-prep build'")
    embed.add_argument("--out", required=True, help="the .npy to write: float32, one bundle row per file")
    embed.add_argument("--checkpoint", help="the dataset's VGGish checkpoint, if it moved (SHA-256 must match)")
    embed.add_argument("--pca-params", help="the dataset's VGGish PCA parameters, if they moved")
    embed.add_argument("--yamnet-model", dest="model_dir", help="the dataset's YAMNet model folder, if it moved")
    embed.add_argument("--on-too-long", choices=CHOICES["on_too_long"](), help="override the dataset's policy")

    exporting = command("export", _export, help="write bundles as Parquet or as a Hugging Face dataset")
    exporting.add_argument("bundles", help="a folder written by 'ravdess-prep build'")
    exporting.add_argument("--format", required=True, choices=FORMATS, help="parquet: one file; hf: DatasetDict.save_to_disk")
    exporting.add_argument("--out", required=True, help="the file (parquet) or folder (hf) to write; must not exist")

    tagging = command("tag", _tag, help="the top AudioSet classes of audio files, by YAMNet")
    tagging.add_argument("files", nargs="+", help="audio files")
    tagging.add_argument("--yamnet-model", dest="model_dir", help="a YAMNet SavedModel folder (default: the official one)")
    tagging.add_argument("--cache-dir", help="cache root (where the official model is fetched to)")
    tagging.add_argument("--top", type=int, default=5, help="classes per file (default %(default)s)")
    tagging.add_argument("--json", action="store_true", help="print JSON instead of a table")

    train = command("train", _train, help="train the emotion classifier on bundles")
    train.add_argument("--data", required=True, help="a bundle folder (this library's or the original's)")
    train.add_argument("--model-dir", required=True, help="where the model and its reports go")
    _add_train_options(train)
    train.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2), help="Keras verbosity")

    predict = command("predict", _predict, help="predict the emotion of audio files")
    predict.add_argument("files", nargs="+", help="audio files")
    predict.add_argument("--dataset", required=True, help="the bundle folder the model was trained on")
    predict.add_argument("--model-dir", required=True, help="the trained model's folder")
    predict.add_argument("--on-too-long", choices=CHOICES["on_too_long"](), help="override the dataset's policy")
    predict.add_argument("--json", action="store_true", help="print JSON instead of text")

    crossval = command("crossval", _crossval, help="cross-validate the classifier by speaker")
    crossval.add_argument("--data", required=True, help="a bundle folder; every split is pooled")
    crossval.add_argument("--folds", default="actor",
                          help="'actor' or 'speaker' (leave one out, default), a number of folds by speaker, or a "
                          "split preset's folds: 'folds6' or 'loso' (each fold's dev split watched, its test reported)")
    crossval.add_argument("--model-root", help="keep each fold's model under this folder")
    _add_train_options(crossval)
    return parser


def _add_source_options(parser, *, required: bool) -> None:
    parser.add_argument("--source", action="append", required=required,
                        help="a folder, a .zip, or 'zenodo' (download); repeatable"
                        + ("" if required else " (default: download)"))
    parser.add_argument("--corpus", default="ravdess", choices=CHOICES["corpus"](), help="the corpus (default ravdess)")
    parser.add_argument("--cache-dir", help="cache root: downloads, extracted zips, per-clip embeddings, model files")


def _add_train_options(parser: argparse.ArgumentParser) -> None:
    defaults = classifier.TrainConfig()
    group = parser.add_argument_group("training (the BiGRU's defaults are the original recipe)")
    group.add_argument("--head", choices=classifier.HEADS, default=defaults.head,
                       help="bigru for (clips, examples, dim) bundles, linear or mlp for (clips, dim); auto "
                       "(default): bigru or linear by shape")
    group.add_argument("--epochs", type=int, default=defaults.epochs,
                       help="default: the head's (bigru 160, the original's; linear 500; mlp 200)")
    group.add_argument("--batch-size", type=int, default=defaults.batch_size, help="default %(default)s")
    group.add_argument("--learning-rate", type=float, default=defaults.learning_rate,
                       help="default: the head's (bigru 1e-4, the original's; linear 1e-2; mlp 1e-3)")
    group.add_argument("--dropout", type=float, default=defaults.dropout, help="default %(default)s")
    group.add_argument("--gru-units", type=int, default=defaults.gru_units, help="default %(default)s")
    group.add_argument("--hidden-units", type=int, default=defaults.hidden_units, help="mlp: default %(default)s")
    group.add_argument("--l2", type=float, default=defaults.l2, help="linear: L2 penalty, default %(default)s")
    group.add_argument("--early-stopping", type=int, metavar="EPOCHS",
                       help="stop when dev accuracy has not improved for EPOCHS epochs; keep the best weights")
    group.add_argument("--speaker-norm", action="store_true",
                       help="standardise each speaker's features with that speaker's own clips (uses the dev and "
                       "test speakers' unlabelled clips; predict then needs several clips of one speaker)")
    group.add_argument("--seed", type=int, default=defaults.seed, help="default %(default)s")


def _train_config(args) -> classifier.TrainConfig:
    try:
        return classifier.TrainConfig(head=args.head, epochs=args.epochs, batch_size=args.batch_size,
                                      learning_rate=args.learning_rate, dropout=args.dropout, gru_units=args.gru_units,
                                      hidden_units=args.hidden_units, l2=args.l2, early_stopping=args.early_stopping,
                                      speaker_norm=args.speaker_norm, seed=args.seed)
    except ParameterError as error:
        raise UsageError(str(error)) from None


def _export(args: argparse.Namespace) -> int:
    path = export.export(args.bundles, format=args.format, out=args.out)
    print(f"wrote {path}")
    return 0


def _tag(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise UsageError(f"--top: a positive number, not {args.top}")
    report = tag.tag_files(args.files, files=YAMNetFiles(model_dir=args.model_dir), cache_dir=args.cache_dir,
                           top=args.top)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    width = max(len(entry["class"]) for item in report for entry in item["top"])
    for item in report:
        print(f"{item['file']} ({item['patches']} patches of 0.96 s)")
        for rank, entry in enumerate(item["top"], 1):
            print(f"  {rank}. {entry['class']:{width}s}  {entry['mean_score']:.3f}")
    return 0


def _train(args: argparse.Namespace) -> int:
    result = classifier.train(args.data, args.model_dir, _train_config(args), verbose=args.verbose)
    print(f"{'split':6s} {'clips':>6s} {'accuracy':>9s} {'balanced':>9s}")
    for name, split in result.metrics["splits"].items():
        print(f"{name:6s} {split['clips']:6d} {split['accuracy']:9.1%} {split['balanced_accuracy']:9.1%}")
    print(f"model, metrics.json and confusion_matrix.png in {result.model_dir}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    probabilities, names = classifier.predict_files(args.files, dataset=args.dataset, model_dir=args.model_dir,
                                                    on_too_long=args.on_too_long)
    report = [
        {"file": path, "emotion": names[int(row.argmax())],
         "probabilities": {name: round(float(value), 6) for name, value in zip(names, row)}}
        for path, row in zip(args.files, probabilities)
    ]
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    for entry in report:
        ranked = sorted(entry["probabilities"].items(), key=lambda item: -item[1])
        print(f"{entry['file']}: {entry['emotion']}  (" + ", ".join(f"{name} {value:.2f}" for name, value in ranked) + ")")
    return 0


def _crossval(args: argparse.Namespace) -> int:
    folds = args.folds if args.folds in ("actor", "speaker", "folds6", "loso") else _positive(args.folds, "--folds")
    result = classifier.cross_validate(args.data, _train_config(args), folds=folds, model_root=args.model_root)
    for fold in result["folds"]:
        speakers = ",".join(f"{speaker:02d}" for speaker in fold["held_out_speakers"])
        print(f"held out {speakers:12s} {fold['clips']:5d} clips  accuracy {fold['accuracy']:.1%}")
    print(f"accuracy over {len(result['folds'])} folds: {result['mean_accuracy']:.1%} "
          f"+/- {result['std_accuracy']:.1%} (standard deviation)")
    return 0


def _positive(text: str, flag: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"{flag}: a positive number, or 'actor', not {text!r}")
    return value


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ravdess-prep build`` (and of scripts/build_dataset.py)."""
    parser.set_defaults(subparser=parser)
    _add_source_options(parser, required=False)
    parser.add_argument("--out", help="output folder for the bundles (required)")
    parser.add_argument("--config", dest="config_file", metavar="FILE",
                        help="a TOML file of options (keys: the long option names); options given here override it")
    parser.add_argument("--from-manifest", metavar="MANIFEST",
                        help="rebuild what a dataset's manifest.json describes (its settings, speakers, sources' and "
                        "model files' digests, all checked) from --source into --out")
    model = parser.add_argument_group("the embedder")
    model.add_argument("--embedder", default="vggish", choices=CHOICES["embedder"](),
                       help="the model (default vggish, the original's)")
    model.add_argument("--hop", dest="hop_seconds", type=float,
                       help="example hop in seconds (default: the embedder's; vggish 0.23, the original's)")
    model.add_argument("--fc2-activation", choices=("relu", "none"),
                       help="vggish: relu is the 2019 release, the original's (default); none the current one")
    model.add_argument("--batch-size", type=int, help="examples per model run (default 128)")
    model.add_argument("--egemaps-level", dest="level", choices=LEVELS,
                       help="egemaps: functionals (88 per clip, default) or lld (25 every 10 ms)")
    model.add_argument("--pool", default="none", choices=CHOICES["pool"](),
                       help="none: one embedding per example (default); mean or mean-std: one vector per clip")
    model.add_argument("--checkpoint", help="vggish checkpoint (default: the official one, fetched once)")
    model.add_argument("--pca-params", help="vggish PCA parameters (default: the official ones)")
    model.add_argument("--custom-checkpoint", dest="allow_custom_checkpoint", action="store_true",
                       help="accept a checkpoint that is not the official file (its layout is checked)")
    model.add_argument("--custom-pca-params", dest="allow_custom_pca_params", action="store_true",
                       help="accept non-official PCA parameters")
    model.add_argument("--yamnet-model", dest="model_dir",
                       help="yamnet: a SavedModel folder (default: the official model, fetched once)")
    split = parser.add_argument_group("the split")
    split.add_argument("--split-preset", choices=CHOICES["split_preset"]()[:-1],
                       help="original (default): dev 08,19,24, test 11,14,15; folds6: six folds of four consecutive "
                       "actors, fold K test and K+1 dev; loso: actor K test, the next one dev")
    split.add_argument("--fold", type=int, help="the preset's fold: folds6 1..6, loso 1..24")
    split.add_argument("--dev-actors", "--dev-speakers", dest="dev_speakers", type=_speaker_list,
                       help="comma-separated dev speakers (default: the corpus's; RAVDESS 8,19,24)")
    split.add_argument("--test-actors", "--test-speakers", dest="test_speakers", type=_speaker_list,
                       help="comma-separated test speakers (default: the corpus's; RAVDESS 11,14,15)")
    split.add_argument("--actors", "--speakers", dest="speakers", type=_speaker_list,
                       help="build from these speakers only (default: all)")
    split.add_argument("--shuffle-seed", type=int, help="shuffle clips within each split with this seed")
    split.add_argument("--allow-missing-speakers", action="store_true",
                       help="build even when a dev or test speaker has no clip in the source, or a split is empty")
    running = parser.add_argument_group("running")
    running.add_argument("--jobs", type=_positive_int,
                         help="worker threads, or with --runner beam local worker processes (default: every core)")
    running.add_argument("--runner", choices=CHOICES["runner"](), default="local",
                         help="local: threads of this process (default); beam: Apache Beam (pip install -e '.[beam]')")
    running.add_argument("--beam-option", action="append", default=[], metavar="KEY=VALUE",
                         help="a Beam pipeline option, e.g. runner=FlinkRunner or direct_num_workers=4; repeatable")
    running.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_audio_options(parser, silent_choices=CHOICES["on_silent"]())


def build_config(args: argparse.Namespace) -> Config:
    """The :class:`Config` that ``build``'s options describe."""
    return _config(args).replace(corpus=args.corpus, embedder=_embedder(args), pool=args.pool,
                                 split_preset=args.split_preset, fold=args.fold, dev_speakers=args.dev_speakers,
                                 test_speakers=args.test_speakers, shuffle_seed=args.shuffle_seed,
                                 allow_missing_speakers=args.allow_missing_speakers)


def _embedder(args: argparse.Namespace):
    cls = embedder_class(args.embedder)
    fields = {field.name for field in dataclasses.fields(cls)}
    given = {}
    for field, flag in EMBEDDER_SETTING_FLAGS.items():
        value = getattr(args, field)
        if value is None:
            continue
        if field not in fields:
            raise UsageError(f"{flag} is not a setting of the {cls.name} embedder")
        given[field] = None if field == "fc2_activation" and value == "none" else value
    return cls(**given)


def _model_files(args: argparse.Namespace, embedder_name: str):
    """Where the build's model files are, from the options (None: the official ones)."""
    files_type = EMBEDDERS[embedder_name].files_type
    fields = {field.name for field in dataclasses.fields(files_type)} if files_type else set()
    given = {field: getattr(args, field) for field in MODEL_FILE_FLAGS if getattr(args, field, None)}
    for field in given:
        if field not in fields:
            raise UsageError(f"{MODEL_FILE_FLAGS[field]} is not an option of the {embedder_name} embedder")
    return files_type(**given) if given else None


#: Clips handled by a policy that a build's summary names (the others are counted).
SHOWN = 5

#: The options that decide what a build computes (a rebuild takes them from the manifest).
SETTING_DESTS = ("corpus", "embedder", "hop_seconds", "fc2_activation", "batch_size", "level", "pool", "split_preset",
                 "fold", "dev_speakers", "test_speakers", "speakers", "shuffle_seed", "allow_missing_speakers",
                 "trim_method",
                 "trim_window_samples", "trim_threshold", "trim_top_db", "on_silent", "on_too_long", "channel",
                 "sample_rate_hz",
                 "target_length_samples")


def run_build(args: argparse.Namespace) -> int:
    """Run a build from parsed options and print its summary."""
    if not args.out:
        raise UsageError("the following arguments are required: --out")
    try:
        run = Run(jobs=args.jobs, cache_dir=args.cache_dir, progress=not args.no_progress, runner=args.runner,
                  beam_options=tuple(args.beam_option))
        if args.from_manifest:
            given = [dest for dest in SETTING_DESTS if getattr(args, dest) != args.subparser.get_default(dest)]
            if given:
                raise UsageError(f"--from-manifest takes every setting from the manifest; drop --{given[0].replace('_', '-')}")
            name = read_manifest(Path(args.from_manifest).parent if args.from_manifest.endswith(".json")
                                 else args.from_manifest)["config"].get("embedder", {"name": "vggish"})["name"]
            result = pipeline.rebuild(args.from_manifest, out=args.out, source=args.source,
                                      files=_model_files(args, name), run=run)
            config = pipeline.Config.from_dict(result.manifest["config"])
        else:
            config = build_config(args)
            result = pipeline.build(config, out=args.out, source=args.source, files=_model_files(args, args.embedder),
                                    speakers=args.speakers, run=run)
    except ParameterError as error:
        raise UsageError(str(error)) from None
    manifest = result.manifest
    print(f"wrote {result.out}")
    print(f"target length: {manifest['target_length_samples']} samples "
          f"({manifest['target_length_seconds']:.3f} s at {manifest['sample_rate_hz']} Hz), "
          f"{manifest['examples_per_clip']} examples per clip, embeddings {manifest['embeddings']}")
    for name in ("train", "dev", "test"):
        split = manifest["splits"][name]
        speakers = ",".join(f"{speaker:02d}" for speaker in split["speakers"])
        print(f"  {name:5s} {split['clips']:5d} clips  speakers {speakers or '-'}  labels {split['label_counts']}")
    handled = manifest["handled_by_policy"]
    print(f"clips embedded: {result.computed}, from the cache: {result.cached}; "
          f"handled by a policy: {len(handled)}; model loads: {result.model_loads}")
    for entry in handled[:SHOWN]:
        print(f"  {entry['clip']}: {entry['policy']}")
    if len(handled) > SHOWN:
        print(f"  and {len(handled) - SHOWN} more (manifest.json lists every one)")
    if result.rejected:
        print(f"damaged cache entries found and computed again: {len(result.rejected)} "
              f"(first: {result.rejected[0][0]})")
    if not manifest["embedder"]["official"]:
        print(f"note: built with {config.embedder.name} model files that are not the official ones")
    print("seconds per stage: " + ", ".join(f"{stage} {value:.1f}" for stage, value in result.seconds.items()))
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a positive integer, not {text!r}")
    return value


def _speaker_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"a comma-separated list of speaker numbers, not {text!r}") from None


def _embed(args: argparse.Namespace) -> int:
    check_new_file(args.out)
    name = read_manifest(args.dataset)["config"].get("embedder", {"name": "vggish"})["name"]
    embeddings = pipeline.embed_files(args.files, args.dataset, files=_model_files(args, name),
                                      on_too_long=args.on_too_long)
    with atomic_path(args.out) as temporary, open(temporary, "wb") as stream:
        np.save(stream, embeddings, allow_pickle=False)
    print(f"wrote {args.out}: {embeddings.shape[0]} files, embeddings of shape {embeddings.shape[1:]}")
    return 0


def _add_audio_options(parser, *, silent_choices, fixed_target=False):
    defaults = Config()
    group = parser.add_argument_group("trimming and length")
    group.add_argument("--trim", dest="trim_method", choices=CHOICES["trim_method"](), default=defaults.trim_method,
                       help="rolling: the original's window rule (default); energy: librosa top_db")
    group.add_argument("--window", dest="trim_window_samples", type=int, default=defaults.trim_window_samples,
                       help="rolling window in samples (default %(default)s)")
    group.add_argument("--threshold", dest="trim_threshold", type=float, default=defaults.trim_threshold,
                       help="threshold on the absolute signed window sum (default %(default)s)")
    group.add_argument("--top-db", dest="trim_top_db", type=float, default=defaults.trim_top_db,
                       help="energy rule: dB below the peak (default %(default)s)")
    group.add_argument("--on-silent", choices=silent_choices, default=defaults.on_silent,
                       help="a clip without active sample: keep it whole (default), drop it, or fail")
    group.add_argument("--on-too-long", choices=CHOICES["on_too_long"](), default=defaults.on_too_long,
                       help="a clip longer than a fixed target: fail (default) or center-crop")
    group.add_argument("--channel", choices=CHOICES["channel"](), default=defaults.channel,
                       help="a multichannel file's first channel (default, the original's) or the mean of all")
    group.add_argument("--sample-rate", dest="sample_rate_hz", type=int, default=None,
                       help="resample clips at other rates to this one (default: all rates must match)")
    if not fixed_target:
        group.add_argument("--target-length", dest="target_length_samples", type=int, default=None,
                           help="fix the target length in samples instead of measuring it")


def _config(args) -> Config:
    return Config(
        trim_method=args.trim_method,
        trim_window_samples=args.trim_window_samples,
        trim_threshold=args.trim_threshold,
        trim_top_db=args.trim_top_db,
        on_silent=args.on_silent,
        on_too_long=args.on_too_long,
        channel=args.channel,
        sample_rate_hz=args.sample_rate_hz,
        target_length_samples=args.target_length_samples,
    )


def _download(args: argparse.Namespace) -> int:
    folders = download_ravdess(args.dest, files_url=args.files_url, api_url=args.api_url,
                               keep_archives=args.keep_archives, progress=not args.no_progress)
    for folder in folders:
        print(folder)
    return 0


def _info(args: argparse.Namespace) -> int:
    corpus = get_corpus(args.corpus)
    result = corpus.survey(args.source, cache_dir=args.cache_dir, progress=not args.json)
    report = {
        "roots": [str(root) for root in result.roots],
        "clips": len(result.clips),
        "counts": corpus.counts(result.clips),
        "problems": [{"error": type(problem).__name__, "message": str(problem)} for problem in result.problems],
    }
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print(f"{report['clips']} clips in {', '.join(report['roots'])}")
        for facet, counts in report["counts"].items():
            print(f"  by {facet.replace('_', ' ')}: " + ", ".join(f"{key} {value}" for key, value in counts.items()))
        print(f"{len(result.problems)} problems" + (":" if result.problems else ""))
        for problem in report["problems"]:
            print(f"  {problem['error']}: {problem['message']}")
    return 1 if result.problems else 0


def _measure(args: argparse.Namespace) -> int:
    config = _config(args).replace(corpus=args.corpus)
    clips = pipeline.source(args.source, corpus=args.corpus, cache_dir=args.cache_dir, progress=not args.json)
    result = pipeline.measure(clips, config, jobs=args.jobs, progress=not args.json)
    report = {
        "target_length_samples": result.target_length_samples,
        "target_length_seconds": round(result.target_length_seconds, 6),
        "sample_rate_hz": result.sample_rate_hz,
        "longest": result.longest,
        "clips": len(result.clips),
        "handled": [{"clip": clip.name, "policy": clip.handled} for clip in result.handled],
    }
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    print(
        f"target length: {report['target_length_samples']} samples "
        f"({result.target_length_seconds:.3f} s at {result.sample_rate_hz} Hz)"
    )
    print(f"reached by: {result.longest or 'no clip (the target was fixed)'}")
    print(f"clips: {len(result.clips)}; handled by a policy: {len(result.handled)}")
    for clip in report["handled"]:
        print(f"  {clip['clip']}: {clip['policy']}")
    return 0


def _preprocess(args: argparse.Namespace) -> int:
    config = _config(args)
    trimmed, offsets = pipeline.trim(args.input, config)
    padded, (left, right) = pad_center(trimmed, target_length_samples=config.target_length_samples,
                                       on_too_long=config.on_too_long, name=args.input)
    if args.trimmed:
        write_wav(args.trimmed, trimmed, sample_rate_hz=offsets.sample_rate_hz)
    write_wav(args.out, padded, sample_rate_hz=offsets.sample_rate_hz)
    note = f"; {offsets.handled}" if offsets.handled else ""
    print(
        f"{args.input}: trimmed [{offsets.start}, {offsets.end}) = {trimmed.size} samples, "
        f"padded left {left} right {right} -> {padded.size} samples at {offsets.sample_rate_hz} Hz{note}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
