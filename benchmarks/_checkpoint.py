"""A random-weights VGGish checkpoint for the benchmarks, written by another process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def write_random_checkpoint_elsewhere(path: Path) -> Path:
    """Write a checkpoint in the official layout (speed does not depend on weight values) from a
    child process, so that this process's memory holds nothing of TensorFlow's."""
    subprocess.run([sys.executable, "-c", "import sys; from vggish.testing import write_random_checkpoint; "
                    "write_random_checkpoint(sys.argv[1])", str(path)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path
