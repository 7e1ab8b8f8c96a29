"""Named roots: where this machine mounts the folders of a library shared by many machines.

One archive is mounted at `/mnt/nas` on one machine and at `/Volumes/nas` on another. Each
machine names its mount points (`--roots archive=/mnt/nas`, `RIS_ROOTS`); a PostgreSQL catalog
keeps a file under one as the root's name and its path under it (`archive:2024/a.mp4`), so
every machine knows it as the same file and finds it at its own mount point. A file of a root
not mounted here keeps that name in results, listed and marked not reachable, and nothing of
it is ever taken for deleted: no folder given to `ris index` here can hold it.

A path under no root is kept as it is, absolute (a library of one machine needs no roots).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
HINT = (
    "give NAME=FOLDER pairs, comma-separated, e.g. --roots archive=/mnt/nas,photos=/srv/photos "
    "(a name: letters, digits, '.', '_' or '-'; the same name on every machine)"
)


@dataclass(frozen=True)
class Roots:
    """This machine's mount points of the library's roots: (name, absolute folder), the
    deepest folder first, so that a root inside another's folder wins for its files."""

    mounts: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> Roots:
        """`NAME=FOLDER[,NAME=FOLDER...]`, or a UserError (exit 2) saying what is wrong."""
        if not text or not text.strip():
            return cls()
        mounts: dict[str, str] = {}
        for part in text.split(","):
            name, sep, folder = part.partition("=")
            name, folder = name.strip(), folder.strip()
            if not sep or not folder or not NAME.fullmatch(name):
                raise UserError(f"--roots: {part.strip()!r} is not NAME=FOLDER", HINT)
            if name in mounts:
                raise UserError(f"--roots: the root {name!r} is given twice", HINT)
            mounts[name] = str(Path(folder).expanduser().resolve())
        ordered = sorted(mounts.items(), key=lambda m: len(m[1]), reverse=True)
        return cls(tuple(ordered))

    def key(self, path: str) -> str:
        """The catalog's name for a local path: `root:relative/path` under a root, else the
        path itself."""
        for name, folder in self.mounts:
            if path == folder:
                return f"{name}:"
            if path.startswith(folder.rstrip("/") + "/"):
                return f"{name}:{path[len(folder.rstrip('/')) + 1 :]}"
        return path

    def stored(self, path: str) -> bytes:
        """A local path as a shared catalog keeps it (its key, as bytes: any name works)."""
        return os.fsencode(self.key(path))

    def loaded(self, value: bytes | memoryview) -> str:
        """A path as a shared catalog keeps it, where it is on this machine."""
        return self.local(os.fsdecode(bytes(value)))

    def local(self, key: str) -> str:
        """Where a catalog name is on this machine: under the root's mount point here, or the
        name as it is (`root:relative/path`) when that root is not mounted here."""
        if key.startswith("/") or ":" not in key:
            return key
        name, _, rel = key.partition(":")
        for mounted, folder in self.mounts:
            if mounted == name:
                return os.path.join(folder, rel) if rel else folder
        return key
