"""Decoded frames handed from a decoding worker to the indexer through files in RAM.

A chunk of frames is megabytes; sent through the worker's pipe it is pickled, copied through a
64 KB pipe buffer in hundreds of system calls and unpickled while holding the parent's
interpreter lock, which every worker's reader thread shares: on 16 cores the pipes, not the
decoders, capped decoding at about 350 frames/s. Instead the worker writes the frames to a file
in a private folder on /dev/shm (memory, not disk) and sends its name; the parent reads the file
in one call, without the lock, and deletes it. The worker writes at most `limit` files ahead of
the parent, so memory stays bounded as it did with the pipe. The folder is removed when the
decoding ends, and a folder left by a process that was killed is removed by the next run.
Where there is no /dev/shm, or a chunk cannot be written there (it is full, a file size limit),
frames go through the pipe as before.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RAM = Path("/dev/shm")
PREFIX = "ris-frames-"


@dataclass(frozen=True)
class FramesFile:
    """A chunk of frames (engine.media.sampling.FrameChunk) whose frames wait in a raw
    (B, H, W, 3) uint8 file."""

    times: np.ndarray
    path: str
    shape: tuple[int, ...]
    seconds: float


def make_folder() -> Path | None:
    """A new private folder for this process's decoders, or None where RAM has no folder."""
    if not (RAM.is_dir() and os.access(RAM, os.W_OK)):
        return None
    _remove_orphans()
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=RAM))


def remove_folder(folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_orphans() -> None:
    """Folders of ris processes that are gone (killed before they could clean up)."""
    for folder in RAM.glob(f"{PREFIX}*-*"):
        try:
            pid = int(folder.name[len(PREFIX) :].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, PermissionError):
            continue  # not ours to judge: a name we did not make, another user's process


class FrameWriter:
    """The worker's side: frames to files, at most `limit` unread at a time."""

    def __init__(self, folder: Path, limit: int) -> None:
        self.folder = folder
        self.limit = max(1, limit)
        self._unread: deque[str] = deque()
        self._count = 0

    def write(self, times: np.ndarray, frames: np.ndarray, seconds: float) -> FramesFile | None:
        """The chunk as a file, or None when it cannot be written (/dev/shm full, a file size
        limit): the caller sends it through the pipe instead."""
        while True:
            while self._unread and not os.path.exists(self._unread[0]):
                self._unread.popleft()
            if len(self._unread) < self.limit:
                break
            time.sleep(0.002)  # the parent has not caught up
        self._count += 1
        path = str(self.folder / f"{os.getpid()}-{self._count}.raw")
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        try:
            frames.tofile(path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(path)
            return None
        self._unread.append(path)
        return FramesFile(times, path, frames.shape, seconds)


def read_frames(ref: FramesFile) -> np.ndarray:
    """The parent's side: the frames of a file, which is then deleted."""
    frames = np.fromfile(ref.path, dtype=np.uint8).reshape(ref.shape)
    os.unlink(ref.path)
    return frames
