"""Decoding in worker processes (`decode_worker`), ahead of the models and on other cores.

Each worker decodes one file at a time; with several workers, the next files are decoded while
the current one is consumed, each at most `read_ahead` messages ahead, so memory stays bounded.
Files come out whole and in order. A worker that hangs (decord does on some damaged files) is
killed after `timeout` seconds without a message; one that dies (a crash, an out-of-memory
kill), even halfway through a message, is noticed at once: a reader thread per worker sees the
end of its pipe, which only the worker holds open. Either way that file is reported, the worker
is replaced, and the run goes on. Workers die with the process that started them.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from .media import MediaFile
from .sampling import FrameChunk, MediaInfo, SampleOptions

_GONE = object()  # what a reader thread queues when its worker's pipe ends


@dataclass(frozen=True)
class Decoded:
    """One event of a file's decoding: its info, a chunk of frames, the end, or a failure."""

    file: MediaFile
    info: MediaInfo | None = None
    chunk: FrameChunk | None = None
    done: bool = False
    error: str | None = None


class _Worker:
    """One decoding process, its request pipe, and a thread moving its answers into a queue."""

    def __init__(self, opts: SampleOptions, read_ahead: int) -> None:
        args = [str(os.getpid()), str(opts.rate), str(opts.min_frames)]
        args += [str(opts.max_side), str(opts.chunk)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.decode_worker", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C at the terminal is the parent's to handle
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._requests = Connection(os.dup(self.proc.stdin.fileno()), readable=False)
        self._answers = Connection(os.dup(self.proc.stdout.fileno()), writable=False)
        self.proc.stdin.close()  # the Connections hold their own copies
        self.proc.stdout.close()
        self.inbox: queue.Queue[Any] = queue.Queue(maxsize=read_ahead)
        self.file: MediaFile | None = None  # the file it is decoding
        self._reader = threading.Thread(target=self._read, daemon=True, name="ris-decode-reader")
        self._reader.start()

    def _read(self) -> None:
        # ends when the worker ends or dies, even mid-message (EOFError), or sends something
        # that does not unpickle: either way the worker is gone
        with suppress(Exception):
            while True:
                self.inbox.put(self._answers.recv())
        self._answers.close()
        self.inbox.put(_GONE)

    def send(self, file: MediaFile) -> None:
        self.file = file
        with suppress(OSError):  # it died: its reader thread says so
            self._requests.send((str(file.path), str(file.kind)))

    def death(self) -> str:
        """Why the worker is gone, in words."""
        code = self.proc.wait(timeout=5)
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the decoder crashed on this file (killed by {name}); skipped"
        return f"the decoder crashed on this file (exit code {code}); skipped"

    def stop(self) -> None:
        """Ask an idle worker to end; kill it if it does not."""
        with suppress(OSError):
            self._requests.send(None)
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=2)
        self.kill()

    def kill(self) -> None:
        """End the worker now, and let its reader thread finish (its queue drained)."""
        with suppress(OSError):
            self.proc.kill()
        self.proc.wait(timeout=5)
        self._requests.close()
        while self._reader.is_alive():
            with suppress(queue.Empty):
                self.inbox.get(timeout=0.1)


class Decoder:
    """Decodes files with `workers` processes, yielding each file's events whole and in order."""

    def __init__(
        self,
        opts: SampleOptions,
        timeout: float = 120.0,
        workers: int = 1,
        read_ahead: int = 4,
    ) -> None:
        self.opts = opts
        self.timeout = timeout
        self.workers = max(1, workers)
        self.read_ahead = max(1, read_ahead)
        self._pool: list[_Worker] = []

    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and diagnostics)."""
        return [w.proc.pid for w in self._pool]

    def decode(self, files: Sequence[MediaFile]) -> Iterator[Decoded]:
        todo = deque(files)
        busy: deque[_Worker] = deque()  # workers with a file, in file order
        try:
            self._pool = [_Worker(self.opts, self.read_ahead) for _ in range(self.workers)]
            idle = deque(self._pool)
            while todo or busy:
                while todo and idle:
                    worker = idle.popleft()
                    worker.send(todo.popleft())
                    busy.append(worker)
                worker = busy[0]
                yield from self._events_of(worker)
                busy.popleft()
                if worker.proc.poll() is None:
                    idle.append(worker)
                else:  # it died or was killed: a fresh one takes its place
                    worker.kill()  # closes its pipe; it is already dead
                    self._pool.remove(worker)
                    fresh = _Worker(self.opts, self.read_ahead)
                    self._pool.append(fresh)
                    idle.append(fresh)
        finally:  # done, cancelled or failed: no worker outlives the run
            for worker in self._pool:
                if worker in busy:
                    worker.kill()
                else:
                    worker.stop()
            self._pool = []

    def _events_of(self, worker: _Worker) -> Iterator[Decoded]:
        """The events of the worker's current file, up to its end or failure."""
        file = worker.file
        assert file is not None
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                msg = worker.inbox.get(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() < deadline:
                    continue
                worker.kill()
                yield Decoded(file, error=_stalled(self.timeout))
                return
            if msg is _GONE:
                yield Decoded(file, error=worker.death())
                return
            deadline = time.monotonic() + self.timeout
            if msg == "done":
                yield Decoded(file, done=True)
                return
            if isinstance(msg, tuple):
                yield Decoded(file, error=msg[1])
                return
            if isinstance(msg, MediaInfo):
                yield Decoded(file, info=msg)
            else:
                yield Decoded(file, chunk=msg)


def _stalled(timeout: float) -> str:
    return (
        f"decoding stalled for {timeout:g} s (decord hangs on some damaged files); skipped: "
        "re-encode it with ffmpeg, or raise RIS_DECODE_TIMEOUT"
    )
