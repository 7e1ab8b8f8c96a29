"""The TUI's one door into the engine: the only module of ris_tui that imports the engine at run
time (the others import its result types for type checking only).

`Backend` wraps one `Engine`. Every method blocks: call them from worker threads. The engine's
heavy parts (torch, decord, the models) load on first use, so the app draws its first screen at
once. An index run has its own catalog connection and store inside the engine, so searches may
go on while it runs and see each file once it is committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

# light modules only (no torch, decord or numpy): what the app needs to tell results apart
from engine.errors import EngineError, NothingIndexed
from engine.events import FileFailed, FileIndexed, IndexFinished, IndexPlanned, IndexProgressed
from engine.media.finding import media_kind
from engine.printable_names import printable
from engine.settings import Settings, add_flag
from engine.timecodes import clock
from engine.vocabulary import MediaKind

if TYPE_CHECKING:
    from PIL import Image

    from engine.api import Engine
    from engine.events import IndexEvent
    from engine.results import (
        Appearance,
        Box,
        IndexedFile,
        LibraryStatus,
        PeopleList,
        Person,
        PersonFile,
        SearchResult,
        VideoHit,
    )
    from engine.search.query import Query

__all__ = [
    "Backend",
    "add_flag",
    "as_video",  # the flags of the engine's settings, as `ris` has them
    "EngineError",
    "NothingIndexed",
    "FileFailed",
    "FileIndexed",
    "IndexFinished",
    "IndexPlanned",
    "IndexProgressed",
    "clock",
    "is_media",
    "is_photo",
    "person_video",
    "printable",
    "settings_from",
]


def settings_from(
    data_dir: Path | None = None,
    backend: str | None = None,
    milvus_uri: str | None = None,
    catalog: str | None = None,
) -> Settings:
    """The engine's settings: RIS_* variables, then what the command line gave."""
    return Settings.from_env(
        data_dir=data_dir, backend=backend, milvus_uri=milvus_uri, catalog=catalog
    )


def as_video(f: IndexedFile, appearances: Sequence[Appearance]) -> VideoHit:
    """An indexed file as a result whose segments are its appearances (for the moment view)."""
    from engine.results import Segment, VideoHit

    segments = tuple(Segment(a.start, a.end, 0.0) for a in appearances)
    faces = tuple(sorted((m for a in appearances for m in a.faces), key=lambda m: m.t))
    return VideoHit(f.path, 0.0, f.duration or 0.0, segments, faces, reachable=f.reachable)


def person_video(f: PersonFile) -> VideoHit:
    """A person's file as a result whose segments are theirs (a photo: one at 0)."""
    from engine.results import Segment, VideoHit

    segments = tuple(Segment(s, e, 0.0) for s, e in f.segments) or (Segment(0.0, 0.0, 0.0),)
    return VideoHit(f.path, 0.0, f.duration or 0.0, segments, ())


def is_media(path: str | Path) -> bool:
    """A photo or video ris reads (by its name)."""
    return media_kind(Path(path)) is not None


def is_photo(path: str | Path) -> bool:
    return media_kind(Path(path)) == MediaKind.IMAGE


