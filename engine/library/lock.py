"""One writer at a time per data directory: an advisory lock the OS releases if we die; and
whether another process holds such a lock on a file."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from engine.errors import IndexBusyError, UserError
from engine.library.private_files import FILE_MODE, private_dir


class WriterLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> WriterLock:
        try:
            private_dir(self.path.parent)
            # never through a link: a planted index.lock -> ~/.bashrc must not be emptied
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
        except OSError as err:
            raise UserError(
                f"cannot write to the data directory {self.path.parent}: {err.strerror}",
                "indexing needs write access to it (searches work read-only); if index.lock is "
                "a link, remove it",
            ) from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise IndexBusyError(
                f"another ris index run (pid {holder}) is writing to {self.path.parent}",
                "wait for it to finish, or stop it; searches can run meanwhile",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing releases the lock
            self._fd = None


def held(path: Path) -> bool:
    """Whether another process holds an advisory (flock) lock on the file at `path`; False
    when there is no such file."""
    if not path.exists():
        return False
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False
