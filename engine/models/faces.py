"""The faces ris sees in decoded frames, as the index and a query both read them.

One function turns a chunk of decoded frames into faces (detected, gated, cropped, embedded,
boxes mapped back to the file's own pixels), so a face embeds the same whether it is indexed
or searched for.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from engine.appearances.frame_sketches import FrameSketches, sketch
from engine.results import Box
from engine.stage_clock import StageClock

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator

    from engine.media.decoding import Decoded
    from engine.media.finding import MediaFile
    from engine.media.sampling import FrameChunk, MediaInfo
    from engine.models.face_boxes import Detection
    from engine.models.face_models import FaceModels


@dataclass(frozen=True)
class NewFace:
    """A face seen in a file, before the catalog gives it an id."""

    t: float  # seconds into the file (0 for a photo)
    box: Box  # x1, y1, x2, y2 in the file's own pixels
    prob: float  # detection probability
    vector: np.ndarray  # (EMBEDDING_DIM,) float32, unit length
    track: int = 0  # appearance within the file (see tracking.py)


def faces_in(
    models: FaceModels, chunk: FrameChunk, info: MediaInfo, query: bool = False
) -> list[NewFace]:
    """Every face that passes the detector's gates in a chunk of one file's frames; `query`:
    a query photo's (see `FaceModels.query_faces`)."""
    read = models.query_faces if query else models.faces
    found, vectors = read(chunk.frames, info.scale)
    return [
        _face(det, vec, chunk.times[det.frame], info.scale)
        for det, vec in zip(found, vectors, strict=True)
    ]


def _face(det: Detection, vector: np.ndarray, t: float, scale: float) -> NewFace:
    x1, y1, x2, y2 = (float(v) for v in det.box * scale)
    return NewFace(float(t), (x1, y1, x2, y2), det.prob, vector)


@dataclass
class FileRead:
    """A file read to its end or failure: what decoding said of it (None if it never did),
    its faces, and why it failed (None when it was read to the end)."""

    file: MediaFile
    info: MediaInfo | None = None
    faces: list[NewFace] = field(default_factory=list)
    error: str | None = None
    ended: bool = False
    frames: int = 0  # frames of it looked at so far
    queued: int = 0  # chunks of it waiting for the detector
    sketched: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # a video's
    sketched_size: tuple[float, float] = (0.0, 0.0)  # its frames' width, height in its pixels

    def sketches(self) -> FrameSketches | None:
        """A video's frame sketches (see `frame_sketches`), in its own pixels; None for a photo."""
        if self.info is None or self.info.step is None:
            return None
        return FrameSketches.of(self.sketched, *self.sketched_size)


@dataclass(frozen=True)
class FramesRead:
    """Progress within a file: `frames` more of its frames looked at, `faces` more found."""

    file: FileRead
    frames: int
    faces: int


def faces_by_file(
    events: Iterable[Decoded],
    models: FaceModels,
    batch: int = 16,
    clock: StageClock | None = None,
    threads: int = 1,
    query: bool = False,
    stop: threading.Event | None = None,
) -> Generator[FileRead | FramesRead, None, None]:
    """A decoder's events, file by file, each file whole once read (FileRead), as files end
    (not in the order given), with progress between (FramesRead).

    Frames of several files go to the detector together, `batch` or more at a time (grouped by
    size, as a batch must be), so that many short files, or photos, keep a GPU as busy as one
    long video does. Batches are detected in `threads` threads while this one goes on reading
    the decoders (and a GPU works on one batch while the host prepares the next). `query`: a
    query clip's frames (see `FaceModels.query_faces`). Once `stop` is set, a batch waiting
    for a thread is not begun: a cancel waits for at most the batch already on the models.
    """
    clock = clock or StageClock()
    open_files: dict[int, FileRead] = {}  # by id of the MediaFile: files interleave
    queued: dict[tuple[int, ...], list[tuple[FileRead, FrameChunk]]] = {}  # by frame size
    flight: deque[_Batch] = deque()
    pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="ris-detect")

    def send(group: list[tuple[FileRead, FrameChunk]]) -> Iterator[FramesRead]:
        live = [item for item in group if item[0].error is None]  # not failed meanwhile
        work = pool.submit(_faces, live, models, clock, query, stop)
        flight.append(_Batch(group, live, work))
        while len(flight) > threads + 1:
            yield from _settle(flight.popleft(), models, clock, query)

    try:
        for ev in clock.timed("decode", iter(events)):
            current = open_files.setdefault(id(ev.file), FileRead(ev.file))
            if ev.info is not None:
                current.info = ev.info
            elif ev.chunk is not None:
                clock.busy["decode"] += ev.chunk.seconds
                if current.info is not None:
                    current.queued += 1
                    size = ev.chunk.frames.shape[1:]
                    group = queued.setdefault(size, [])
                    group.append((current, ev.chunk))
                    if _frames(group) >= batch:  # a full batch of one size
                        yield from send(queued.pop(size))
                    elif sum(_frames(g) for g in queued.values()) >= 3 * batch:
                        for size in list(queued):  # memory (and files waiting) stay bounded
                            yield from send(queued.pop(size))
            else:
                current.ended, current.error = True, ev.error
            while flight and flight[0].result.done():
                yield from _settle(flight.popleft(), models, clock, query)
            for key in [k for k, f in open_files.items() if f.ended and f.queued == 0]:
                yield open_files.pop(key)
        for group in list(queued.values()):
            yield from send(group)
        while flight:
            yield from _settle(flight.popleft(), models, clock, query)
        yield from open_files.values()
    finally:  # done, failed or cancelled: no batch is left running, the decoders stop
        pool.shutdown(wait=True, cancel_futures=True)
        close = getattr(events, "close", None)
        if close is not None:
            close()