class Backend:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or settings_from()
        self._engine: Engine | None = None
        self._lock = threading.Lock()  # one search or status read at a time

    def _get_engine(self) -> Engine:
        if self._engine is None:
            from engine.api import build_engine

            self._engine = build_engine(self.settings)
        return self._engine

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    @property
    def models_loaded(self) -> bool:
        return self._engine is not None and self._engine.models_loaded

    def load_models(self) -> None:
        """Load the face models now (ris-tui does it behind its first screen), so the first
        search does not wait for them; a search started meanwhile waits for this load."""
        with self._lock:
            self._get_engine().load_models()

    def read_query(
        self,
        path: Path,
        stop: threading.Event | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Query:
        """The query's faces or people; a clip's reading ends soon after `stop` is set and
        tells `progress(frames read, frames in all)` as it goes (from this thread)."""
        with self._lock:
            return self._get_engine().read_query(path, stop, progress)

    def read_together(
        self,
        paths: Sequence[Path],
        stop: threading.Event | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Query:
        """Several photos or clips of one person as one query (their main faces averaged)."""
        with self._lock:
            return self._get_engine().read_together(paths, stop, progress)

    def search(
        self, query: Query, face: int, threshold: float | None = None, top: int | None = None
    ) -> SearchResult:
        """The query's face `face` searched for; None: the library's threshold and top."""
        with self._lock:
            return self._get_engine().search(query, face=face, threshold=threshold, top=top)

    def status(self) -> LibraryStatus:
        with self._lock:
            return self._get_engine().status()

    def indexed_files(self) -> tuple[IndexedFile, ...]:
        with self._lock:
            return self._get_engine().indexed_files()

    def appearances(self, path: str) -> tuple[Appearance, ...]:
        with self._lock:
            return self._get_engine().appearances(path)

    def shot_cuts(self, path: str) -> tuple[float, ...]:
        with self._lock:
            return self._get_engine().shot_cuts(path)

    def forget(self, paths: Sequence[str]) -> int:
        """Take files out of the index (their faces and vectors; the files stay)."""
        with self._lock:
            return self._get_engine().forget(paths)

    # people across the library (engine/people/): ids are passed as text, as `ris people` takes
    def people(self) -> PeopleList:
        """Everyone, most time on screen first, brought up to date with the library first."""
        with self._lock:
            return self._get_engine().people()

    def person(self, ref: str) -> Person:
        """One person with their files and segments."""
        with self._lock:
            return self._get_engine().person(ref)

    def name_person(self, ref: str, name: str | None) -> Person:
        with self._lock:
            return self._get_engine().name_person(ref, name)

    def merge_people(self, into: str, other: str) -> Person:
        with self._lock:
            return self._get_engine().merge_people(into, other)

    def take_out(self, ref: str, path: str, t: float | None) -> Person:
        """The person's appearance in `path` (at `t` in a video) is not theirs, for good."""
        with self._lock:
            return self._get_engine().take_out(ref, path, t)

    def person_query(self, ref: str) -> Query:
        """A query standing for the person: their template."""
        with self._lock:
            return self._get_engine().person_query(ref)

    def thumbnails(self, path: str, moments: Sequence[tuple[float, Box]]) -> list[Image.Image]:
        # no lock: decoding a few frames needs nothing the other calls use
        from engine.search.thumbnails import face_thumbnails

        return face_thumbnails(Path(path), moments)

    def photo(self, path: str, box: Box) -> tuple[Image.Image, Image.Image]:
        """A matched photo's face crop and the whole photo with that face boxed, upright, from
        one decode."""
        from engine.search.thumbnails import boxed, crop_face, frames_at

        frame = frames_at(Path(path), [0.0])[0]
        return crop_face(frame, box), boxed(frame, box)

    @property
    def sample_step(self) -> float:
        """Seconds between the frames sampled from a video (the library's sampling rate)."""
        return 1.0 / self.settings.sample_rate

    def frame(self, path: str, t: float, box: Box | None = None) -> Image.Image:
        """The frame on screen at `t` (a photo: itself), `box` drawn on it when given."""
        from engine.search.excerpts import frame_image

        return frame_image(Path(path), t, box)

    def save_frame(self, path: str, t: float, out: Path) -> Path:
        from engine.search.excerpts import save_frame

        return save_frame(Path(path), t, out)

    def save_clip(
        self,
        path: str,
        start: float,
        end: float,
        out: Path,
        stop: threading.Event | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Path:
        """The video from `start` to `end` as an MP4 at `out` (engine/search/excerpts.py)."""
        from engine.search.excerpts import save_clip

        return save_clip(Path(path), start, end, out, stop, progress)

    def index(self, paths: Sequence[Path], cancel: threading.Event) -> Iterator[IndexEvent]:
        """Index `paths`, yielding progress, until done or `cancel` is set.

        Cancelling closes the engine's generator: the file in progress is dropped, everything
        committed before it stays, and the vector index is saved, so a later run resumes.
        """
        events = self._get_engine().index(paths)
        try:
            for event in events:
                yield event
                if cancel.is_set():
                    break
        finally:
            events.close()
