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
