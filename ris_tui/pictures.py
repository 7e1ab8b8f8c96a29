"""The faces ris-tui shows, decoded once: a video's moments, a photo, and the face searched
for. Read from the panes' worker threads (the engine decodes; nothing here draws)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.results import Box, Moment
    from engine.search.query import Query

    from .backend import Backend


class Pictures:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._faces: dict[tuple, Any] = {}  # (path, t, box): the face's picture
        self.query: Query | None = None  # the query read last, and its face searched for
        self.chosen = 1

    def of_moments(self, path: str, moments: list[Moment]) -> list[Any]:
        """The faces of a video's moments, decoding those not seen yet (may raise)."""
        missing = [m for m in moments if (path, m.t, m.bbox) not in self._faces]
        wanted = [(m.t, m.bbox) for m in missing]
        for m, im in zip(missing, self.backend.thumbnails(path, wanted), strict=True):
            self._faces[path, m.t, m.bbox] = im
        return [self._faces[path, m.t, m.bbox] for m in moments]

    def faces(self, wanted: list[tuple[str, float, Box]]) -> list[Any]:
        """Faces by (path, t, box), each file decoded once for all of its own (may raise)."""
        by_path: dict[str, list[tuple[float, Box]]] = {}
        for path, t, box in wanted:
            if (path, t, box) not in self._faces:
                by_path.setdefault(path, []).append((t, box))
        for path, moments in by_path.items():
            for (t, box), im in zip(moments, self.backend.thumbnails(path, moments), strict=True):
                self._faces[path, t, box] = im
        return [self._faces[key] for key in wanted]

    def searched_face(self) -> Any:
        """The picture of the face searched for, shown beside what it found; None when it
        cannot be had: not worth failing for."""
        q = self.query
        if q is None or not 1 <= self.chosen <= len(q.faces):
            return None
        face = q.faces[self.chosen - 1]
        key = (q.path, face.t, face.bbox)
        if key not in self._faces:
            with contextlib.suppress(Exception):
                self._faces[key] = self.backend.thumbnails(q.path, [(face.t, face.bbox)])[0]
        return self._faces.get(key)
