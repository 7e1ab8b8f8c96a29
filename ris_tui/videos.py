"""The ranked videos and, for the one selected, its timeline, segments and face thumbnails."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from .formatting import clock, plain, printable, score_cell, short_path
from .images import Gallery, Picture
from .messages import PicturesFailed, SegmentPlayed, ThumbsReady
from .ordering import OrderedPane, Ordering
from .tables import STACK_BELOW, KeyTable, list_width
from .timeline import Timeline

if TYPE_CHECKING:
    from PIL import Image

    from engine.results import Moment, VideoHit

    from .pictures import Pictures

THUMBS = 3


def possible_note(score: float) -> str:
    """Why a possible video's faces can score above its own score and the threshold: a video
    is judged by whole appearances (a track's faces together), not by its single frames."""
    return (
        f"Possible: no appearance here matches as a whole (the best scores {score:.3f}); "
        "single frames of it may score higher."
    )


AWAY_NOTE = (
    "Not reachable here: the library lists this file, but it is not on this machine "
    "(its share is not mounted); its pictures and playing need it here."
)


class VideosPane(OrderedPane, Horizontal):
    DEFAULT_CSS = """
    VideosPane #video-list { width: 3fr; min-width: 36; }
    VideosPane #detail { width: 2fr; padding: 0 0 0 1; }
    VideosPane #video-title { height: 1; text-style: bold; }
    VideosPane #video-note { height: auto; color: $text-muted; display: none; }
    VideosPane #video-note.shown { display: block; }
    VideosPane #segments { height: 6; }
    VideosPane #thumbs { height: 1fr; min-height: 4; }
    VideosPane.-stacked { layout: vertical; }
    VideosPane.-stacked #video-list { width: 1fr; height: 1fr; min-height: 4; }
    VideosPane.-stacked #detail { width: 1fr; height: 1fr; padding: 0; }
    VideosPane.-stacked #segments { height: 4; }
    VideosPane.-stacked #thumbs { min-height: 0; }
    """

    def __init__(self, pictures: Pictures) -> None:
        super().__init__()
        self.pictures = pictures
        self.ranked: tuple[VideoHit, ...] = ()  # the engine's answer (show() sets it)
        self.videos: tuple[VideoHit, ...] = ()  # those shown, in the order shown
        self.ordering = Ordering()
        self.empty_note = "Search for a person: / then the path of a photo or a clip."

    def compose(self) -> ComposeResult:
        yield KeyTable(id="video-list")
        with Vertical(id="detail"):
            yield Static("", id="video-title")
            yield Static("", id="video-note")
            yield Timeline(id="timeline")
            yield KeyTable(id="segments")
            yield Gallery(id="thumbs")

    def on_mount(self) -> None:
        table = self.query_one("#video-list", KeyTable)
        self._path_column = table.add_columns("#", "score", "video", "length", "segs")[2]
        self.query_one("#segments", KeyTable).add_columns("#", "start", "end", "score")
        self.select(None)  # the empty state says what to do

    def _fill(self) -> None:
        rows = self.ordering.apply(self.ranked)
        self.videos = tuple(v for _, v in rows)
        table = self.query_one("#video-list", KeyTable)
        table.clear()
        width = self._path_width()
        for i, (rank, v) in enumerate(rows):
            table.add_row(
                str(rank),
                score_cell(v.score, v.possible),
                short_path(v.path, width, v.reachable),
                clock(v.duration),
                str(len(v.segments)),
                key=str(i),
            )
        if rows:
            table.move_cursor(row=0)
        self.select(0 if rows else None)

    def _path_width(self) -> int:
        """Room for a path in the list: the screen's width, or the list's 3/5 of it beside the
        detail (the pane may be hidden: no size yet), less the other columns and their padding,
        so that they all stay in view."""
        return max(8, list_width(self.app.size.width) - 33)

    def on_resize(self) -> None:
        """Stacked or side by side for the new width; paths and the title fitted again (they
        kept their first width until the cursor moved)."""
        self.set_class(self.app.size.width < STACK_BELOW, "-stacked")
        table = self.query_one("#video-list", KeyTable)
        table.fit_paths(self._path_column, self.videos, self._path_width())
        self.call_after_refresh(self._fit_title)

    def _fit_title(self) -> None:
        video = self.current
        if video is not None:
            title = self.query_one("#video-title", Static)
            title.update(short_path(video.path, max(20, title.size.width or 60), video.reachable))

    @property
    def current(self) -> VideoHit | None:
        row = self.query_one("#video-list", KeyTable).row
        return self.videos[row] if row is not None and row < len(self.videos) else None

    @property
    def segment(self) -> int | None:
        return self.query_one("#segments", KeyTable).row

    def select(self, index: int | None) -> None:
        """Fill the detail pane for video `index` (None: empty it)."""
        video = self.videos[index] if index is not None and index < len(self.videos) else None
        title = self.query_one("#video-title", Static)
        segments = self.query_one("#segments", KeyTable)
        timeline = self.query_one("#timeline", Timeline)
        segments.clear()
        if video is None:
            note = self.empty_note
            if self.ranked and not self.videos:
                note = f"No video path has {self.ordering.text!r}: ctrl+f changes the filter."
            title.update(plain(note, "dim") if not self.videos else "")
            self.query_one("#video-note", Static).set_class(False, "shown")
            timeline.show(0.0, [])
            self.query_one("#thumbs", Gallery).show([])  # no faces of another query
            return
        title.update(short_path(video.path, max(20, title.size.width or 60), video.reachable))
        why = self.query_one("#video-note", Static)
        notes = [possible_note(video.score)] if video.possible else []
        if not video.reachable:
            notes.append(AWAY_NOTE)
        why.set_class(bool(notes), "shown")
        why.update(" ".join(notes))
        maybe = frozenset(n for n, s in enumerate(video.segments) if s.possible)
        timeline.show(video.duration, [(s.start, s.end) for s in video.segments], maybe)
        for n, s in enumerate(video.segments, 1):
            segments.add_row(str(n), clock(s.start), clock(s.end), score_cell(s.score, s.possible))
        if video.segments:
            segments.move_cursor(row=0)

    def step(self, delta: int) -> int | None:
        """Move to the next (+1) or previous (-1) segment; returns the new one."""
        table = self.query_one("#segments", KeyTable)
        if table.row is None:
            return None
        row = max(0, min(table.row_count - 1, table.row + delta))
        table.move_cursor(row=row)
        return row

    @on(DataTable.RowHighlighted, "#video-list")
    def _video_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.select(event.cursor_row)
        self.load_faces()

    @on(DataTable.RowSelected, "#video-list")
    def _video_selected(self) -> None:
        self.screen.set_focus(self.query_one("#segments"))

    @on(DataTable.RowHighlighted, "#segments")
    def _segment_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.query_one("#timeline", Timeline).selected = event.cursor_row
        self.load_faces()

    @on(DataTable.RowSelected, "#segments")
    def _segment_selected(self) -> None:
        self.post_message(SegmentPlayed())

    def faces_to_show(self) -> list[Moment]:
        """The best faces of the selected segment first, then the video's other best faces."""
        video = self.current
        if video is None:
            return []
        seg = video.segments[self.segment] if self.segment is not None else None
        ranked = sorted(video.matches, key=lambda m: -m.similarity)
        inside = [m for m in ranked if seg and seg.start - 1e-6 <= m.t <= seg.end + 1e-6]
        rest = [m for m in ranked if m not in inside]
        return (inside + rest)[:THUMBS]

    @work(thread=True, exclusive=True, group="thumbs")
    def load_faces(self) -> None:
        """The faces of the selected video (segment first), decoded in a thread."""
        video, moments = self.current, self.faces_to_show()
        if video is None:
            return
        try:
            pics = self.pictures.of_moments(video.path, moments)
        except Exception as err:
            self.post_message(
                PicturesFailed(f"Cannot show faces of {printable(video.path)}: {err}")
            )
            return
        if not get_current_worker().is_cancelled and self.current is video:
            self.post_message(ThumbsReady(video, moments, pics, self.pictures.searched_face()))

    def on_thumbs_ready(self, message: ThumbsReady) -> None:
        message.stop()
        if self.current is message.video:  # still the one selected
            self.show_thumbs(message.moments, message.pictures, message.searched)

    def show_thumbs(
        self, moments: list[Moment], images: list[Image.Image], query: Image.Image | None = None
    ) -> None:
        """The faces found, best first, after the face searched for (when it has a picture)."""
        box = self.query_one("#thumbs", Gallery)
        found = [
            Picture(im, f"{clock(m.t)} {m.similarity:.2f}")
            for m, im in zip(moments, images, strict=True)
        ]
        box.show(([Picture(query, "searched for", classes="query")] if query else []) + found)
