"""``ravdess-prep measure``: the global target length, the maximum trimmed length of a source."""

from __future__ import annotations

import argparse
import json
import sys

from .. import pipeline
from ..build.executors import Run
from ..config import TRIMMING, Config
from ..settings import settings_of
from .info import add_source_options, database_source
from .options import add_settings, given_values

NAME = "measure"
HELP = "the global target length: maximum trimmed length of a source"
#: The settings of trimming and length (the options of measure and preprocess).
TRIM_SETTINGS = tuple(spec.name for spec in settings_of(Config) if spec.group == TRIMMING and spec.name != "corpus")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    table, groups = add_source_options(parser, required=True)
    add_settings(parser, [Run], only=("jobs",), table=table, groups=groups)
    add_settings(parser, [Config], only=TRIM_SETTINGS, table=table, groups=groups)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(table=table, usage_errors=True)


def run(args: argparse.Namespace) -> int:
    database_source(args)
    config = Config(**given_values(args, Config, args.table))
    clips = pipeline.source(args.source, config, cache_dir=args.cache_dir, progress=not args.json)
    result = pipeline.measure(clips, config, jobs=args.jobs, progress=not args.json)
    target = result.target
    report = {
        "target_length_samples": target.length_samples,
        "target_length_seconds": round(target.length_seconds, 6),
        "sample_rate_hz": target.sample_rate_hz,
        "longest": target.longest,
        "clips": len(result.clips),
        "handled": [{"clip": clip.name, "policy": clip.handled} for clip in result.handled],
    }
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    print(f"target length: {target.length_samples} samples ({target.length_seconds:.3f} s at "
          f"{target.sample_rate_hz} Hz)")
    print(f"reached by: {target.longest or 'no clip (the target was fixed)'}")
    print(f"clips: {len(result.clips)}; handled by a policy: {len(result.handled)}")
    for clip in report["handled"]:
        print(f"  {clip['clip']}: {clip['policy']}")
    return 0
