"""The ``ravdess-prep`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from . import params
from .config import Config
from .exceptions import RavdessPrepError


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except RavdessPrepError as error:
        print(f"ravdess-prep {args.command}: error: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ravdess-prep", description="Turn RAVDESS recordings into VGGish embedding bundles."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    download = commands.add_parser("download", help="download and extract the RAVDESS audio-only archives")
    download.add_argument("--dest", required=True, help="folder that receives the extracted archives")
    download.add_argument("--files-url", default=params.ZENODO_FILES_URL, help="base URL of the archives (a mirror)")
    download.add_argument("--api-url", default=params.ZENODO_RECORD_API_URL, help="records API that publishes checksums")
    download.add_argument("--keep-archives", action="store_true", help="keep the zip files after extraction")
    download.add_argument("--no-progress", action="store_true", help="no progress bars")
    download.set_defaults(run=_download)

    info = commands.add_parser("info", help="count the clips of a source and list every problem")
    info.add_argument(
        "--source", action="append", required=True,
        help="a folder, a .zip, or 'zenodo'; may be given several times",
    )
    info.add_argument("--cache-dir", help="cache root for downloads and extracted zips")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(run=_info)

    measure = commands.add_parser("measure", help="the global target length: maximum trimmed length of a source")
    measure.add_argument("--source", action="append", required=True, help="a folder, a .zip, or 'zenodo'; repeatable")
    measure.add_argument("--cache-dir", help="cache root for downloads and extracted zips")
    measure.add_argument("--jobs", type=int, default=None, help="worker threads (default: every core)")
    measure.add_argument("--json", action="store_true", help="print JSON instead of text")
    _add_audio_options(measure, silent_choices=("keep", "drop", "error"))
    measure.set_defaults(run=_measure)

    preprocess = commands.add_parser("preprocess", help="trim and center-pad one clip, as the build does")
    preprocess.add_argument("input", help="the audio file")
    preprocess.add_argument("--target-length", type=int, required=True, help="output length in samples")
    preprocess.add_argument("--out", required=True, help="the padded clip (16-bit PCM wav at the source rate)")
    preprocess.add_argument("--trimmed", help="also write the trimmed clip here")
    _add_audio_options(preprocess, silent_choices=("keep", "error"), fixed_target=True)
    preprocess.set_defaults(run=_preprocess)

    build = commands.add_parser("build", help="the whole pipeline: source to train/dev/test bundles")
    add_build_arguments(build)
    build.set_defaults(run=run_build)

    embed = commands.add_parser("embed", help="embed new audio files exactly as a dataset was embedded")
    embed.add_argument("files", nargs="+", help="audio files")
    embed.add_argument("--dataset", required=True, help="a folder written by 'ravdess-prep build'")
    embed.add_argument("--out", required=True, help="the .npy to write: float32 (files, examples, 128)")
    embed.add_argument("--checkpoint", help="the dataset's checkpoint, if it moved (SHA-256 must match)")
    embed.add_argument("--pca-params", help="the dataset's PCA parameters, if they moved")
    embed.add_argument("--on-too-long", choices=("error", "crop"), help="override the dataset's policy")
    embed.set_defaults(run=_embed)

    train = commands.add_parser("train", help="train the emotion classifier on bundles")
    train.add_argument("--data", required=True, help="a bundle folder (this library's or the original's)")
    train.add_argument("--model-dir", required=True, help="where the model and its reports go")
    _add_train_options(train)
    train.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2), help="Keras verbosity")
    train.set_defaults(run=_train)

    predict = commands.add_parser("predict", help="predict the emotion of audio files")
    predict.add_argument("files", nargs="+", help="audio files")
    predict.add_argument("--dataset", required=True, help="the bundle folder the model was trained on")
    predict.add_argument("--model-dir", required=True, help="the trained model's folder")
    predict.add_argument("--json", action="store_true", help="print JSON instead of text")
    predict.set_defaults(run=_predict)

    crossval = commands.add_parser("crossval", help="cross-validate the classifier by actor")
    crossval.add_argument("--data", required=True, help="a bundle folder; every split is pooled")
    crossval.add_argument("--folds", default="actor",
                          help="'actor' (leave one actor out, default) or a number of folds by actor")
    crossval.add_argument("--model-root", help="keep each fold's model under this folder")
    _add_train_options(crossval)
    crossval.set_defaults(run=_crossval)
    return parser


def _add_train_options(parser: argparse.ArgumentParser) -> None:
    from .classifier import TrainConfig

    defaults = TrainConfig()
    group = parser.add_argument_group("training (defaults: the original recipe)")
    group.add_argument("--epochs", type=int, default=defaults.epochs, help="default %(default)s")
    group.add_argument("--batch-size", type=int, default=defaults.batch_size, help="default %(default)s")
    group.add_argument("--learning-rate", type=float, default=defaults.learning_rate, help="default %(default)s")
    group.add_argument("--dropout", type=float, default=defaults.dropout, help="default %(default)s")
    group.add_argument("--gru-units", type=int, default=defaults.gru_units, help="default %(default)s")
    group.add_argument("--seed", type=int, default=defaults.seed, help="default %(default)s")


def _train_config(args):
    from .classifier import TrainConfig

    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                       dropout=args.dropout, gru_units=args.gru_units, seed=args.seed)


def _train(args: argparse.Namespace) -> int:
    from .classifier import train

    result = train(args.data, args.model_dir, _train_config(args), verbose=args.verbose)
    print(f"{'split':6s} {'clips':>6s} {'accuracy':>9s} {'balanced':>9s}")
    for name, split in result.metrics["splits"].items():
        print(f"{name:6s} {split['clips']:6d} {split['accuracy']:9.1%} {split['balanced_accuracy']:9.1%}")
    print(f"model, metrics.json and confusion_matrix.png in {result.model_dir}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .classifier import predict_files
    from .params import EMOTION_NAMES

    probabilities = predict_files(args.files, dataset=args.dataset, model_dir=args.model_dir)
    report = [
        {"file": path, "emotion": EMOTION_NAMES[int(row.argmax())],
         "probabilities": {name: round(float(value), 6) for name, value in zip(EMOTION_NAMES, row)}}
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
    from .classifier import cross_validate

    folds = args.folds if args.folds == "actor" else int(args.folds)
    result = cross_validate(args.data, _train_config(args), folds=folds, model_root=args.model_root)
    for fold in result["folds"]:
        actors = ",".join(f"{actor:02d}" for actor in fold["held_out_actors"])
        print(f"held out {actors:12s} {fold['clips']:5d} clips  accuracy {fold['accuracy']:.1%}")
    print(f"accuracy over {len(result['folds'])} folds: {result['mean_accuracy']:.1%} "
          f"+/- {result['std_accuracy']:.1%} (standard deviation)")
    return 0


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ravdess-prep build`` (and of scripts/build_dataset.py)."""
    defaults = Config()
    parser.add_argument("--source", action="append",
                        help="a folder, a .zip, or 'zenodo' (default: download from Zenodo); repeatable")
    parser.add_argument("--out", required=True, help="output folder for the bundles")
    parser.add_argument("--checkpoint", help="VGGish checkpoint (default: the official one, fetched once)")
    parser.add_argument("--pca-params", help="VGGish PCA parameters (default: the official ones)")
    parser.add_argument("--custom-checkpoint", action="store_true",
                        help="accept a checkpoint that is not the official file (its layout is checked)")
    parser.add_argument("--custom-pca-params", action="store_true", help="accept non-official PCA parameters")
    parser.add_argument("--hop", type=float, default=defaults.hop_seconds,
                        help="VGGish example hop in seconds (default %(default)s, the original's)")
    parser.add_argument("--fc2-activation", choices=("relu", "none"), default="relu",
                        help="relu: 2019 VGGish, the original's (default); none: current VGGish")
    parser.add_argument("--dev-actors", type=_actor_list, default=defaults.dev_actors,
                        help="comma-separated dev actors (default 8,19,24)")
    parser.add_argument("--test-actors", type=_actor_list, default=defaults.test_actors,
                        help="comma-separated test actors (default 11,14,15)")
    parser.add_argument("--actors", type=_actor_list, help="build from these actors only (default: all)")
    parser.add_argument("--shuffle-seed", type=int, help="shuffle clips within each split with this seed")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size,
                        help="examples per model run (default %(default)s)")
    parser.add_argument("--cache-dir", help="cache root: downloads, per-clip embeddings, model files")
    parser.add_argument("--jobs", type=int,
                        help="worker threads, or with --runner beam local worker processes (default: every core)")
    parser.add_argument("--runner", choices=("local", "beam"), default="local",
                        help="local: threads of this process (default); beam: Apache Beam (pip install -e '.[beam]')")
    parser.add_argument("--beam-option", action="append", default=[], metavar="KEY=VALUE",
                        help="a Beam pipeline option, e.g. runner=FlinkRunner or direct_num_workers=4; repeatable")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_audio_options(parser, silent_choices=("keep", "drop", "error"))


