"""The matching photos, ranked, with the matched face and the whole photo beside them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from .dialogs import PhotoView
from .formatting import plain, printable, score_cell, short_path
from .images import Gallery, Picture
from .messages import PhotoReady, PicturesFailed
from .ordering import OrderedPane, Ordering
from .tables import STACK_BELOW, KeyTable, list_width

if TYPE_CHECKING:
    from PIL import Image

    from engine.results import PhotoHit

    from .pictures import Pictures


class PhotosPane(OrderedPane, Horizontal):
    DEFAULT_CSS = """
    PhotosPane #photo-list { width: 3fr; min-width: 30; }
    PhotosPane #photo-detail { width: 2fr; padding: 0 0 0 1; }
    PhotosPane #photo-title { height: 1; text-style: bold; }
    PhotosPane #photo-thumbs { height: 1fr; }
    PhotosPane.-stacked { layout: vertical; }
    PhotosPane.-stacked #photo-list { width: 1fr; height: 1fr; min-height: 4; }
    PhotosPane.-stacked #photo-detail { width: 1fr; height: 1fr; padding: 0; }
    """

    def __init__(self, pictures: Pictures) -> None:
        super().__init__()
        self.pictures = pictures
        self.ranked: tuple[PhotoHit, ...] = ()  # the engine's answer (show() sets it)
        self.photos: tuple[PhotoHit, ...] = ()  # those shown, in the order shown
        self.ordering = Ordering()
        self.whole: tuple[PhotoHit, Image.Image] | None = None  # the picture shown, if any
        self.empty_note = "Search for a person: / then the path of a photo or a clip."

    def compose(self) -> ComposeResult:
        yield KeyTable(id="photo-list")
        with Vertical(id="photo-detail"):
            yield Static("", id="photo-title")
            yield Gallery(id="photo-thumbs")

    def on_mount(self) -> None:
        self._path_column = self.query_one("#photo-list", KeyTable).add_columns(
            "#", "score", "photo"
        )[2]
        self.show(())  # the empty state says what to do

    def _fill(self) -> None:
        rows = self.ordering.apply(self.ranked)
        self.photos = tuple(p for _, p in rows)
        table = self.query_one("#photo-list", KeyTable)
        table.clear()
        width = self._path_width()
        for i, (rank, p) in enumerate(rows):
            cells = (
                str(rank),
                score_cell(p.score, p.possible),
                short_path(p.path, width, p.reachable),
            )
            table.add_row(*cells, key=str(i))
        if rows:
            table.move_cursor(row=0)
        note = self.empty_note
        if self.ranked and not rows:
            note = f"No photo path has {self.ordering.text!r}: ctrl+f changes the filter."
        self.query_one("#photo-title", Static).update("" if rows else plain(note, "dim"))
        self.query_one("#photo-thumbs", Gallery).show([])

    def _path_width(self) -> int:
        """The screen's width, or the list's 3/5 of it beside the detail (the pane may be
        hidden: no size yet), less the other columns."""
        return max(20, list_width(self.app.size.width) - 16)

    def on_resize(self) -> None:
        """Stacked or side by side for the new width, the paths fitted again: shrunk, they
        kept their long text cut at the end, hiding the file name."""
        self.set_class(self.app.size.width < STACK_BELOW, "-stacked")
        table = self.query_one("#photo-list", KeyTable)
        table.fit_paths(self._path_column, self.photos, self._path_width())

    @on(DataTable.RowHighlighted, "#photo-list")
    def _photo_highlighted(self) -> None:
        self.load_pictures()

    @on(DataTable.RowSelected, "#photo-list")
    def _photo_selected(self) -> None:
        self.enlarge()

    def enlarge(self) -> None:
        """enter (or v) on a photo: the photo as large as the screen allows, its matched face
        boxed."""
        if self.whole is None or self.whole[0] is not self.current:
            self.app.notify("The photo is still loading.", severity="information")
            return
        hit, whole = self.whole
        caption = f"{printable(Path(hit.path).name)} · {whole.width}×{whole.height}"
        self.app.push_screen(PhotoView(whole, caption))

    @property
    def current(self) -> PhotoHit | None:
        row = self.query_one("#photo-list", KeyTable).row
        return self.photos[row] if row is not None and row < len(self.photos) else None

    @work(thread=True, exclusive=True, group="photo")
    def load_pictures(self) -> None:
        """The selected photo's matched face and the whole photo, decoded in a thread."""
        hit = self.current
        if hit is None:
            return
        try:
            face, whole = self.pictures.backend.photo(hit.path, hit.bbox)
        except Exception as err:
            self.post_message(PicturesFailed(f"Cannot show {printable(hit.path)}: {err}"))
            return
        if not get_current_worker().is_cancelled and self.current is hit:
            self.post_message(PhotoReady(hit, face, whole, self.pictures.searched_face()))

    def on_photo_ready(self, message: PhotoReady) -> None:
        message.stop()
        if self.current is message.hit:
            self.show_pictures(message.hit, message.face, message.whole, message.searched)

    def show_pictures(
        self, hit: PhotoHit, face: Image.Image, whole: Image.Image, query: Image.Image | None = None
    ) -> None:
        self.whole = (hit, whole)  # what enter shows large
        title = self.query_one("#photo-title", Static)
        title.update(short_path(hit.path, max(20, title.size.width or 60), hit.reachable))
        box = self.query_one("#photo-thumbs", Gallery)
        searched = [Picture(query, "searched for", classes="query")] if query else []
        box.show(
            [
                *searched,
                Picture(face, f"face {hit.score:.2f}"),
                Picture(whole, f"{whole.width}×{whole.height}"),
            ]
        )
