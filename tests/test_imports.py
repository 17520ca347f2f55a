"""Nothing happens at import time: no TensorFlow, no pandas, no file or environment read."""

from __future__ import annotations

import subprocess
import sys

MODULES = [
    "ravdess_prep", "ravdess_prep.atomic", "ravdess_prep.audio", "ravdess_prep.bundle", "ravdess_prep.cache",
    "ravdess_prep.classifier", "ravdess_prep.cli", "ravdess_prep.config", "ravdess_prep.decimate",
    "ravdess_prep.download", "ravdess_prep.embed", "ravdess_prep.exceptions", "ravdess_prep.measure",
    "ravdess_prep.pad", "ravdess_prep.parallel", "ravdess_prep.params", "ravdess_prep.pipeline",
    "ravdess_prep.ravdess", "ravdess_prep.source", "ravdess_prep.split", "ravdess_prep.trim",
    "ravdess_prep.beam", "vggish", "vggish.files", "vggish.frontend", "vggish.mel", "vggish.model", "vggish.params",
    "vggish.postprocess", "vggish.testing",
]


def test_importing_every_module_loads_no_heavy_library():
    code = (
        "import sys, os\n"
        "os.environ.clear()\n"  # a module reading the environment at import would see nothing: fine either way
        f"for name in {MODULES!r}: __import__(name)\n"
        "heavy = [m for m in ('tensorflow', 'tf_slim', 'keras', 'pandas', 'librosa', 'resampy', 'numba', 'matplotlib',"
        " 'requests', 'soundfile', 'apache_beam') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
