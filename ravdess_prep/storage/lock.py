"""One writer of an output folder at a time: :class:`OutputLock`."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..exceptions import OutputError, write_cause
from .guards import check_parent


class OutputLock:
    """An exclusive lock on an output folder while a build writes it (``.<name>.lock`` beside
    it, held with ``flock``; the lock goes with the process, so a killed build leaves none held).

    Raises:
        OutputError: Another process holds it.
    """

    def __init__(self, out: str | os.PathLike):
        out = Path(out)
        self.path = out.with_name(f".{out.name}.lock")
        self._fd: int | None = None
        self._created: list[Path] = []

    def __enter__(self) -> "OutputLock":
        check_parent(self.path.with_name(self.path.name[1:-5]), "out")
        missing = [folder for folder in [self.path.parent, *self.path.parent.parents] if not folder.exists()]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._created = missing  # removed again, if still empty, when the lock is released
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = self.path.read_text().strip() if self.path.exists() else "?"
                raise OutputError(f"{self.path.parent / self.path.name[1:-5]}: another build is writing this folder "
                                  f"(process {holder}); wait for it to finish or choose another --out") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:  # its holder removed it as we opened it: take a new one
                same = False
            if same:
                break
            os.close(fd)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        except OSError as error:  # a full disk, a quota: no lock, and no empty lock file left
            os.close(fd)
            self.path.unlink(missing_ok=True)
            self._release_folders()
            raise OutputError(f"{self.path}: the lock cannot be written ({write_cause(error)}); nothing was written "
                              "to the output") from None
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None
        self._release_folders()

    def _release_folders(self) -> None:
        for folder in self._created:  # deepest first: a failed build leaves no empty folders
            try:
                folder.rmdir()
            except OSError:
                break