def run_build(args: argparse.Namespace) -> int:
    """Run a build from parsed options and print its summary."""
    from .pipeline import build

    config = _config(args).replace(
        hop_seconds=args.hop,
        fc2_activation=None if args.fc2_activation == "none" else "relu",
        dev_actors=args.dev_actors,
        test_actors=args.test_actors,
        batch_size=args.batch_size,
        shuffle_seed=args.shuffle_seed,
    )
    result = build(
        config, out=args.out, source_path=args.source, actors=args.actors, checkpoint=args.checkpoint,
        pca_params=args.pca_params, allow_custom_checkpoint=args.custom_checkpoint,
        allow_custom_pca_params=args.custom_pca_params, cache_dir=args.cache_dir, jobs=args.jobs,
        progress=not args.no_progress, runner=args.runner, beam_options=args.beam_option,
    )
    manifest = result.manifest
    print(f"wrote {result.out}")
    print(f"target length: {manifest['target_length_samples']} samples "
          f"({manifest['target_length_seconds']:.3f} s at {manifest['sample_rate_hz']} Hz), "
          f"{manifest['examples_per_clip']} examples per clip")
    for name in ("train", "dev", "test"):
        split = manifest["splits"][name]
        actors = ",".join(f"{actor:02d}" for actor in split["actors"])
        print(f"  {name:5s} {split['clips']:5d} clips  actors {actors or '-'}  labels {split['label_counts']}")
    print(f"clips embedded: {result.computed}, from the cache: {result.cached}; "
          f"handled by a policy: {len(manifest['handled_by_policy'])}; model loads: {result.model_loads}")
    if not manifest["model"]["official"]:
        print("note: built with a checkpoint or PCA parameters that are not the official VGGish files")
    print("seconds per stage: " + ", ".join(f"{stage} {value:.1f}" for stage, value in result.seconds.items()))
    return 0


