"""The decoding worker: a child process that reads photos and videos for the indexer.

    python -m engine.media.decode_worker PARENT_PID RATE MIN_FRAMES MAX_SIDE CHUNK [FRAMES_DIR AHEAD]

It reads requests `(path, kind)` from its standard input and answers on a private copy of its
standard output, one pickled message at a time: the file's `MediaInfo`, its `FrameChunk`s, then
`"done"` or `("error", reason)`. Given FRAMES_DIR, a chunk's frames are written to a file
there and the message names it (engine/frame_files.py), at most AHEAD unread. A request of None, or the end of its input, ends it. It runs in a process of its own so that a decoder that hangs or crashes (decord does on
some damaged files) costs one file, never the run; it dies with the process that started it
(Linux's parent-death signal), and decord's and ffmpeg's own messages go to a log it reads back
for the reasons it reports, never to the terminal.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from engine.media.sampling import FrameChunk, SampleOptions, read_media
from engine.media.shared_frames import FrameWriter
from engine.vocabulary import MediaKind


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


def die_with_parent(parent: int) -> None:
    """Be killed when the parent dies, however it dies (Linux); exit now if it already has."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(0)


def _private_channels() -> tuple[Connection, Connection, Any]:
    """Requests on fd 0; answers on a copy of fd 1; fds 1 and 2 then go to a log file, so that
    native libraries can write nothing into the answers or onto the user's terminal."""
    answers = Connection(os.dup(1), readable=False)
    requests = Connection(os.dup(0), writable=False)
    log = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 (lives as long as the worker)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    return requests, answers, log


def serve(
    requests: Connection,
    answers: Connection,
    log: Any,
    opts: SampleOptions,
    writer: FrameWriter | None = None,
) -> None:
    while True:
        try:
            item = requests.recv()
        except EOFError:
            return
        if item is None:
            return
        path, kind = item
        start = log.seek(0, os.SEEK_END)
        try:
            for part in read_media(Path(path), MediaKind(kind), opts):
                if writer is not None and isinstance(part, FrameChunk):
                    written = writer.write(part.times, part.frames, part.seconds)
                    answers.send(part if written is None else written)
                else:
                    answers.send(part)
            answers.send("done")
        except (BrokenPipeError, ConnectionResetError):
            return  # the parent has gone
        except Exception as err:  # any decoder failure is this file's, not the run's
            log.seek(start)
            native = log.read().decode("utf-8", "replace")
            answers.send(("error", describe_decode_error(err, kind, native)))


def main(argv: list[str]) -> None:
    parent, rate, min_frames, max_side, chunk = argv[:5]
    writer = FrameWriter(Path(argv[5]), int(argv[6])) if len(argv) > 6 else None
    die_with_parent(int(parent))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if hasattr(signal, "SIGXFSZ"):  # a file size limit fails a write (then the pipe is used)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    requests, answers, log = _private_channels()
    serve(
        requests,
        answers,
        log,
        SampleOptions(float(rate), int(min_frames), int(max_side), int(chunk)),
        writer,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
