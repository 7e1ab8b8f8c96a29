"""The data directory is private: it holds the face embeddings of everyone indexed.

ris creates it (and every folder above it that it creates) 0700 and its files 0600 (a umask can
only narrow that). To share a library with other users, widen the modes yourself: a library they
can only read is searched read-only.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> None:
    """Create `path` and its missing parents if needed, each one created private (0700): under
    umask 000, `mkdir(parents=True)` would make the parents world-writable."""
    missing = []
    folder = path
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass  # made meanwhile by another process
        else:
            os.chmod(folder, DIR_MODE)  # the umask may only narrow it: restore what it took
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))


def create_private(path: Path) -> None:
    """Create an empty private file at `path` if there is none, never through a link there.

    An existing file is never opened: closing any descriptor of a file drops every POSIX lock
    this process holds on it, so opening a catalog that one of our SQLite connections already
    has open would silently take that connection's locks away (another process would then
    checkpoint and delete the WAL under it). A link there is refused (ELOOP) without opening it.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except FileExistsError:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise OSError(errno.ELOOP, "it is a symbolic link", str(path)) from None
        return
    os.close(fd)


def open_fresh(path: Path) -> int:
    """A new private file at `path` for writing, whatever was there: a file (or link, or
    anything) left at that name is removed first, and the file is created exclusively, never
    through a link, so a planted link cannot make us overwrite its target."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)


def write_private(path: Path, data: bytes) -> None:
    """Write `path` whole (a temporary file, then a rename), private to its owner."""
    tmp = path.with_name(path.name + ".tmp")
    with os.fdopen(open_fresh(tmp), "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def writable(path: Path) -> bool:
    """Whether this process may change the file at `path` (or create it, if it does not exist)."""
    if path.exists():
        return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the first folder that exists is where the new ones go
    return os.access(folder, os.W_OK | os.X_OK)
