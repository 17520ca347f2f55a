"""Build the RAVDESS VGGish bundles: the main job.

    python scripts/build_dataset.py --out data/bundles                  # download, then build
    python scripts/build_dataset.py --source data/ravdess --out data/bundles

The options are those of ``ravdess-prep build`` (``--help`` lists them).
"""

from __future__ import annotations

import argparse
import sys

from ravdess_prep.cli import build, run_command


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="build_dataset.py", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    build.add_arguments(parser)
    parser.set_defaults(run=build.run, subparser=parser)
    return run_command(parser.parse_args(argv), prog="build_dataset.py")


if __name__ == "__main__":
    sys.exit(main())
