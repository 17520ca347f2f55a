"""``ravdess-prep evaluate``: a trained model's scores on another dataset (another corpus, say)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..evaluation.crosscorpus import check_report_paths, draw, evaluate_model
from ..evaluation.model_folder import read_model_record
from ..params import SPLITS
from ..storage.atomic import write_json

NAME = "evaluate"
HELP = "score a trained model on a dataset of the same embedder and settings (another corpus, say)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-dir", required=True, help="the trained model's folder")
    parser.add_argument("--data", required=True, help="a dataset folder built with the model's embedder and settings")
    parser.add_argument("--splits", default=",".join(SPLITS),
                        help="the dataset's splits scored, comma-separated (default: all, the whole corpus)")
    parser.add_argument("--json", metavar="OUT", help="also write the scores to this JSON file")
    parser.add_argument("--plot", metavar="PNG",
                        help="the confusion matrix's figure (default: <model-dir>/evaluate_<data folder name>.png)")
    parser.set_defaults(wording={"json": "--json", "plot": "--plot"})


def run(args: argparse.Namespace) -> int:
    splits = tuple(split.strip() for split in args.splits.split(",") if split.strip())
    plot = Path(args.plot) if args.plot else Path(args.model_dir) / f"evaluate_{Path(args.data).resolve().name}.png"
    read_model_record(args.model_dir)  # a folder that is no model (a dataset, say) is named as such first
    check_report_paths(json_path=args.json, plot_path=plot if args.plot or Path(args.model_dir).is_dir() else None)
    result = evaluate_model(args.model_dir, args.data, splits=splits)
    draw(result, plot)
    if args.json:
        write_json(args.json, result)
    out = sys.stdout
    print(f"{result['model']['corpus']} model {args.model_dir} on {result['data']['corpus']} data {args.data} "
          f"({', '.join(result['splits'])}): {result['clips']} clips of {len(result['shared_emotions'])} shared "
          f"emotions ({', '.join(result['shared_emotions'])})", file=out)
    print(f"  UA {result['ua']:.4f}  WA {result['wa']:.4f}  macro-F1 {result['macro_f1']:.4f}", file=out)
    for name, count in result["left_out"].items():
        print(f"  left out: {count} clips of {name} (not a class of the model)", file=out)
    lengths = result["target_length_samples"]
    if result["padded"] and lengths["model"] != lengths["data"]:
        print(f"  note: the model's clips were padded to {lengths['model']} samples, these to {lengths['data']}",
              file=out)
    print(f"  confusion matrix: {plot}" + (f"; scores: {args.json}" if args.json else ""), file=out)
    return 0
