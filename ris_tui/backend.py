"""The TUI's one door into the engine. Every method blocks: call them from worker threads.

The engine (and with it torch) is imported on first use, so the app draws its first screen at
once. Searching and indexing use separate Engine objects over the same data directory (an
index run holds the writer lock; searches read what it has committed so far), sharing one set of
face models so they load once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

    from engine.api import Engine
    from engine.events import IndexEvent
    from engine.query import Query
    from engine.results import Box, LibraryStatus, SearchResult
    from engine.settings import Settings


class Backend:
    def __init__(self, data_dir: Path | None = None, settings: Settings | None = None) -> None:
        self._data_dir = settings.data_dir if settings is not None else data_dir
        self._settings = settings
        self._engine: Engine | None = None
        self._lock = threading.Lock()  # one search or status read at a time

    def _get_engine(self) -> Engine:
        if self._engine is None:
            from engine.api import build_engine
            from engine.settings import Settings

            settings = self._settings
            if settings is None:
                overrides: dict[str, Any] = {}
                if self._data_dir is not None:
                    overrides["data_dir"] = self._data_dir
                settings = Settings.from_env(**overrides)
            self._engine = build_engine(settings)
        return self._engine

    @property
    def data_dir(self) -> Path:
        if self._data_dir is not None:
            return self._data_dir
        from engine.settings import Settings

        return Settings.from_env().data_dir

    @property
    def models_loaded(self) -> bool:
        return self._engine is not None and self._engine.models.loaded

    def read_query(self, path: Path) -> Query:
        with self._lock:
            return self._get_engine().read_query(path)

    def search(self, query: Query, face: int) -> SearchResult:
        with self._lock:
            return self._get_engine().search(query, face=face)

    def status(self) -> LibraryStatus:
        with self._lock:
            return self._get_engine().status()

    def thumbnails(self, path: str, moments: Sequence[tuple[float, Box]]) -> list[Image.Image]:
        # no lock: decoding a few frames needs nothing the other calls use
        from engine.thumbnails import face_thumbnails

        return face_thumbnails(Path(path), moments)

    def photo(self, path: str, box: Box) -> tuple[Image.Image, Image.Image]:
        """A matched photo's face crop and the whole photo, upright, from one decode."""
        from PIL import Image

        from engine.thumbnails import crop_face, frames_at

        frame = frames_at(Path(path), [0.0])[0]
        return crop_face(frame, box), Image.fromarray(frame)

    def index(self, paths: Sequence[Path], cancel: threading.Event) -> Iterator[IndexEvent]:
        """Index `paths`, yielding progress, until done or `cancel` is set.

        Cancelling closes the engine's generator: the file in progress is dropped, everything
        committed before it stays, and the vector index is saved, so a later run resumes.
        """
        from engine.api import Engine

        searcher = self._get_engine()
        writer = Engine(searcher.settings, models=searcher.models)
        events = writer.index(paths)
        try:
            for event in events:
                yield event
                if cancel.is_set():
                    break
        finally:
            events.close()
            writer.close()
