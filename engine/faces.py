"""The faces ris sees in decoded frames, as the index and a query both read them.

One function turns a chunk of decoded frames into faces (detected, gated, cropped, embedded,
boxes mapped back to the file's own pixels), so a face embeds the same whether it is indexed
or searched for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .results import Box

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from .decoding import Decoded
    from .media import MediaFile
    from .models import FaceModels
    from .sampling import FrameChunk, MediaInfo


@dataclass(frozen=True)
class NewFace:
    """A face seen in a file, before the catalog gives it an id."""

    t: float  # seconds into the file (0 for a photo)
    box: Box  # x1, y1, x2, y2 in the file's own pixels
    prob: float  # detection probability
    vector: np.ndarray  # (EMBEDDING_DIM,) float32, unit length
    track: int = 0  # appearance within the file (see tracking.py)


def faces_in(models: FaceModels, chunk: FrameChunk, info: MediaInfo) -> list[NewFace]:
    """Every face that passes the detector's gates in a chunk of one file's frames."""
    found, vectors = models.faces(chunk.frames, info.scale)
    faces = []
    for det, vec in zip(found, vectors, strict=True):
        x1, y1, x2, y2 = (float(v) for v in det.box * info.scale)
        faces.append(NewFace(float(chunk.times[det.frame]), (x1, y1, x2, y2), det.prob, vec))
    return faces


def faces_by_file(
    events: Iterable[Decoded], models: FaceModels
) -> Iterator[tuple[MediaFile, MediaInfo | None, list[NewFace], str | None]]:
    """A decoder's events, file by file: the file, what decoding said of it (None if it never
    did), its faces, and why it failed (None when it was read to the end)."""
    info: MediaInfo | None = None
    seen: list[NewFace] = []
    for ev in events:
        if ev.info is not None:
            info, seen = ev.info, []
        elif ev.chunk is not None and info is not None:
            seen += faces_in(models, ev.chunk, info)
        elif ev.chunk is None:
            yield ev.file, info, seen, ev.error
            info, seen = None, []


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
