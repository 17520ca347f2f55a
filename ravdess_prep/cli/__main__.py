"""``python -m ravdess_prep.cli``: the command line."""

import sys

from . import main

sys.exit(main())
