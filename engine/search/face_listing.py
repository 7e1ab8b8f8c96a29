"""Every face ris sees in photos and videos, with its embedding: what `ris faces` prints.

It runs the index pipeline itself (the same decoding workers, detector, crop and embedder), so
what it prints is what a library holds for the same file, and marks the face a query would
search for, so other tools (numpy, pandas, a notebook) can use ris's faces and check its
accuracy from outside.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.appearances.people import group_people
from engine.media.decoding import Decoder
from engine.media.finding import MediaFile, WalkProblem, supported_types, walk
from engine.media.sampling import MediaInfo, SampleOptions
from engine.models.face_models import FaceModels
from engine.models.faces import FileRead, NewFace, faces_by_file, query_order
from engine.results import Box, as_box
from engine.vocabulary import MediaKind


@dataclass(frozen=True)
class SeenFace:
    t: float  # seconds into the file (0 for a photo)
    bbox: Box  # x1, y1, x2, y2 in the file's own pixels, as search results give them
    prob: float
    chosen: bool  # the face a photo query searches for; in a clip, the person a clip query does
    embedding: np.ndarray  # (EMBEDDING_DIM,) float32, unit length


@dataclass(frozen=True)
class FileFaces:
    path: str
    kind: MediaKind
    width: int | None
    height: int | None
    faces: tuple[SeenFace, ...]
    error: str | None = None  # why the file could not be read; then there are no faces

    def to_json(self) -> dict:
        """One JSON Lines document (README, `ris faces`)."""
        doc: dict = {
            "path": self.path,
            "kind": str(self.kind),
            "width": self.width,
            "height": self.height,
            "faces": [
                {
                    "t": round(f.t, 3),
                    "bbox": list(f.bbox),
                    "prob": round(f.prob, 4),
                    "chosen": f.chosen,
                    "embedding": [round(float(v), 7) for v in f.embedding],
                }
                for f in self.faces
            ],
        }
        if self.error:
            doc["error"] = self.error
        return doc


def list_faces(
    paths: Sequence[Path],
    opts: SampleOptions,
    models: FaceModels,
    threshold: float,
    timeout: float,
    workers: int = 1,
) -> Iterator[FileFaces]:
    """The faces of every photo and video under `paths`, file by file, in walk order."""
    files: list[MediaFile] = []
    for item in walk(paths):
        if isinstance(item, WalkProblem):
            yield FileFaces(str(item.path), MediaKind.UNKNOWN, None, None, (), item.reason)
        elif item.kind == MediaKind.UNKNOWN:
            reason = f"not a supported photo or video type (ris reads {supported_types()})"
            yield FileFaces(str(item.path), item.kind, None, None, (), reason)
        else:
            files.append(item)
    decoded = Decoder(opts, timeout=timeout, workers=workers).decode(files)
    waiting: dict[int, FileRead] = {}  # read, not yet due: files finish in any order
    due = 0
    reads = faces_by_file(decoded, models, models.frame_batch, threads=models.detect_threads)
    for read in reads:
        if not isinstance(read, FileRead):
            continue  # progress within a file
        waiting[id(read.file)] = read
        while due < len(files) and id(files[due]) in waiting:
            yield _listed(waiting.pop(id(files[due])), threshold)
            due += 1


def _listed(read: FileRead, threshold: float) -> FileFaces:
    file, info = read.file, read.info
    if read.error or info is None:
        return FileFaces(str(file.path), file.kind, None, None, (), read.error)
    faces = _marked(read.faces, info, threshold)
    return FileFaces(str(file.path), info.kind, info.width, info.height, faces)


def _marked(seen: list[NewFace], info: MediaInfo, threshold: float) -> tuple[SeenFace, ...]:
    if not seen:
        return ()
    chosen = np.zeros(len(seen), bool)
    if info.kind == MediaKind.IMAGE:
        chosen[query_order(np.asarray([f.box for f in seen]), info.width, info.height)[0]] = True
    else:
        vectors = np.stack([f.vector for f in seen])
        times = np.asarray([f.t for f in seen])
        chosen[group_people(vectors, times, threshold)[0]] = True
    return tuple(
        SeenFace(f.t, as_box(f.box), f.prob, bool(c), np.asarray(f.vector, np.float32))
        for f, c in zip(seen, chosen, strict=True)
    )
