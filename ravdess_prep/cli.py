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
    measure.add_argument("--jobs", type=int, default=None, help="worker processes (default: every core)")
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
    return parser


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
