"""Decoding in a child process: it reads ahead of the models on another core, and a decoder
that hangs (decord does on some damaged files) or crashes is killed and the file reported."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import re
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .media import MediaFile
from .sampling import FrameChunk, MediaInfo, SampleOptions, read_media
from .vocabulary import MediaKind


@dataclass(frozen=True)
class Decoded:
    """One event of a file's decoding: its info, a chunk of frames, the end, or a failure."""

    file: MediaFile
    info: MediaInfo | None = None
    chunk: FrameChunk | None = None
    done: bool = False
    error: str | None = None


def describe_decode_error(err: BaseException, kind: str, native_log: str = "") -> str:
    """A one-line reason, preferring the decoder's own last complaint (e.g. 'moov atom not found')."""
    messages: list[str] = []
    for line in native_log.splitlines():
        text = re.sub(r"^(\[[^\]]*\]\s*)+", "", line).strip()  # '[mov,mp4 @ 0x..] '
        text = re.sub(r"^\S+\.cc:\d+: ERROR [^:]*: .*?, ", "", text)  # decord's 'file.cc:83: ...'
        if text and text not in messages:
            messages.append(text)
    detail = "; ".join(messages[-2:]) or " ".join(str(err).split())[:160]
    if kind == MediaKind.VIDEO:
        return f"cannot decode the video: {detail} (damaged, truncated or not a video)"
    if kind == MediaKind.IMAGE:
        return f"cannot read the photo: {detail} (damaged or not an image)"
    return f"not a supported photo or video type ({detail})"


def _capture_native_stderr() -> Any:
    """Send fd 2 (where decord and ffmpeg write) to a temporary file the worker can read back."""
    log = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 (lives as long as the worker)
    os.dup2(log.fileno(), 2)
    return log


def _worker(requests: Any, results: Any, opts: SampleOptions) -> None:
    log = _capture_native_stderr()
    while (item := requests.get()) is not None:
        seq, path, kind = item
        start = log.seek(0, os.SEEK_END)
        try:
            for part in read_media(Path(path), MediaKind(kind), opts):
                results.put((seq, part))
            results.put((seq, "done"))
        except Exception as err:  # any decoder failure is this file's, not the run's
            log.seek(start)
            native = log.read().decode("utf-8", "replace")
            results.put((seq, ("error", describe_decode_error(err, kind, native))))


class Decoder:
    """Decodes files in order in one worker process, `read_ahead` files ahead of the consumer."""

    def __init__(self, opts: SampleOptions, timeout: float = 120.0, read_ahead: int = 2) -> None:
        self.opts = opts
        self.timeout = timeout
        self.read_ahead = read_ahead
        self._ctx = mp.get_context("spawn")
        self._proc: Any = None

    def decode(self, files: Sequence[MediaFile]) -> Iterator[Decoded]:
        pending: deque[tuple[int, MediaFile]] = deque()
        nxt = 0
        try:
            self._start()
            while nxt < len(files) or pending:
                while nxt < len(files) and len(pending) < self.read_ahead:
                    pending.append((nxt, files[nxt]))
                    self._requests.put((nxt, str(files[nxt].path), files[nxt].kind))
                    nxt += 1
                seq, file = pending[0]
                msg = self._receive()
                if isinstance(msg, str):  # timed out or crashed: restart, resend the rest
                    pending.popleft()
                    self._restart(pending)
                    yield Decoded(file, error=msg)
                    continue
                mseq, part = msg
                if mseq != seq:
                    continue
                if part == "done" or isinstance(part, tuple):
                    pending.popleft()
                yield self._event(file, part)
        finally:
            self._stop()

    @staticmethod
    def _event(file: MediaFile, part: Any) -> Decoded:
        if part == "done":
            return Decoded(file, done=True)
        if isinstance(part, tuple):
            return Decoded(file, error=part[1])
        if isinstance(part, MediaInfo):
            return Decoded(file, info=part)
        return Decoded(file, chunk=part)

    def _receive(self) -> Any:
        deadline = time.monotonic() + self.timeout
        while True:
            wait = min(0.5, max(0.0, deadline - time.monotonic()))
            try:
                return self._results.get(timeout=wait)
            except queue.Empty:
                if not self._proc.is_alive():
                    code = self._proc.exitcode
                    return f"the decoder crashed on this file (exit code {code}); skipped"
                if time.monotonic() >= deadline:
                    return (
                        f"decoding stalled for {self.timeout:g} s (decord hangs on some damaged "
                        "files); skipped: re-encode it with ffmpeg, or raise RIS_DECODE_TIMEOUT"
                    )

    def _start(self) -> None:
        self._requests = self._ctx.Queue()
        self._results = self._ctx.Queue(maxsize=4)
        self._proc = self._ctx.Process(
            target=_worker, args=(self._requests, self._results, self.opts), daemon=True
        )
        self._proc.start()

    def _restart(self, pending: deque[tuple[int, MediaFile]]) -> None:
        self._stop()
        self._start()
        for seq, file in pending:
            self._requests.put((seq, str(file.path), file.kind))

    def _stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.is_alive():
            self._proc.kill()
        self._proc.join(timeout=5)
        for q in (self._requests, self._results):
            q.cancel_join_thread()
            q.close()
        self._proc = None
