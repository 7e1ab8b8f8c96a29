"""The matching photos, ranked, with the matched face and the whole photo beside them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from .formatting import score_cell, short_path
from .images import Picture
from .tables import KeyTable

if TYPE_CHECKING:
    from PIL import Image

    from engine.results import ImageHit


class PhotosPane(Horizontal):
    DEFAULT_CSS = """
    PhotosPane #photo-list { width: 1fr; min-width: 30; }
    PhotosPane #photo-detail { width: 1fr; padding: 0 0 0 1; }
    PhotosPane #photo-title { height: 1; text-style: bold; }
    PhotosPane #photo-thumbs { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.photos: tuple[ImageHit, ...] = ()
        self.whole: tuple[ImageHit, Image.Image] | None = None  # the picture shown, if any
        self.empty_note = "Search for a person: / then the path of a photo or a clip."

    def compose(self) -> ComposeResult:
        yield KeyTable(id="photo-list")
        with Vertical(id="photo-detail"):
            yield Static("", id="photo-title")
            yield Horizontal(id="photo-thumbs")

    def on_mount(self) -> None:
        self.query_one("#photo-list", KeyTable).add_columns("#", "score", "photo")
        self.show(())  # the empty state says what to do

    def show(self, photos: tuple[ImageHit, ...]) -> None:
        self.photos = photos
        table = self.query_one("#photo-list", KeyTable)
        table.clear()
        width = max(20, self.app.size.width // 2 - 16)  # the pane may be hidden: no size yet
        for i, p in enumerate(photos, 1):
            table.add_row(str(i), score_cell(p.score, p.possible), short_path(p.path, width))
        if photos:
            table.move_cursor(row=0)
        note = "" if photos else f"[dim]{self.empty_note}[/dim]"
        self.query_one("#photo-title", Static).update(note)
        self.query_one("#photo-thumbs", Horizontal).remove_children()

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
        box = self.query_one("#photo-thumbs", Horizontal)
        box.remove_children()
        searched = [Picture(query, "searched for", classes="query")] if query else []
        box.mount_all(
            [
                *searched,
                Picture(face, f"face {hit.score:.2f}"),
                Picture(whole, f"{whole.width}×{whole.height}"),
            ]
        )
