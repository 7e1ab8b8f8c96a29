"""A file's appearances as people are grouped from them: each track of a video (one person's
stretch on screen) and each face of a photo, summed up as one quality-weighted template, its
time on screen and its best face.

The template weighs each face by how much of it lies inside the frame (a face cut by the edge
embeds unlike the same face whole, as in matching) times its detection confidence, so a track's
few bad frames do not pull it towards a stranger. The best face, the one shown for a person, is
the largest whole face of the track."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.library.catalog import FaceRows, FileRecord
from engine.search.matching import visible_share
from engine.vocabulary import EMBEDDING_DIM, MediaKind


@dataclass(frozen=True)
class Appearances:
    """Appearances as parallel arrays (one row each)."""

    files: np.ndarray  # file id
    tracks: np.ndarray  # track within the file
    vectors: np.ndarray  # (N, EMBEDDING_DIM) unit float32: the weighted mean of its faces
    faces: np.ndarray  # how many sampled faces
    starts: np.ndarray  # seconds (0 for a photo)
    ends: np.ndarray
    best: np.ndarray  # face id of its best face

    def __len__(self) -> int:
        return len(self.files)

    @staticmethod
    def empty() -> Appearances:
        z = np.zeros(0, np.int64)
        return Appearances(
            z, z, np.zeros((0, EMBEDDING_DIM), np.float32), z, z.astype(float), z.astype(float), z
        )

    @staticmethod
    def joined(parts: list[Appearances]) -> Appearances:
        if not parts:
            return Appearances.empty()
        return Appearances(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in Appearances.__dataclass_fields__
            )
        )

    def take(self, rows: np.ndarray) -> Appearances:
        return Appearances(*(getattr(self, f)[rows] for f in Appearances.__dataclass_fields__))

    def seconds(self) -> np.ndarray:
        """Time on screen of each appearance (0 for a photo's face)."""
        return self.ends - self.starts


def file_appearances(record: FileRecord, faces: FaceRows) -> Appearances:
    """The appearances of one indexed file from its faces (with vectors)."""
    if not len(faces.ids):
        return Appearances.empty()
    assert faces.vectors is not None
    w = np.full(len(faces.ids), float(record.width or 0))
    h = np.full(len(faces.ids), float(record.height or 0))
    boxes = np.asarray(faces.boxes, np.float64).reshape(-1, 4)
    whole = visible_share(boxes, w, h)
    area = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    tracks, which = np.unique(faces.tracks, return_inverse=True)
    n = len(tracks)
    weights = np.maximum(whole**2, 1e-3)
    sums = np.zeros((n, faces.vectors.shape[1]), np.float64)
    np.add.at(sums, which, faces.vectors.astype(np.float64) * weights[:, None])
    vectors = (sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)).astype(
        np.float32
    )
    counts = np.bincount(which, minlength=n)
    step = record.step or 0.0
    video = record.kind == MediaKind.VIDEO
    starts = np.full(n, np.inf)
    ends = np.full(n, -np.inf)
    np.minimum.at(starts, which, faces.times)
    np.maximum.at(ends, which, faces.times)
    if video:
        starts = np.maximum(starts - step / 2, 0.0)
        ends = ends + step / 2
        if record.duration:
            ends = np.minimum(ends, record.duration)
    else:
        starts = np.zeros(n)
        ends = np.zeros(n)
    merit = area * whole
    best = np.zeros(n, np.int64)
    order = np.lexsort((-merit, which))  # by track, best first
    first = np.r_[True, which[order][1:] != which[order][:-1]]
    best[which[order][first]] = faces.ids[order][first]
    return Appearances(
        np.full(n, record.id, np.int64),
        tracks.astype(np.int64),
        vectors,
        counts.astype(np.int64),
        starts,
        ends,
        best,
    )