def _actor_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"a comma-separated list of actor numbers, not {text!r}") from None


def _embed(args: argparse.Namespace) -> int:
    import numpy as np

    from .atomic import atomic_path
    from .pipeline import embed_files

    embeddings = embed_files(args.files, args.dataset, checkpoint=args.checkpoint, pca_params=args.pca_params,
                             on_too_long=args.on_too_long)
    with atomic_path(args.out) as temporary, open(temporary, "wb") as stream:
        np.save(stream, embeddings, allow_pickle=False)
    print(f"wrote {args.out}: {embeddings.shape[0]} files x {embeddings.shape[1]} examples x {embeddings.shape[2]}")
    return 0


def _add_audio_options(parser, *, silent_choices, fixed_target=False):
    defaults = Config()
    group = parser.add_argument_group("trimming and length")
    group.add_argument("--trim", dest="trim_method", choices=("rolling", "energy"), default=defaults.trim_method,
                       help="rolling: the original's window rule (default); energy: librosa top_db")
    group.add_argument("--window", dest="trim_window_samples", type=int, default=defaults.trim_window_samples,
                       help="rolling window in samples (default %(default)s)")
    group.add_argument("--threshold", dest="trim_threshold", type=float, default=defaults.trim_threshold,
                       help="threshold on the absolute signed window sum (default %(default)s)")
    group.add_argument("--top-db", dest="trim_top_db", type=float, default=defaults.trim_top_db,
                       help="energy rule: dB below the peak (default %(default)s)")
    group.add_argument("--on-silent", choices=silent_choices, default="keep",
                       help="a clip without active sample: keep it whole (default), drop it, or fail")
    group.add_argument("--on-too-long", choices=("error", "crop"), default="error",
                       help="a clip longer than a fixed target: fail (default) or center-crop")
    group.add_argument("--sample-rate", dest="sample_rate_hz", type=int, default=None,
                       help="resample clips at other rates to this one (default: all rates must match)")
    if not fixed_target:
        group.add_argument("--target-length", type=int, default=None,
                           help="fix the target length in samples instead of measuring it")


def _config(args) -> Config:
    return Config(
        trim_method=args.trim_method,
        trim_window_samples=args.trim_window_samples,
        trim_threshold=args.trim_threshold,
        trim_top_db=args.trim_top_db,
        on_silent=args.on_silent,
        on_too_long=args.on_too_long,
        sample_rate_hz=args.sample_rate_hz,
        target_length_samples=args.target_length,
    )


def _download(args: argparse.Namespace) -> int:
    from .download import download_ravdess

    folders = download_ravdess(
        args.dest,
        files_url=args.files_url,
        api_url=args.api_url,
        keep_archives=args.keep_archives,
        progress=not args.no_progress,
    )
    for folder in folders:
        print(folder)
    return 0


def _info(args: argparse.Namespace) -> int:
    from .ravdess import count_clips, survey

    result = survey(args.source, cache_dir=args.cache_dir, progress=not args.json)
    report = {
        "roots": [str(root) for root in result.roots],
        "clips": len(result.clips),
        "counts": count_clips(result.clips),
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
    from .measure import measure
    from .ravdess import inventory

    clips = inventory(args.source, cache_dir=args.cache_dir, progress=not args.json)
    result = measure(clips, _config(args), jobs=args.jobs, progress=not args.json)
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
    from .audio import write_wav
    from .measure import clip_offsets, load_for_config
    from .pad import pad_center

    config = _config(args)
    samples, rate, _ = load_for_config(args.input, config)
    offsets = clip_offsets(samples, rate, config=config, name=args.input, path=args.input)
    trimmed = samples[offsets.start : offsets.end]
    padded, (left, right) = pad_center(
        trimmed, target_length_samples=args.target_length, on_too_long=config.on_too_long, name=args.input
    )
    if args.trimmed:
        write_wav(args.trimmed, trimmed, sample_rate_hz=rate)
    write_wav(args.out, padded, sample_rate_hz=rate)
    note = f"; {offsets.handled}" if offsets.handled else ""
    print(
        f"{args.input}: trimmed [{offsets.start}, {offsets.end}) = {trimmed.size} samples, "
        f"padded left {left} right {right} -> {padded.size} samples at {rate} Hz{note}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
