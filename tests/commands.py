"""Helpers the test modules share: running ``ravdess-prep`` commands in the test process (the
exit status and output of one command, and its one error line), and an executor by name."""

from __future__ import annotations

from ravdess_prep import cli
from ravdess_prep.build.executors import BeamExecutor


def executor(runner: str, beam_options=()):
    """``Run(runner=...)`` for the executor ``runner``: Beam with ``beam_options``, or the name."""
    return BeamExecutor(beam_options=beam_options) if runner == "beam" else runner


def run_command(capsys, *args) -> tuple[int, str, str]:
    """``ravdess-prep ARGS``: exit status (a usage error's too), stdout, stderr; never a
    traceback or an internal error."""
    try:
        status = cli.main([str(arg) for arg in args])
    except SystemExit as stop:
        status = stop.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "unexpected" not in err and "internal error" not in err, err[-2000:]
    return status, out, err


def error_line(err: str) -> str:
    """The one error line (argparse prints its usage before it)."""
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err.splitlines()[-3:]
    return lines[0]
