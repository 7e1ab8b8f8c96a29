"""Finding media files: which files are photos or videos, walked recursively."""

from __future__ import annotations

import contextlib
import functools
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.vocabulary import MediaKind

VIDEO_EXTENSIONS = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v"})
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})


def media_kind(path: Path) -> MediaKind | None:
    """VIDEO, IMAGE or None, from the file name's extension."""
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return MediaKind.VIDEO
    if suffix in IMAGE_EXTENSIONS:
        return MediaKind.IMAGE
    return None


def supported_types() -> str:
    """The extensions ris reads, for messages: 'avi bmp jpeg ...'."""
    return " ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))


@dataclass(frozen=True)
class MediaFile:
    path: Path  # absolute, resolved
    kind: MediaKind  # UNKNOWN only for a root given by name that is not media
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class WalkProblem:
    """A path that could not be listed or read while walking."""

    path: Path
    reason: str


def walk(roots: Iterable[Path], skip: Iterable[Path] = ()) -> Iterator[MediaFile | WalkProblem]:
    """Every photo and video under the roots, in a stable order; problems are yielded too.

    A root may be a file: then it is taken whatever its extension, so that asking for a file
    that is not media gives a reason rather than silence. Hidden folders and `skip` folders
    (the data directory) are not entered.
    """
    skipped = {p.resolve() for p in skip}
    for root in roots:
        root = Path(root).expanduser().resolve()
        if root.is_dir():
            yield from _walk_dir(root, skipped)
        elif root.exists():
            yield _stat(root, media_kind(root) or MediaKind.UNKNOWN)
        else:
            yield WalkProblem(root, "no such file or folder")


def _walk_dir(root: Path, skipped: set[Path]) -> Iterator[MediaFile | WalkProblem]:
    problems: list[WalkProblem] = []

    def on_error(err: OSError) -> None:
        problems.append(
            WalkProblem(Path(err.filename or root), f"cannot list the folder: {err.strerror}")
        )

    for folder, dirs, files in os.walk(root, onerror=on_error):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and here / d not in skipped)
        for name in sorted(files):
            path = here / name
            kind = media_kind(path)
            if kind is not None and not name.startswith("."):
                yield _stat(path, kind)
        yield from problems
        problems.clear()
    yield from problems  # the last folder walked may be the one that could not be listed


def _stat(path: Path, kind: MediaKind) -> MediaFile | WalkProblem:
    try:
        st = path.stat()
    except OSError as err:
        return WalkProblem(path, f"cannot read: {err.strerror}")
    if not stat.S_ISREG(st.st_mode) or _kernel_file(st):
        return WalkProblem(path, f"not a regular file ({_file_type(st)}): skipped")
    if not os.access(path, os.R_OK):
        return WalkProblem(path, "permission denied (make the file readable)")
    return MediaFile(path, kind, st.st_size, st.st_mtime_ns)


_FILE_TYPES = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def _file_type(st: os.stat_result) -> str:
    if _kernel_file(st):
        return "a file the kernel makes up as it is read, under /proc or /sys"
    return next((name for test, name in _FILE_TYPES if test(st.st_mode)), "a special file")


def _kernel_file(st: os.stat_result) -> bool:
    """Whether a file lies on /proc or /sys: "regular" files whose size says nothing."""
    return st.st_dev in _kernel_devices()


@functools.cache
def _kernel_devices() -> frozenset[int]:
    """The devices of /proc and /sys, read once (a walk stats every file against them)."""
    devices = set()
    for mount in ("/proc", "/sys"):
        with contextlib.suppress(OSError):
            devices.add(os.stat(mount).st_dev)
    return frozenset(devices)
