"""Modal screens: the key help, picking a face of the query, and exporting the results."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from .formatting import clock
from .images import Gallery, Picture
from .keymap import KEYS  # every key once; the help shows them
from .tables import KeyTable

if TYPE_CHECKING:
    from PIL import Image

    from engine.results import QueryFace


def keys_text() -> Text:
    """Every key and what it does, the keys in bold. Built as Text, not markup: a key such as
    `[` would open a markup tag (the `] [` row showed a literal [/b] and ran bold on)."""
    width = max(len(k) for k, _ in KEYS)
    return Text("\n").join(
        Text.assemble((f"{k:<{width}}", "bold"), f"  {what}") for k, what in KEYS
    )


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "dismiss", "close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: auto; max-height: 100%;
        border: round $accent; padding: 0 1; background: $surface;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("[b]ris-tui keys[/b]  (esc, q, ? or F1 closes)")
            yield Static(keys_text())


PICTURED = 9  # faces drawn in the picker: as many as there are number keys


class PhotoView(ModalScreen[None]):
    """A matched photo as large as the screen allows, the matched face boxed."""

    BINDINGS = [Binding("escape,q,enter", "dismiss(None)", "close")]
    DEFAULT_CSS = """
    PhotoView { align: center middle; }
    PhotoView > Vertical {
        width: 100%; height: 100%; border: round $accent; padding: 0 1; background: $surface;
    }
    """

    def __init__(self, image: Image.Image, caption: str) -> None:
        super().__init__()
        self.image, self.caption = image, caption

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Picture(self.image, f"{self.caption} · esc closes")


class FacePicker(ModalScreen[int | None]):
    """Which face of a photo (or person of a clip) to search for; dismisses with its number."""

    BINDINGS = [
        Binding("escape,q", "dismiss(None)", "cancel"),
        *[Binding(str(n), f"pick({n})", show=False) for n in range(1, 10)],
    ]
    DEFAULT_CSS = """
    FacePicker { align: center middle; }
    FacePicker > Vertical {
        width: 90%; height: 90%; border: round $accent; padding: 0 1; background: $surface;
    }
    FacePicker #faces { height: 1fr; }
    FacePicker #face-list { height: auto; max-height: 6; }
    FacePicker Picture.-picked { outline: heavy $accent; }
    FacePicker Picture.-picked > .caption { color: $text; text-style: bold; }
    """

    def __init__(self, kind: str, faces: tuple[QueryFace, ...], images: list[Image.Image]) -> None:
        super().__init__()
        self.kind, self.faces, self.images = kind, faces, images

    def compose(self) -> ComposeResult:
        what = "people" if self.kind == "video" else "faces"
        with Vertical():
            more = (
                f" (pictures of the first {PICTURED}; the list has all)"
                if len(self.faces) > PICTURED
                else ""
            )
            yield Static(
                f"The query shows {len(self.faces)} {what}: pick one (enter, or its number){more}"
            )
            yield Gallery(id="faces")  # as large as the room allows (a row was tiny)
            yield KeyTable(id="face-list")

    def on_mount(self) -> None:
        table = self.query_one(KeyTable)
        if self.kind == "video":
            table.add_columns("#", "first seen", "samples", "detector")
            for f in self.faces:
                table.add_row(str(f.number), clock(f.t), str(f.samples), f"{f.prob:.2f}")
        else:
            table.add_columns("#", "size (px)", "detector")
            for f in self.faces:
                x1, y1, x2, y2 = f.bbox
                table.add_row(str(f.number), f"{x2 - x1:.0f}×{y2 - y1:.0f}", f"{f.prob:.2f}")
        pictures = zip(self.faces[:PICTURED], self.images, strict=False)
        self.query_one(Gallery).show(
            [
                Picture(im, _face_caption(f.number, n == 0), classes="-picked" if n == 0 else "")
                for n, (f, im) in enumerate(pictures)
            ]
        )
        table.focus()

    def on_data_table_row_highlighted(self, event: KeyTable.RowHighlighted) -> None:
        """The face of the highlighted row is marked: framed, its number between arrows (it
        was not marked at all)."""
        event.stop()
        for n, picture in enumerate(self.query(Picture)):
            picked = n == event.cursor_row
            picture.set_class(picked, "-picked")
            caption = picture.query(".caption")
            if caption:
                caption.first(Static).update(_face_caption(self.faces[n].number, picked))

    def on_data_table_row_selected(self, event: KeyTable.RowSelected) -> None:
        event.stop()
        self.dismiss(self.faces[event.cursor_row].number)

    def action_pick(self, number: int) -> None:
        if number <= len(self.faces):
            self.dismiss(number)


def _face_caption(number: int, picked: bool) -> str:
    return f"▶ {number} ◀" if picked else str(number)


class Confirm(ModalScreen[bool]):
    """A yes or no question; dismisses with the answer (y / enter: yes; n / esc: no)."""

    BINDINGS = [
        Binding("y,enter", "dismiss(True)", "yes"),
        Binding("n,escape,q", "dismiss(False)", "no"),
    ]
    DEFAULT_CSS = """
    Confirm { align: center middle; }
    Confirm > Static {
        width: 80%; height: auto; border: round $warning; padding: 0 1; background: $surface;
    }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble(self.question, "  ", ("y", "bold"), "es / ", ("n", "bold"), "o"))


class ExportDialog(ModalScreen[str | None]):
    """Where to write the results as JSON; dismisses with the path typed."""

    BINDINGS = [Binding("escape", "dismiss(None)", "cancel")]
    DEFAULT_CSS = """
    ExportDialog { align: center middle; }
    ExportDialog > Vertical {
        width: 80%; height: auto; border: round $accent; padding: 0 1; background: $surface;
    }
    """

    def __init__(self, default: str, shown: str = "") -> None:
        super().__init__()
        self.default = default
        self.shown = shown  # what of the results is exported, when the lists are filtered

    def compose(self) -> ComposeResult:
        with Vertical():
            if self.shown:
                yield Static(self.shown, id="export-shown", markup=False)
            yield Static(
                "Export the results to (.json: the document of ris search --json; .csv: the "
                "segments with their times; enter writes, esc cancels):"
            )
            yield Input(self.default, id="export-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)
