"""The numeric precision a PyTorch encoder runs in, and whether this machine runs it natively.

``fp32`` (the default) runs every operation in float32. ``bf16`` casts the weights of the
matrix products and convolutions to bfloat16 once, when the model is loaded, and keeps the
float32 rows the bundles hold. It pays only where the hardware multiplies bfloat16 matrices
fast: a GPU, or a processor with AMX. With AVX512-BF16 alone it runs at about float32's speed
(a warning says so); without either PyTorch emulates bfloat16, slower than float32, so ``bf16``
is refused there before any work.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from ..exceptions import ParameterError, option

#: The precisions of the ``whisper`` and ``hf`` embedders.
PRECISIONS = ("fp32", "bf16")
#: The processor features (as Linux's ``/proc/cpuinfo`` names them) that multiply bfloat16
#: matrices natively; one is enough.
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
CPUINFO = Path("/proc/cpuinfo")
_log = logging.getLogger("ravdess_prep")


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The feature flags of the first processor listed in ``cpuinfo`` (empty when it cannot be
    read: not Linux)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def check_precision(precision) -> None:
    """Raise :class:`ParameterError` unless ``precision`` is one of :data:`PRECISIONS` (the
    message lists them)."""
    if precision not in PRECISIONS:
        raise ParameterError(f"{option('precision')} has to be one of {', '.join(map(repr, PRECISIONS))}, "
                             f"not {precision!r}")


def require_native(precision: str, *, device: str, flags: frozenset[str] | None = None) -> None:
    """Raise unless ``precision`` runs natively on ``device``; warn where it runs natively but
    gains nothing.

    ``bf16`` on a processor with neither AMX nor AVX512-BF16 is refused. With AVX512-BF16 but
    no AMX it runs, with a warning: there a bfloat16 matrix product takes about as many cycles
    as a float32 one (measured: 0.6 times float32's speed), and only AMX makes it several times
    faster. On a GPU it runs as PyTorch runs it there (natively from NVIDIA's Ampere on).

    Args:
        precision: One of :data:`PRECISIONS`.
        device: The PyTorch device the model runs on (``"cpu"``, ``"cuda"``, ...).
        flags: The processor's feature flags (default: :func:`cpu_flags`).

    Raises:
        ParameterError: An unknown precision, or ``bf16`` on a processor without native
            bfloat16 (the message names the missing instruction sets).
    """
    check_precision(precision)
    if precision != "bf16" or not str(device).startswith("cpu"):
        return
    flags = cpu_flags() if flags is None else flags
    if not flags.intersection(NATIVE_BF16_FLAGS):
        raise ParameterError(
            f"{option('precision', 'bf16')}: this processor has no native bfloat16 (neither "
            f"{' nor '.join(NATIVE_BF16_FLAGS)} among its features{'' if flags else ', which could not be read'}), "
            f"and emulated bfloat16 is slower than float32: use {option('precision', 'fp32')}, or a GPU")
    if "amx_bf16" not in flags:
        _warn_no_gain()


@functools.lru_cache(maxsize=None)
def _warn_no_gain() -> None:
    """The warning of :func:`require_native`, once per process."""
    _log.warning("--precision bf16 on a processor with avx512_bf16 but without amx_bf16: its bfloat16 matrix "
                 "products are no faster than float32's, so expect no gain (fp32 is the faster choice here)")
