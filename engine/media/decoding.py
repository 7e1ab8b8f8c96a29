"""Decoding in worker processes (`decode_worker`), ahead of the models and on other cores.

Each worker decodes one file at a time, with the next given to it already; several workers
decode side by side, their files' events interleaved as they come (see `Decoder`). A worker
that hangs (decord does on some damaged files) is killed after `timeout` seconds without a message; one that dies (a crash, an out-of-memory
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
from collections.abc import Iterable, Iterator, Sized
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from engine.media.finding import MediaFile
from engine.media.sampling import FrameChunk, MediaInfo, SampleOptions
from engine.media.shared_frames import FramesFile, make_folder, read_frames, remove_folder

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
    """One decoding process, its request pipe, the files it was given (decoded in that order),
    and a thread moving its answers into the decoder's queue."""

    def __init__(
        self,
        opts: SampleOptions,
        read_ahead: int,
        folder: Path | None,
        outbox: queue.Queue[tuple[_Worker, Any]],
    ) -> None:
        args = [str(os.getpid()), str(opts.rate), str(opts.min_frames)]
        args += [str(opts.max_side), str(opts.chunk)]
        if folder is not None:  # frames through files in RAM (frame_files.py)
            args += [str(folder), str(read_ahead)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.media.decode_worker", *args],
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
        self.outbox = outbox
        self.files: deque[MediaFile] = deque()  # given to it, not yet finished; first: current
        self.heard = time.monotonic()  # when it last said something (or was given work)
        self._reader = threading.Thread(target=self._read, daemon=True, name="ris-decode-reader")
        self._reader.start()

    def _read(self) -> None:
        # ends when the worker ends or dies, even mid-message (EOFError), or sends something
        # that does not unpickle: either way the worker is gone
        with suppress(Exception):
            while True:
                msg = self._answers.recv()
                self.heard = time.monotonic()
                if isinstance(msg, FramesFile):
                    try:
                        msg = FrameChunk(msg.times, read_frames(msg), msg.seconds)
                    except (OSError, ValueError) as err:
                        msg = ("error", f"decoded frames were lost ({err}); skipped")
                self.outbox.put((self, msg))
                self.heard = time.monotonic()  # a full queue is the reader's wait, not a stall
        self._answers.close()
        self.outbox.put((self, _GONE))

    @property
    def reading(self) -> bool:
        return self._reader.is_alive()

    def send(self, file: MediaFile) -> None:
        if not self.files:
            self.heard = time.monotonic()
        self.files.append(file)
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
        """End the worker now (its reader thread ends with its pipe)."""
        with suppress(OSError):
            self.proc.kill()
        self.proc.wait(timeout=5)
        self._requests.close()


class Decoder:
    """Decodes files with `workers` processes, each given up to `depth` files at a time.

    Files are decoded side by side and their events interleave as the workers send them: each
    file's own events come in order (its info, its chunks, then its end or failure), and a long
    file holds up no other. Memory stays bounded: a worker is at most `read_ahead` chunks ahead
    of the reader, and the reader at most `read_ahead` per worker ahead of the consumer.
    """

    def __init__(
        self,
        opts: SampleOptions,
        timeout: float = 120.0,
        workers: int = 1,
        read_ahead: int = 4,
        depth: int = 2,
    ) -> None:
        self.opts = opts
        self.timeout = timeout
        self.workers = max(1, workers)
        self.read_ahead = max(1, read_ahead)
        self.depth = max(1, depth)
        self._pool: list[_Worker] = []

    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and diagnostics)."""
        return [w.proc.pid for w in self._pool]

    def decode(
        self, files: Iterable[MediaFile], stop: threading.Event | None = None
    ) -> Iterator[Decoded]:
        """Each file's events; ends early, workers stopped, once `stop` is set. `files` is
        read as workers need them, not before (so an iterator may claim each as it goes)."""
        todo: _Todo = _Todo(files)
        outbox: queue.Queue[tuple[_Worker, Any]] = queue.Queue(self.workers * self.read_ahead)
        folder = make_folder()

        def fresh() -> _Worker:
            return _Worker(self.opts, self.read_ahead, folder, outbox)

        finished = threading.Event()
        try:
            count = len(files) if isinstance(files, Sized) else self.workers
            self._pool = [fresh() for _ in range(min(self.workers, count) or 1)]
            if stop is not None:  # a cancel ends the workers at once, not at the next event
                threading.Thread(
                    target=self._kill_on, args=(stop, finished), daemon=True, name="ris-decode-stop"
                ).start()
            while True:
                self._assign(todo)
                if not any(w.files for w in self._pool) or (stop is not None and stop.is_set()):
                    return
                try:
                    worker, msg = outbox.get(timeout=0.5)
                except queue.Empty:
                    for worker in [w for w in self._pool if self._stalled(w)]:
                        worker.kill()
                        yield Decoded(worker.files.popleft(), error=_stalled(self.timeout))
                        self._replace(worker, fresh(), todo)
                    continue
                if stop is not None and stop.is_set():
                    return  # its workers were killed: no file is blamed, none replaced
                if worker not in self._pool or not worker.files:
                    continue  # what a worker killed for stalling said before it died
                file = worker.files[0]
                if msg is _GONE:
                    worker.kill()  # closes its pipe; it is already dead
                    yield Decoded(worker.files.popleft(), error=worker.death())
                    self._replace(worker, fresh(), todo)
                elif msg == "done":
                    worker.files.popleft()
                    yield Decoded(file, done=True)
                elif isinstance(msg, tuple):
                    worker.files.popleft()
                    yield Decoded(file, error=msg[1])
                elif isinstance(msg, MediaInfo):
                    yield Decoded(file, info=msg)
                else:
                    yield Decoded(file, chunk=msg)
        finally:  # done, cancelled or failed: no worker outlives the run
            finished.set()
            for worker in self._pool:
                if worker.files:
                    worker.kill()
                else:
                    worker.stop()
            deadline = time.monotonic() + 10
            while any(w.reading for w in self._pool) and time.monotonic() < deadline:
                with suppress(queue.Empty):  # let blocked reader threads finish
                    outbox.get(timeout=0.05)
            self._pool = []
            remove_folder(folder)

    def _kill_on(self, stop: threading.Event, finished: threading.Event) -> None:
        """Kill every worker once `stop` is set, even while the consumer is busy elsewhere
        (a batch on the models): decoding work does not outlive a cancel."""
        while not finished.is_set():
            if stop.wait(0.1):
                for worker in list(self._pool):
                    with suppress(OSError, subprocess.TimeoutExpired):
                        worker.proc.kill()
                        worker.proc.wait(timeout=5)  # reaped: no zombie waits for the batch
                return

    def _assign(self, todo: _Todo) -> None:
        """Files to workers: each its next, then each a second, and so on up to `depth`."""
        for level in range(1, self.depth + 1):
            for worker in self._pool:
                if len(worker.files) < level and (file := todo.next()) is not None:
                    worker.send(file)

    def _stalled(self, worker: _Worker) -> bool:
        return bool(worker.files) and time.monotonic() - worker.heard > self.timeout

    def _replace(self, old: _Worker, new: _Worker, todo: _Todo) -> None:
        """A fresh worker in place of one that died; what it had not begun goes back first."""
        todo.back.extendleft(reversed(old.files))
        old.files.clear()
        self._pool[self._pool.index(old)] = new


class _Todo:
    """The files not yet given to a worker: those given back (a worker died) first, then the
    rest of `files`, read one at a time as workers need them."""

    def __init__(self, files: Iterable[MediaFile]) -> None:
        self.back: deque[MediaFile] = deque()
        self._rest = iter(files)

    def next(self) -> MediaFile | None:
        return self.back.popleft() if self.back else next(self._rest, None)


def _stalled(timeout: float) -> str:
    return (
        f"decoding stalled for {timeout:g} s (decord hangs on some damaged files); skipped: "
        "re-encode it with ffmpeg, or raise RIS_DECODE_TIMEOUT"
    )