@dataclass
class _Batch:
    group: list[tuple[FileRead, FrameChunk]]  # the chunks sent
    live: list[tuple[FileRead, FrameChunk]]  # those of files not failed when it was sent
    result: Future[tuple[list[list[NewFace]], list[np.ndarray | None]]]


def _frames(group: list[tuple[FileRead, FrameChunk]]) -> int:
    return sum(len(c.times) for _, c in group)


def _settle(
    batch: _Batch, models: FaceModels, clock: StageClock, query: bool = False
) -> Iterator[FramesRead]:
    """A batch's faces given to their files. A batch that failed is tried again file by
    file, so that one bad file fails alone."""
    done = []
    if batch.live:
        try:
            done = [(batch.live, batch.result.result())]
        except (RuntimeError, ValueError, IndexError):
            for file in dict.fromkeys(f for f, _ in batch.live):
                mine = [x for x in batch.live if x[0] is file]
                try:
                    done.append((mine, _faces(mine, models, clock, query)))
                except (RuntimeError, ValueError, IndexError) as err:
                    file.error = f"face detection failed: {type(err).__name__}: {err}"[:200]
    for items, (found, sketches) in done:
        for (f, chunk), faces, sketched in zip(items, found, sketches, strict=True):
            f.faces += faces
            f.frames += len(chunk.times)
            if sketched is not None:  # a video's: see frame_sketches
                f.sketched.append((chunk.times, sketched))
                _, high, wide, _ = chunk.frames.shape
                f.sketched_size = (wide * _scale(f), high * _scale(f))
            yield FramesRead(f, len(chunk.times), len(faces))
    for f, _ in batch.group:
        f.queued -= 1


def _faces(
    items: list[tuple[FileRead, FrameChunk]],
    models: FaceModels,
    clock: StageClock,
    query: bool = False,
    stop: threading.Event | None = None,
) -> tuple[list[list[NewFace]], list[np.ndarray | None]]:
    """The faces of each chunk, detected and embedded as one batch (none once `stop` is set:
    the work was cancelled while the batch waited for a thread), and a video's chunks' frame
    sketches (here, in a detect thread: they cost a little of each frame)."""
    if not items or (stop is not None and stop.is_set()):
        return [[] for _ in items], [None for _ in items]
    sketches = [sketch(c.frames) if _is_video(f) else None for f, c in items]
    frames = np.concatenate([c.frames for _, c in items]) if len(items) > 1 else items[0][1].frames
    scales = np.concatenate([np.full(len(c.times), _scale(f)) for f, c in items])
    found, vectors = (models.query_faces if query else models.faces)(frames, scales, clock)
    owner = np.concatenate([np.full(len(c.times), k) for k, (_, c) in enumerate(items)])
    first = np.cumsum([0] + [len(c.times) for _, c in items])
    out: list[list[NewFace]] = [[] for _ in items]
    for det, vec in zip(found, vectors, strict=True):
        k = int(owner[det.frame])
        f, chunk = items[k]
        t = chunk.times[det.frame - first[k]]
        out[k].append(_face(det, vec, t, _scale(f)))
    return out, sketches


def _is_video(f: FileRead) -> bool:
    return f.info is not None and f.info.step is not None


def _scale(f: FileRead) -> float:
    assert f.info is not None  # only files decoding described have frames queued
    return f.info.scale


def query_order(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """The faces of a photo, the one a query means first (indices into `boxes`).

    Sandberg's rule, as facenet-pytorch's `center_weighted_size`, on the part of each box inside
    the photo: visible area minus twice the squared distance of its centre from the photo's.
    MTCNN extends the box of a face cut by the frame far past it, so a bystander half out of
    the picture would otherwise look largest; on the LFW dev pairs this choice lifts ris from
    0.956 to 0.98 (README, "How good it is").
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x1, x2 = np.clip(boxes[:, 0], 0, width), np.clip(boxes[:, 2], 0, width)
    y1, y2 = np.clip(boxes[:, 1], 0, height), np.clip(boxes[:, 3], 0, height)
    visible = (x2 - x1) * (y2 - y1)
    offset = ((x1 + x2) / 2 - width / 2) ** 2 + ((y1 + y2) / 2 - height / 2) ** 2
    return np.argsort(-(visible - 2 * offset), kind="stable")


def largest_first(boxes: np.ndarray) -> np.ndarray:
    """The faces by raw box area, largest first: ris's rule before `query_order` (kept for
    `ris eval`'s before/after rows)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), kind="stable")
