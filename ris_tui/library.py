"""The library: what is indexed, what failed and why, and indexing a folder with progress."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, Static

from .formatting import plain, printable, short_path
from .pathinput import PathInput
from .tables import KeyTable

if TYPE_CHECKING:
    from engine.events import IndexProgressed
    from engine.results import LibraryStatus


class LibraryPane(Vertical):
    DEFAULT_CSS = """
    LibraryPane #library-summary { height: auto; margin: 0 0 1 0; }
    LibraryPane #index-row { height: 1; }
    LibraryPane #index-row Label { width: auto; padding: 0 1 0 0; }
    LibraryPane #index-path { width: 1fr; }
    LibraryPane #index-progress { height: 1; margin: 1 0 0 0; }
    LibraryPane #index-current { height: 1; color: $text-muted; }
    LibraryPane #failed { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="library-summary")
        with Horizontal(id="index-row"):
            yield Label("Index a folder:")
            yield PathInput(
                id="index-path",
                placeholder="i, then a path and enter (esc cancels a run)",
                compact=True,
            )
        yield ProgressBar(id="index-progress", show_eta=True)
        yield Static("", id="index-current")
        yield Static("Failed files", classes="heading")
        yield KeyTable(id="failed")

    def on_mount(self) -> None:
        self.query_one("#failed", KeyTable).add_columns("file", "why")
        self.query_one("#index-progress", ProgressBar).display = False

    def show_status(self, st: LibraryStatus) -> None:
        summary = self.query_one("#library-summary", Static)
        head = plain(printable(st.data_dir), "bold")
        if not st.files:
            summary.update(Text.assemble(head, "\nNothing indexed yet: index a folder below."))
        else:
            summary.update(
                Text.assemble(
                    head,
                    f"\n{st.videos} videos, {st.images} photos, {st.faces} faces, "
                    f"{len(st.failed)} failed\nweights: {printable(str(st.weights))}\n"
                    f"vectors: {printable(st.store)}",
                )
            )
        table = self.query_one("#failed", KeyTable)
        table.clear()
        for f in st.failed:
            table.add_row(short_path(f.path, 40), plain(printable(f.reason)))

    def index_started(self, folder: str) -> None:
        bar = self.query_one("#index-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.query_one("#index-current", Static).update(plain(f"finding media in {folder}…"))

    def index_progressed(self, ev: IndexProgressed) -> None:
        bar = self.query_one("#index-progress", ProgressBar)
        bar.update(total=max(ev.bytes_total, 1), progress=ev.bytes_done)
        self.query_one("#index-current", Static).update(
            Text.assemble(
                f"{ev.files_done}/{ev.files_total} files, {ev.frames} frames, {ev.faces} faces · ",
                short_path(ev.current, 60),
            )
        )

    def index_ended(self, message: str) -> None:
        self.query_one("#index-progress", ProgressBar).display = False
        self.query_one("#index-current", Static).update(plain(message))
