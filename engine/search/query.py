"""Reading a query: the faces of a photo (the main face first), or the people of a clip."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.appearances.people import group_people, template
from engine.errors import Cancelled, NoFaceError, UnreadableMediaError
from engine.media.finding import MediaFile, media_kind, supported_types
from engine.media.sampling import MediaInfo, SampleOptions, read_media
from engine.models.face_models import FaceModels
from engine.models.faces import FileRead, NewFace, faces_by_file, faces_in, query_order
from engine.results import QueryFace, as_box
from engine.vocabulary import EMBEDDING_DIM, MediaKind

Progress = Callable[[int, int], None]  # frames read so far, frames in all


@dataclass(frozen=True)
class Query:
    path: str
    kind: MediaKind
    faces: tuple[QueryFace, ...]
    templates: np.ndarray  # (len(faces), EMBEDDING_DIM): the vector searched for, per candidate
    together: tuple[str, ...] = ()  # the photos and clips read as this one query, if several


def together(queries: Sequence[Query]) -> Query:
    """Several photos or clips of one person as one query: the main face of each photo (the
    most present person of a clip) averaged into one template, which stands for the person
    better than any one picture of them (their pose, light and expression vary)."""
    if len(queries) == 1:
        return queries[0]
    mains = [q.faces[0] for q in queries]
    first = mains[0]
    face = QueryFace(
        1,
        first.bbox,
        first.t,
        round(float(np.mean([f.prob for f in mains])), 4),
        sum(f.samples for f in mains),
    )
    vector = template(np.stack([q.templates[0] for q in queries]))
    return Query(
        queries[0].path, queries[0].kind, (face,), vector[None, :], tuple(q.path for q in queries)
    )


def read_query(
    path: Path,
    opts: SampleOptions,
    models: FaceModels,
    threshold: float,
    timeout: float = 120.0,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
) -> Query:
    """The faces of a query photo, or the people of a query clip. Reading a clip ends soon
    after `stop` is set (raising Cancelled): its decoder is stopped, no batch is left running.
    `progress(frames read, frames in all)` is told as a clip is read."""
    path = Path(path).expanduser().resolve()
    kind = _check(path)
    seen, info = _faces(path, kind, opts, models, timeout, stop, progress)
    times = np.asarray([f.t for f in seen])
    boxes = np.asarray([f.box for f in seen]).reshape(-1, 4)
    probs = np.asarray([f.prob for f in seen])
    vectors = np.asarray([f.vector for f in seen], np.float32).reshape(-1, EMBEDDING_DIM)
    if not len(vectors):
        raise NoFaceError(
            f"no face found in the query {path.name}",
            "use a photo or clip where a face is clearly visible, at least "
            f"{models.min_face_size} px across",
        )
    if kind == MediaKind.IMAGE:
        assert info is not None
        order = query_order(boxes, info.width, info.height)
        faces = tuple(
            QueryFace(n + 1, as_box(boxes[i]), 0.0, round(float(probs[i]), 4), 1)
            for n, i in enumerate(order)
        )
        return Query(str(path), kind, faces, vectors[order])
    people = group_people(vectors, times, threshold)
    faces = tuple(
        QueryFace(
            n + 1,
            as_box(boxes[g[0]]),
            round(float(times[g[0]]), 3),
            round(float(probs[g].mean()), 4),
            len(np.unique(times[g])),
        )
        for n, g in enumerate(people)
    )
    return Query(str(path), kind, faces, np.stack([template(vectors[g]) for g in people]))


def _check(path: Path) -> MediaKind:
    if not path.is_file():
        raise UnreadableMediaError(f"cannot read the query: {path} does not exist or is not a file")
    kind = media_kind(path)
    if kind is None:
        raise UnreadableMediaError(
            f"the query {path.name} is not a photo or a video", f"ris reads {supported_types()}"
        )
    return kind


def _faces(
    path: Path,
    kind: MediaKind,
    opts: SampleOptions,
    models: FaceModels,
    timeout: float,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
) -> tuple[list[NewFace], MediaInfo | None]:
    """Every face of the query, read as `ris index` reads the same file: a photo here, a clip
    in a decoding worker (its decoder's crashes, hangs and log lines stay there)."""
    seen: list[NewFace] = []
    if kind == MediaKind.VIDEO:
        return _clip_faces(path, opts, models, timeout, stop, progress)
    from PIL import Image

    info: MediaInfo | None = None
    try:
        for part in read_media(path, kind, opts):
            if isinstance(part, MediaInfo):
                info = part
            elif info is not None:
                seen += faces_in(models, part, info, query=True)
    except Image.DecompressionBombError as err:
        raise UnreadableMediaError(
            f"the query {path.name} is too large to read safely: {err}",
            "scale it down (a photo of the face needs no more than a few megapixels)",
        ) from err
    except (OSError, ValueError, RuntimeError) as err:
        from engine.media.decode_worker import describe_decode_error

        raise UnreadableMediaError(
            f"cannot read the query {path.name}: {describe_decode_error(err, kind)}"
        ) from err
    return seen, info


def _clip_faces(
    path: Path,
    opts: SampleOptions,
    models: FaceModels,
    timeout: float,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
) -> tuple[list[NewFace], MediaInfo | None]:
    from engine.media.decoding import Decoder

    st = path.stat()
    clip = MediaFile(path, MediaKind.VIDEO, st.st_size, st.st_mtime_ns)
    decoded = Decoder(opts, timeout=timeout).decode([clip], stop)
    # small batches (4 frames on a CPU): a cancelled query waits for at most one of them
    reads = faces_by_file(decoded, models, models.query_batch, query=True, stop=stop)
    found: list[FileRead] = []
    try:
        for read in reads:
            if stop is not None and stop.is_set():
                raise Cancelled(f"reading the query {path.name} was cancelled")
            if isinstance(read, FileRead):
                found.append(read)
            elif progress is not None and read.file.info is not None:
                progress(read.file.frames, read.file.info.samples)
    finally:
        reads.close()  # its batches and decoder stop with it
    if stop is not None and stop.is_set():
        raise Cancelled(f"reading the query {path.name} was cancelled")
    (read,) = found  # read to the end: the worker stopped
    if read.error:
        raise UnreadableMediaError(f"cannot read the query {path.name}: {read.error}")
    return read.faces, read.info
