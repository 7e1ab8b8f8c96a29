"""Reading a query: the faces of a photo (largest first), or the people of a clip."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import NoFaceError, UnreadableMediaError
from .media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, media_kind
from .models import FaceModels
from .people import group_people, template
from .results import QueryFace, as_box
from .sampling import FrameChunk, MediaInfo, SampleOptions, read_media


@dataclass(frozen=True)
class Query:
    path: str
    kind: str
    faces: tuple[QueryFace, ...]
    templates: np.ndarray  # (len(faces), 512): the vector searched for, per candidate


def read_query(path: Path, opts: SampleOptions, models: FaceModels, threshold: float) -> Query:
    path = Path(path).expanduser().resolve()
    kind = _check(path)
    times, boxes, probs, vectors = _faces(path, kind, opts, models)
    if not len(vectors):
        raise NoFaceError(
            f"no face found in the query {path.name}",
            "use a photo or clip where a face is clearly visible, at least "
            f"{models.min_face_size} px across",
        )
    if kind == "image":
        order = np.argsort(
            -(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), kind="stable"
        )
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


def _check(path: Path) -> str:
    if not path.is_file():
        raise UnreadableMediaError(f"cannot read the query: {path} does not exist or is not a file")
    kind = media_kind(path)
    if kind is None:
        exts = " ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))
        raise UnreadableMediaError(
            f"the query {path.name} is not a photo or a video", f"ris reads {exts}"
        )
    return kind


def _faces(path: Path, kind: str, opts: SampleOptions, models: FaceModels):  # type: ignore[no-untyped-def]
    times, boxes, probs, vectors = [], [], [], []
    info: MediaInfo | None = None
    try:
        for part in read_media(path, kind, opts):
            if isinstance(part, MediaInfo):
                info = part
                continue
            assert info is not None and isinstance(part, FrameChunk)
            found, vecs = models.faces(part.frames, info.scale)
            for det, vec in zip(found, vecs, strict=True):
                times.append(float(part.times[det.frame]))
                boxes.append(det.box * info.scale)
                probs.append(det.prob)
                vectors.append(vec)
    except (OSError, ValueError, RuntimeError) as err:
        from .decoding import describe_decode_error

        raise UnreadableMediaError(
            f"cannot read the query {path.name}: {describe_decode_error(err, kind)}"
        ) from err
    return (
        np.asarray(times),
        np.asarray(boxes).reshape(-1, 4),
        np.asarray(probs),
        np.asarray(vectors, dtype=np.float32).reshape(-1, 512),
    )
