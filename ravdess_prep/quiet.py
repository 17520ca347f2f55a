"""Other libraries' progress bars and warnings, silenced while a command runs without progress.

``--no-progress`` turns off this library's bars; Transformers ("Loading weights") and
TensorFlow (its C++ log lines and its Python warnings, retracing included) have their own.
:func:`quiet_libraries` turns those off for the time it is active and puts them back as they
were afterwards: Transformers through the Hugging Face Hub's switch, which it reads when it is
imported (and through its own switch where it was imported already), TensorFlow through the
variable its C++ logging reads and its Python logger. (``datasets``' bars are the export's
``progress`` argument.)
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
from typing import Iterator

#: Read by TensorFlow's C++ logging: 2 keeps errors only.
TF_LOG_LEVEL = ("TF_CPP_MIN_LOG_LEVEL", "2")
#: Read by Transformers when its logging is first set up (it then sets its own loggers' level,
#: over what was set before it was imported).
TRANSFORMERS_LOG_LEVEL = ("TRANSFORMERS_VERBOSITY", "error")
#: Python loggers held at ERROR.
LOGGERS = ("tensorflow", "transformers", "absl")
TRANSFORMERS_LOGGING = "transformers.utils.logging"


@contextlib.contextmanager
def quiet_libraries(quiet: bool = True) -> Iterator[None]:
    """While active (``quiet``), no progress bar or warning of Transformers or TensorFlow;
    their errors still show."""
    if not quiet:
        yield
        return
    saved_variables = {variable: os.environ.get(variable) for variable, _ in (TF_LOG_LEVEL, TRANSFORMERS_LOG_LEVEL)}
    for variable, value in (TF_LOG_LEVEL, TRANSFORMERS_LOG_LEVEL):
        os.environ.setdefault(variable, value)
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    hub = _hub_utils()
    hub_enabled = hub is not None and not hub.are_progress_bars_disabled()
    transformers = sys.modules.get(TRANSFORMERS_LOGGING)
    transformers_enabled = transformers is not None and transformers.is_progress_bar_enabled()
    if transformers is not None:
        transformers.disable_progress_bar()
    if hub is not None:
        hub.disable_progress_bars()
    try:
        yield
    finally:
        if hub_enabled:
            hub.enable_progress_bars()
        transformers_now = sys.modules.get(TRANSFORMERS_LOGGING)
        if transformers_now is not None and (transformers_enabled if transformers is not None else hub_enabled):
            transformers_now.enable_progress_bar()  # imported meanwhile: its bars were off from the start
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        for variable, saved in saved_variables.items():
            if saved is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = saved


def _hub_utils():
    """``huggingface_hub.utils`` where it is installed (the Transformers extra), else None."""
    if importlib.util.find_spec("huggingface_hub") is None:
        return None
    import huggingface_hub.utils

    return huggingface_hub.utils
