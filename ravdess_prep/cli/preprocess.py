"""``ravdess-prep preprocess``: trim and centre-pad one clip, as the build does."""

from __future__ import annotations

import argparse

from .. import pipeline
from ..audio.io import write_wav
from ..audio.pad import pad_center
from ..config import Config
from .measure import TRIM_SETTINGS
from .options import UsageError, add_settings, given_values, wording

NAME = "preprocess"
HELP = "trim and center-pad one clip, as the build does"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="the audio file")
    parser.add_argument("--out", required=True, help="the padded clip (16-bit PCM wav at the source rate)")
    parser.add_argument("--trimmed", help="also write the trimmed clip here")
    table = add_settings(parser, [Config], only=TRIM_SETTINGS)
    parser.set_defaults(table=table, usage_errors=True, wording=wording([Config]))


def run(args: argparse.Namespace) -> int:
    config = Config(**given_values(args, Config, args.table))
    if config.target_length_samples is None:
        raise UsageError("the following arguments are required: --target-length")
    if config.on_silent == "drop":
        raise UsageError("--on-silent drop: a single clip can be kept whole or refused (keep, error)")
    trimmed, offsets = pipeline.trim(args.input, config)
    padded, (left, right) = pad_center(trimmed, target_length_samples=config.target_length_samples,
                                       on_too_long=config.on_too_long, name=args.input)
    if args.trimmed:
        write_wav(args.trimmed, trimmed, sample_rate_hz=offsets.sample_rate_hz)
    write_wav(args.out, padded, sample_rate_hz=offsets.sample_rate_hz)
    note = f"; {offsets.handled}" if offsets.handled else ""
    print(f"{args.input}: trimmed [{offsets.start}, {offsets.end}) = {trimmed.size} samples, "
          f"padded left {left} right {right} -> {padded.size} samples at {offsets.sample_rate_hz} Hz{note}")
    return 0
