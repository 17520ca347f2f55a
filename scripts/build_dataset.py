"""Build the RAVDESS VGGish bundles: the main job.

    python scripts/build_dataset.py --out data/bundles                  # download, then build
    python scripts/build_dataset.py --source data/ravdess --out data/bundles

The options are those of ``ravdess-prep build`` (``--help`` lists them).
"""

from __future__ import annotations

import argparse
import sys

from ravdess_prep.cli import UsageError, add_build_arguments, parse_args, run_build
from ravdess_prep.exceptions import RavdessPrepError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="build_dataset.py", description=__doc__.splitlines()[0])
    add_build_arguments(parser)
    args = parse_args(parser, argv)
    try:
        return run_build(args)
    except UsageError as error:
        parser.error(str(error))
    except RavdessPrepError as error:
        print(f"build_dataset.py: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
