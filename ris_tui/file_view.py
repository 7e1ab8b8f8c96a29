"""One indexed file of the library: the appearances of faces in it on its timeline, each with
its largest face; v sees one frame by frame, o plays it, x takes the file out of the index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from .backend import as_video
from .formatting import clock, count, keys_line, short_path
from .images import Gallery, Picture
from .moment import MomentView
from .tables import KeyTable
from .timeline import Timeline

if TYPE_CHECKING:
    from PIL import Image

    from engine.results import Appearance, IndexedFile

    from .backend import Backend

FACES_SHOWN = 6  # the selected appearance's face and the next ones'


@dataclass
class AppearancesLoaded(Message):
    appearances: tuple[Appearance, ...]
    error: str = ""
    cuts: tuple[float, ...] = ()  # the video's shot cuts (seconds)


@dataclass
class FacesLoaded(Message):
    first: int  # the appearance of the first picture
    pictures: list[Image.Image]


class FileView(ModalScreen[bool | None]):
    """Dismisses with True when the user asks to take the file out of the index (x)."""

    BINDINGS = [
        Binding("escape,q", "dismiss(None)", "back"),
        Binding("x,delete", "dismiss(True)", "out of the index"),
        Binding("v", "view", "view"),
        Binding("o", "play", "play"),
    ]
    DEFAULT_CSS = """
    FileView { align: center middle; }
    FileView > Vertical { width: 100%; height: 100%; background: $surface; padding: 0 1; }
    FileView #file-title { height: 1; text-style: bold; }
    FileView #file-summary { height: 1; color: $text-muted; }
    FileView #appearances { height: 1fr; min-height: 4; max-height: 12; }
    FileView #file-faces { height: 2fr; min-height: 4; }
    FileView #file-keys { height: 1; color: $text-muted; }
    """

    def __init__(self, backend: Backend, file: IndexedFile) -> None:
        super().__init__()
        self.backend, self.file = backend, file
        self.appearances: tuple[Appearance, ...] = ()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="file-title")
            yield Static("Reading its faces…", id="file-summary")
            yield Timeline(id="file-timeline")
            yield KeyTable(id="appearances")
            yield Gallery(id="file-faces")
            yield Static(
                keys_line(
                    (
                        ("↑ ↓", "appearance"),
                        ("v", "frame by frame"),
                        ("o", "play"),
                        ("x", "out of the index"),
                        ("esc", "back"),
                    )
                ),
                id="file-keys",
            )

    def on_mount(self) -> None:
        f = self.file
        title = self.query_one("#file-title", Static)
        title.update(short_path(f.path, max(20, self.app.size.width - 4), f.reachable))
        self.query_one("#appearances", KeyTable).add_columns("#", "start", "end", "faces")
        self.query_one("#file-timeline", Timeline).display = bool(f.duration)
        self.load()

    @work(thread=True, exclusive=True, group="file-view")
    def load(self) -> None:
        try:
            found = self.backend.appearances(self.file.path)
            cuts = self.backend.shot_cuts(self.file.path)
        except Exception as err:
            self.post_message(AppearancesLoaded((), f"Cannot read its faces: {err}"))
            return
        self.post_message(AppearancesLoaded(found, cuts=cuts))

    def on_appearances_loaded(self, message: AppearancesLoaded) -> None:
        self.appearances = message.appearances
        f, found = self.file, message.appearances
        length = f" · {clock(f.duration)}" if f.duration else ""
        shots = f" · {len(message.cuts) + 1} shots (┃ a cut)" if message.cuts else ""
        summary = message.error or (
            f"{'video' if f.kind == 'video' else 'photo'}{length}{shots} · "
            f"{count(f.faces, 'face')} in {count(len(found), 'appearance')}"
        )
        self.query_one("#file-summary", Static).update(Text(summary, no_wrap=True))
        self.query_one("#file-timeline", Timeline).show(
            f.duration or 0.0, [(a.start, a.end) for a in found], cuts=message.cuts
        )
        table = self.query_one("#appearances", KeyTable)
        for n, a in enumerate(found, 1):
            table.add_row(str(n), clock(a.start), clock(a.end), str(len(a.faces)))
        table.focus()
        if found:
            table.move_cursor(row=0)
            self.load_faces(0)

    @on(DataTable.RowHighlighted, "#appearances")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.query_one("#file-timeline", Timeline).selected = event.cursor_row
        self.load_faces(event.cursor_row)

    @on(DataTable.RowSelected, "#appearances")
    def _selected(self) -> None:
        self.action_view()

    @work(thread=True, exclusive=True, group="file-faces")
    def load_faces(self, first: int) -> None:
        wanted = self.appearances[first : first + FACES_SHOWN]
        if not wanted or not self.file.reachable:
            return
        try:
            pictures = self.backend.thumbnails(
                self.file.path, [(a.face.t, a.face.bbox) for a in wanted]
            )
        except Exception as err:
            self.post_message(AppearancesLoaded(self.appearances, f"Cannot show its faces: {err}"))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(FacesLoaded(first, pictures))

    def on_faces_loaded(self, message: FacesLoaded) -> None:
        row = self.query_one("#appearances", KeyTable).row
        if row != message.first:
            return
        shown = zip(self.appearances[message.first :], message.pictures, strict=False)
        self.query_one("#file-faces", Gallery).show(
            [
                Picture(im, f"{message.first + n + 1}: {clock(a.face.t)}")
                for n, (a, im) in enumerate(shown)
            ]
        )

    def _row(self) -> int | None:
        row = self.query_one("#appearances", KeyTable).row
        return row if row is not None and row < len(self.appearances) else None

    def action_view(self) -> None:
        row = self._row()
        if row is None or not self.file.reachable:
            self.app.bell()
            return
        self.app.push_screen(MomentView(self.backend, as_video(self.file, self.appearances), row))

    def action_play(self) -> None:
        row = self._row()
        if row is None:
            self.app.bell()
            return
        a = self.appearances[row]
        self.app.play(self.file.path, a.start, a.end)  # type: ignore[attr-defined]
