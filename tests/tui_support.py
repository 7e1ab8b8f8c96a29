"""A stand-in engine for fast TUI tests: canned results, drawn thumbnails, a scripted index run."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from engine.errors import NoFaceError
from engine.events import FileFailed, FileIndexed, IndexFinished, IndexPlanned, IndexProgressed
from engine.results import (
    Appearance,
    IndexedFile,
    LibraryStatus,
    Moment,
    PhotoHit,
    QueryFace,
    QueryInfo,
    SearchResult,
    Segment,
    VideoHit,
)
from engine.search.query import Query
from engine.vocabulary import MediaKind


def drawn_face(seed: float) -> Image.Image:
    """A deterministic cartoon face, different per seed."""
    im = Image.new("RGB", (64, 64), (40, 60 + int(seed * 7) % 100, 90))
    d = ImageDraw.Draw(im)
    d.ellipse((14, 8, 50, 56), fill=(230, 190, 160))
    d.ellipse((22, 24, 28, 30), fill=(30, 30, 30))
    d.ellipse((36, 24, 42, 30), fill=(30, 30, 30))
    d.arc((24, 34, 40, 46), 0, 180, fill=(150, 40, 40), width=2)
    return im


def video(
    name: str, score: float, duration: float, segments: list[tuple[float, float]]
) -> VideoHit:
    segs = tuple(Segment(a, b, round(score - 0.01 * i, 3)) for i, (a, b) in enumerate(segments))
    matches = tuple(
        Moment(t, (100.0, 80.0, 180.0, 180.0), round(score - 0.001 * k, 3))
        for k, t in enumerate(t for a, b in segments for t in np.arange(a, b, 0.5))
    )
    return VideoHit(f"/archive/{name}", score, duration, segs, matches)


def canned_result(path: str, faces: int = 1, chosen: int = 1) -> SearchResult:
    videos = (
        video("aoc/interview_1.mp4", 0.812, 12.0, [(0.0, 12.0)]),
        video("aoc/interview_2.mp4", 0.774, 33.5, [(0.0, 8.5), (14.0, 20.0), (28.0, 33.5)]),
        video("aoc/town_hall.mp4", 0.702, 61.0, [(5.0, 9.0)]),
    )
    photos = (
        PhotoHit("/archive/photos/aoc_portrait.jpg", 0.791, (10.0, 10.0, 60.0, 60.0)),
        PhotoHit("/archive/photos/rally.png", 0.655, (5.0, 5.0, 40.0, 40.0)),
    )
    candidates = tuple(
        QueryFace(n, (0.0, 0.0, 100.0 - 10 * n, 100.0 - 10 * n), 0.0, 0.99, 1)
        for n in range(1, faces + 1)
    )
    if "maybe" in path:  # with possible matches below the threshold, as the engine gives them
        blurry = video("archive/blurry.mp4", 0.312, 20.0, [(3.0, 6.0)])
        videos = (*videos, replace(blurry, possible=True))
        photos = (*photos, PhotoHit("/archive/photos/far.jpg", 0.301, (1.0, 1.0, 9.0, 9.0), True))
        info = QueryInfo(path, "image", candidates, chosen)
        return SearchResult(info, 0.45, videos, photos, possible=0.2)
    if "away" in path:  # a shared library searched where its share is not mounted
        videos = tuple(replace(v, reachable=False) for v in videos)
        photos = tuple(replace(p, reachable=False) for p in photos)
    return SearchResult(QueryInfo(path, "image", candidates, chosen), 0.45, videos, photos)


class FakeBackend:
    """Answers like the real Backend, instantly (or after `delay` seconds)."""

    def __init__(self, data_dir: Path = Path("/archive/.ris"), faces: int = 1, delay: float = 0.0):
        self.data_dir = data_dir
        self.faces = faces
        self.delay = delay
        self.searches: list[tuple[str, int]] = []
        self.settings: list[tuple[float | None, int | None]] = []  # threshold, top asked for
        self.models_loaded = True
        self.indexed: list[str] = []

    def read_query(self, path: Path, stop: threading.Event | None = None, progress=None) -> Query:  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        if "noface" in path.name:
            raise NoFaceError(
                f"no face found in the query {path.name}",
                "use a photo where a face is clearly visible",
            )
        faces = canned_result(str(path), self.faces).query.faces
        return Query(str(path), "image", faces, np.zeros((len(faces), 512), np.float32))

    def read_together(self, paths: Sequence[Path], stop=None, progress=None) -> Query:  # type: ignore[no-untyped-def]
        self.read_as_one = [str(p) for p in paths]
        one = self.read_query(paths[0])
        return replace(one, together=tuple(self.read_as_one))

    def load_models(self) -> None:
        self.models_loaded = True

    def search(
        self, query: Query, face: int, threshold: float | None = None, top: int | None = None
    ) -> SearchResult:
        self.searches.append((query.path, face))
        self.settings.append((threshold, top))
        result = canned_result(query.path, len(query.faces), face)
        result = replace(result, query=replace(result.query, together=query.together))
        return result if threshold is None else replace(result, threshold=threshold)

    def status(self) -> LibraryStatus:
        return LibraryStatus(
            str(self.data_dir),
            "casia-webface.pt",
            3,
            2,
            41,
            (FileFailed("/archive/broken.mp4", "cannot decode the video: moov atom not found"),),
            (("/archive/aoc/interview_1.mp4", "indexed", 24),),
            "milvus http://milvus.archive:19530 (collection ris_faces)",
        )

    def thumbnails(self, path: str, moments: Sequence) -> list[Image.Image]:
        return [drawn_face(t) for t, _ in moments]

    def photo(self, path: str, box: object) -> tuple[Image.Image, Image.Image]:
        return drawn_face(0.0), drawn_face(len(path)).resize((96, 64))

    sample_step = 0.5
    library = (
        IndexedFile("/archive/aoc/interview_1.mp4", MediaKind.VIDEO, 24, 12.0),
        IndexedFile("/archive/aoc/interview_2.mp4", MediaKind.VIDEO, 30, 33.5),
        IndexedFile("/archive/photos/rally.png", MediaKind.IMAGE, 3, None),
    )

    def indexed_files(self) -> tuple[IndexedFile, ...]:
        return self.library

    def shot_cuts(self, path: str) -> tuple[float, ...]:
        return (12.0,) if path.endswith("interview_2.mp4") else ()

    def appearances(self, path: str) -> tuple[Appearance, ...]:
        if path.endswith(".png"):
            spans = [(0.0, 0.0)] * 3
        else:
            spans = [(0.0, 4.5), (6.0, 11.5)] if "_1" in path else [(1.0, 8.5), (14.0, 20.0)]
        out = []
        for a, b in spans:
            faces = tuple(
                Moment(float(t), (100.0, 80.0, 180.0, 180.0), 0.0)
                for t in np.arange(a, b + 0.1, 0.5)
            )
            out.append(Appearance(a, b, faces, faces[len(faces) // 2]))
        return tuple(out)

    def forget(self, paths: Sequence[str]) -> int:
        held = [f for f in self.library if f.path in paths]
        self.library = tuple(f for f in self.library if f.path not in paths)
        self.forgotten = [*getattr(self, "forgotten", []), *paths]
        return len(held)

    def frame(self, path: str, t: float, box: object = None) -> Image.Image:
        return drawn_face(t).resize((320, 180))

    def save_frame(self, path: str, t: float, out: Path) -> Path:
        self.frame(path, t).save(out)
        return out

    def save_clip(self, path: str, start: float, end: float, out: Path, stop=None, progress=None):  # type: ignore[no-untyped-def]
        out.write_bytes(f"{path} {start} {end}".encode())
        return out

    files_to_index = 50

    def index(self, paths: Sequence[Path], cancel: threading.Event) -> Iterator:
        files = [f"/archive/new/{i}.mp4" for i in range(self.files_to_index)]
        yield IndexPlanned(len(files), len(files), 0, 0, 50_000)
        t0 = time.monotonic()
        for i, f in enumerate(files):
            if cancel.is_set():
                return
            time.sleep(0.05)
            self.indexed.append(f)
            yield FileIndexed(f, "video", 10, 2)
            yield IndexProgressed(
                i + 1,
                len(files),
                (i + 1) * 1000,
                50_000,
                10 * (i + 1),
                2 * (i + 1),
                f,
                frames_expected=10 * len(files),
            )
        yield IndexFinished(len(files), 0, 0, 0, 500, 100, time.monotonic() - t0)
