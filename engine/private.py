"""The data directory is private: it holds the face embeddings of everyone indexed.

ris creates it 0700 and its files 0600 (a umask can only narrow that). To share a library with
other users, widen the modes yourself: a library they can only read is searched read-only.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> None:
    """Create `path` (and missing parents) if needed, the last folder private."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)


def private_file(path: Path) -> None:
    """Create an empty private file at `path` if there is none; never follows a link there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write `path` whole (a temporary file, then a rename), private to its owner."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    with os.fdopen(fd, "wb") as out:
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
