"""The executors of a build plan, by name (see :class:`ravdess_prep.config.Run`)."""

from __future__ import annotations

from .beam import run_beam
from .local import run_local

#: ``{runner name: function(plan, run) -> RunReport}``; the names are ``config.RUNNERS``.
RUNNERS = {"local": run_local, "beam": run_beam}
