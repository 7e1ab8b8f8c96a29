"""The matching photos, ranked, with the matched face and the whole photo beside them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from .formatting import plain, score_cell, short_path
from .images import Gallery, Picture
from .messages import PhotoChosen, PhotoOpened
from .ordering import OrderedPane, Ordering
from .tables import KeyTable

if TYPE_CHECKING:
    from PIL import Image

    from engine.results import ImageHit


class PhotosPane(OrderedPane, Horizontal):
    DEFAULT_CSS = """
    PhotosPane #photo-list { width: 1fr; min-width: 30; }
    PhotosPane #photo-detail { width: 1fr; padding: 0 0 0 1; }
    PhotosPane #photo-title { height: 1; text-style: bold; }
    PhotosPane #photo-thumbs { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.ranked: tuple[ImageHit, ...] = ()  # the engine's answer (show() sets it)
        self.photos: tuple[ImageHit, ...] = ()  # those shown, in the order shown
        self.ordering = Ordering()
        self.whole: tuple[ImageHit, Image.Image] | None = None  # the picture shown, if any
        self.empty_note = "Search for a person: / then the path of a photo or a clip."

    def compose(self) -> ComposeResult:
        yield KeyTable(id="photo-list")
        with Vertical(id="photo-detail"):
            yield Static("", id="photo-title")
            yield Gallery(id="photo-thumbs")

    def on_mount(self) -> None:
        self.query_one("#photo-list", KeyTable).add_columns("#", "score", "photo")
        self.show(())  # the empty state says what to do

    def _fill(self) -> None:
        rows = self.ordering.apply(self.ranked)
        self.photos = tuple(p for _, p in rows)
        table = self.query_one("#photo-list", KeyTable)
        table.clear()
        width = max(20, self.app.size.width // 2 - 16)  # the pane may be hidden: no size yet
        for rank, p in rows:
            table.add_row(str(rank), score_cell(p.score, p.possible), short_path(p.path, width))
        if rows:
            table.move_cursor(row=0)
        note = self.empty_note
        if self.ranked and not rows:
            note = f"No photo path has {self.ordering.text!r}: ctrl+f changes the filter."
        self.query_one("#photo-title", Static).update("" if rows else plain(note, "dim"))
        self.query_one("#photo-thumbs", Gallery).show([])

    @on(DataTable.RowHighlighted, "#photo-list")
    def _photo_highlighted(self) -> None:
        self.post_message(PhotoChosen())

    @on(DataTable.RowSelected, "#photo-list")
    def _photo_selected(self) -> None:
        self.post_message(PhotoOpened())

    @property
    def current(self) -> ImageHit | None:
        row = self.query_one("#photo-list", KeyTable).row
        return self.photos[row] if row is not None and row < len(self.photos) else None

    def show_pictures(
        self, hit: ImageHit, face: Image.Image, whole: Image.Image, query: Image.Image | None = None
    ) -> None:
        self.whole = (hit, whole)  # what enter shows large
        title = self.query_one("#photo-title", Static)
        title.update(short_path(hit.path, max(20, title.size.width or 60)))
        box = self.query_one("#photo-thumbs", Gallery)
        searched = [Picture(query, "searched for", classes="query")] if query else []
        box.show(
            [
                *searched,
                Picture(face, f"face {hit.score:.2f}"),
                Picture(whole, f"{whole.width}×{whole.height}"),
            ]
        )
