"""The ``ravdess-prep`` command line: one module per command.

Each command module has ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args)``; the
options of settings are generated from their declarations (:mod:`.options`), so no model or
setting is named here. Every error ends in one line naming the file and the cause, with the
settings spelled as this command's flags.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from ..exceptions import ParameterError, RavdessPrepError, command_line_wording, render
from ..quiet import quiet_libraries
from . import (audit, build, check, crosscorpus, crossval, download, embed, evaluate, export, info, measure, predict,
               preprocess, tag, train)
from .options import UsageError

COMMANDS = (download, info, measure, preprocess, build, check, embed, export, tag, train, predict, evaluate,
            crossval, crosscorpus, audit)


def parser() -> argparse.ArgumentParser:
    """The parser of every command."""
    top = argparse.ArgumentParser(prog="ravdess-prep",
                                  description="Turn emotional-speech recordings into embedding bundles.")
    top.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        sub = commands.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        sub.set_defaults(run=module.run, subparser=sub, wording={})
        module.add_arguments(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status: 0, 1 for an error (one line
    naming the file and the cause; the traceback only with ``--debug``), 2 for a usage error,
    130 when interrupted."""
    args = parser().parse_args(argv)
    return run_command(args, prog=f"ravdess-prep {args.command}")


def run_command(args: argparse.Namespace, *, prog: str) -> int:
    """Run a parsed command: its errors in one line, its settings named by their flags."""
    notes = _NoteHandler()
    try:
        with command_line_wording(args.wording), quiet_libraries(getattr(args, "no_progress", False)):
            try:
                return args.run(args)
            except UsageError as error:
                args.subparser.error(render(str(error)))
            except ParameterError as error:  # settings that do not go together
                if getattr(args, "usage_errors", False):
                    args.subparser.error(str(error))
                raise
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"{prog}: interrupted (what was finished is in the cache)", file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug:
            raise
        with command_line_wording(args.wording):
            message = describe(error)
        print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)
        return 1
    finally:
        notes.close()


def describe(error: BaseException) -> str:
    """One line for an error: the library's own message, or what went wrong and where."""
    if isinstance(error, RavdessPrepError):
        return str(error)
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    return f"{type(error).__name__}: {error} (an internal error: run with --debug for the traceback, and report it)"


class _NoteHandler(logging.Handler):
    """The library's notes (a clip a policy handled, a damaged cache entry) on stderr, one line
    each, while a command runs; :meth:`close` puts the logger back as it was."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.logger = logging.getLogger("ravdess_prep")
        self.saved = (self.logger.level, self.logger.propagate)
        self.logger.addHandler(self)
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False

    def emit(self, record: logging.LogRecord) -> None:
        print(f"ravdess-prep: note: {render(record.getMessage())}", file=sys.stderr)

    def close(self) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self.saved[0])
        self.logger.propagate = self.saved[1]
        super().close()


if __name__ == "__main__":
    sys.exit(main())
