"""eGeMAPS (the Geneva Minimalistic Acoustic Parameter Set, v02) through openSMILE.

Two levels:

- ``functionals``: 88 values per clip, computed on the *trimmed* clip at its own rate (no
  padding and no resampling: silence added by padding would change the statistics); a bundle
  is ``(clips, 88)``.
- ``lld``: the 25 low-level descriptors every 10 ms of the trimmed, centre-padded clip at its
  own rate, for the sequence classifier; a bundle is ``(clips, frames, 25)`` with, for a padded
  clip of ``L`` samples, ``frames = 2 + (L - W) // H`` where ``H`` is 10 ms and ``W`` 60 ms in
  samples, each rounded half up (openSMILE's rule, measured at 8 to 48 kHz; below 60 ms it
  gives no finite value).

openSMILE runs in the worker threads that prepare clips (it releases the GIL), so the model
step is the identity. The ``opensmile`` package (audEERING; it ships the openSMILE library) is
an optional extra: ``pip install -e ".[egemaps]"``.
"""

from __future__ import annotations

import ctypes
import dataclasses
import importlib.util
import os
import sys
import threading
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..exceptions import AudioError, ParameterError, RavdessPrepError, option
from ..settings import setting
from .base import EMBEDDER_GROUP, Embedder, ModelFiles, sequence_shape
from .outputs import SEQUENCE, VECTOR, OutputKind

LEVELS = ("functionals", "lld")
FEATURE_SET = "eGeMAPSv02"
NUM_FEATURES = {"functionals": 88, "lld": 25}
_SMILES = threading.local()  # one openSMILE instance per thread and level


def opensmile_module():
    """The ``opensmile`` package, its library loaded so that it keeps its own symbols.

    ``libSMILEapi.so`` and TensorFlow's libraries both export Takuya Ooura's FFT routines
    (``rdft``, ``makewt``, ``bitrv2``, ...) in different versions, and TensorFlow makes its
    symbols global: when TensorFlow is loaded first (``predict`` loads the Keras model before it
    embeds), openSMILE's calls bind to TensorFlow's routines, which corrupt its heap
    (``malloc(): invalid size``, the process aborts). Loading openSMILE's library first with
    ``RTLD_DEEPBIND`` makes it resolve its own symbols first, whatever was loaded before.
    """
    if "opensmile" not in sys.modules and hasattr(os, "RTLD_DEEPBIND"):
        spec = importlib.util.find_spec("opensmile")
        if spec is not None and spec.origin:
            for library in sorted(Path(spec.origin).parent.glob("core/bin/*/libSMILEapi.so")):
                ctypes.CDLL(str(library), mode=os.RTLD_LAZY | os.RTLD_LOCAL | os.RTLD_DEEPBIND)
    try:
        import opensmile
    except ImportError:
        raise RavdessPrepError(
            "the egemaps embedder needs openSMILE: pip install -e \".[egemaps]\" (or pip install opensmile)"
        ) from None
    return opensmile


def smile(level: str):
    """This thread's ``opensmile.Smile`` for eGeMAPSv02 at ``level`` (built once per thread)."""
    cached = getattr(_SMILES, level, None)
    if cached is None:
        opensmile = opensmile_module()
        cached = opensmile.Smile(
            feature_set=opensmile.FeatureSet.eGeMAPSv02,
            feature_level={"functionals": opensmile.FeatureLevel.Functionals,
                           "lld": opensmile.FeatureLevel.LowLevelDescriptors}[level],
        )
        setattr(_SMILES, level, cached)
    return cached


@dataclasses.dataclass(frozen=True)
class EGeMAPSEmbedder(Embedder):
    """eGeMAPSv02 by openSMILE (Eyben et al. 2016).

    Attributes:
        level: ``"functionals"`` (88 per clip, on the trimmed clip) or ``"lld"`` (25 every
            10 ms, on the padded clip).
    """

    level: str = setting("functionals", flags="--egemaps-level", choices=LEVELS, group=EMBEDDER_GROUP,
                         help="egemaps: functionals (88 per clip, default) or lld (25 every 10 ms)")

    name: ClassVar[str] = "egemaps"
    sample_rate_hz: ClassVar[None] = None  # the clip's own rate
    output: ClassVar[str] = "eGeMAPSv02 features by openSMILE (float32)"
    license: ClassVar[str] = ("openSMILE: audEERING's research license (free for research and education; see the "
                              "opensmile package)")
    citation: ClassVar[str] = ("Eyben F et al. (2016) The Geneva Minimalistic Acoustic Parameter Set (GeMAPS) for Voice "
                               "Research and Affective Computing. IEEE Trans. Affective Computing 7(2): 190-202; Eyben F, "
                               "Woellmer M, Schuller B (2010) openSMILE. ACM Multimedia 2010")

    def __post_init__(self):
        if self.level not in LEVELS:
            raise ParameterError(f"{option('level')} has to be one of {', '.join(map(repr, LEVELS))}, not {self.level!r}")

    def clip_kind(self) -> OutputKind:
        return VECTOR if self.level == "functionals" else SEQUENCE

    def clip_shape(self, *, examples: int | None, files: ModelFiles) -> tuple[int, ...]:
        if self.level == "functionals":
            return (NUM_FEATURES[self.level],)
        return sequence_shape(self, examples, NUM_FEATURES[self.level])

    def num_examples(self, num_samples: int, *, sample_rate_hz: int) -> int:
        if self.level == "functionals":
            return 1
        hop, window = (sample_rate_hz + 50) // 100, (6 * sample_rate_hz + 50) // 100  # 10 and 60 ms, half up
        return 0 if num_samples < window else 2 + (num_samples - window) // hop

    def examples(self, signal: np.ndarray, *, sample_rate_hz: int, sound: tuple[int, int] | None = None) -> np.ndarray:
        """openSMILE on the clip: ``(1, 88)`` functionals or ``(frames, 25)`` descriptors.

        Raises:
            AudioError: openSMILE gave NaN or infinite values (a clip too short to analyse).
        """
        features = smile(self.level).process_signal(np.asarray(signal, np.float32), int(sample_rate_hz))
        values = features.to_numpy(np.float32)
        if not np.isfinite(values).all():
            raise AudioError(f"openSMILE gives no {self.level} for a clip of {signal.shape[0]} samples at "
                             f"{sample_rate_hz} Hz ({signal.shape[0] / sample_rate_hz:.3f} s; it needs at least 0.06 s)")
        return values

    def describe(self) -> dict:
        try:
            package = version("opensmile")
        except PackageNotFoundError:
            package = None
        return {"feature_set": FEATURE_SET, "level": self.level, "opensmile": package,
                "padded": self.pads, "resampled": False, "clip_output": self.clip_kind().name}

    def feature_names(self) -> tuple[str, ...]:
        return tuple(smile(self.level).feature_names)

    def load(self, files: ModelFiles) -> "Identity":
        return Identity(vector=self.level == "functionals")


class Identity:
    """The model step of an embedder whose front-end computes the features (a clip's one row
    of functionals is its vector)."""

    def __init__(self, *, vector: bool = False):
        self.vector = vector

    def embed(self, examples: np.ndarray) -> np.ndarray:
        return np.asarray(examples, np.float32)

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        return raw[0] if self.vector else raw

    def close(self) -> None:
        pass
