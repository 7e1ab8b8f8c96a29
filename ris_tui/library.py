"""The library: what is indexed (each file, enter shows its faces on its timeline, x takes it
out of the index), what failed and why, and indexing a folder with progress. The pane owns
the index run (its worker and what it says); the app is told when it ends (IndexEnded) for the
status line, the library's counts and the focus."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, ProgressBar, Static

from .backend import FileFailed, FileIndexed, IndexFinished, IndexPlanned, IndexProgressed
from .dialogs import Confirm
from .file_view import FileView
from .formatting import clock, count, plain, printable, short_path
from .messages import FilesLoaded, IndexEnded, IndexNews, LibraryChanged, PicturesFailed
from .pathinput import PathInput, typed_path
from .status_line import StatusLine
from .tables import KeyTable

if TYPE_CHECKING:
    from engine.results import IndexedFile, LibraryStatus

    from .backend import Backend


class IndexRun:
    """One index run at a time: its cancel, and whether it is over (the process waits for an
    index run to save its work before it exits)."""

    def __init__(self) -> None:
        self.cancel: threading.Event | None = None
        self.over = threading.Event()  # clear while an index run works
        self.over.set()

    @property
    def going(self) -> bool:
        return self.cancel is not None

    def begin(self) -> threading.Event:
        self.cancel = threading.Event()
        self.over.clear()
        return self.cancel

    def stop(self) -> None:
        if self.cancel is not None:
            self.cancel.set()


class LibraryPane(Vertical):
    DEFAULT_CSS = """
    LibraryPane #library-summary { height: auto; margin: 0 0 1 0; }
    LibraryPane #index-row { height: 1; }
    LibraryPane #index-row Label { width: auto; padding: 0 1 0 0; }
    LibraryPane #index-path { width: 1fr; }
    LibraryPane #index-progress { height: 1; margin: 1 0 0 0; }
    LibraryPane #index-current { height: 1; color: $text-muted; }
    LibraryPane #files { height: 2fr; min-height: 4; }
    LibraryPane #failed { height: 1fr; min-height: 3; }
    """

    def __init__(self, backend: Backend, run: IndexRun) -> None:
        super().__init__()
        self.backend = backend
        self.run = run
        self.files: tuple[IndexedFile, ...] = ()

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
        yield Static(
            "Indexed files (enter: its faces on its timeline; x: out of the index)",
            classes="heading",
            id="files-heading",
        )
        yield KeyTable(id="files")
        yield Static("Failed files", classes="heading")
        yield KeyTable(id="failed")

    def on_mount(self) -> None:
        self.query_one("#failed", KeyTable).add_columns("file", "why")
        self._files_path = self.query_one("#files", KeyTable).add_columns(
            "kind", "faces", "length", "file"
        )[3]
        self.query_one("#index-progress", ProgressBar).display = False

    @work(thread=True, exclusive=True, group="library-files")
    def load_files(self) -> None:
        try:
            files = self.backend.indexed_files()
        except Exception as err:
            self.post_message(PicturesFailed(f"Cannot list the indexed files: {err}"))
            return
        self.post_message(FilesLoaded(files))

    def on_files_loaded(self, message: FilesLoaded) -> None:
        message.stop()
        table = self.query_one("#files", KeyTable)
        row = table.row
        self.files = message.files
        table.clear()
        width = max(20, self.app.size.width - 30)
        for i, f in enumerate(self.files):
            length = clock(f.duration) if f.duration else ""
            kind = "video" if f.kind == "video" else "photo"
            path = short_path(f.path, width, f.reachable)
            table.add_row(kind, str(f.faces), length, path, key=str(i))
        if row is not None and self.files:
            table.move_cursor(row=min(row, len(self.files) - 1))
        heading = self.query_one("#files-heading", Static)
        heading.update(
            f"Indexed files: {len(self.files)} (enter: its faces on its timeline; "
            "x: out of the index)"
        )

    def on_resize(self) -> None:
        table = self.query_one("#files", KeyTable)
        table.fit_paths(self._files_path, self.files, max(20, self.app.size.width - 30))

    @property
    def current_file(self) -> IndexedFile | None:
        row = self.query_one("#files", KeyTable).row
        return self.files[row] if row is not None and row < len(self.files) else None

    @on(DataTable.RowSelected, "#files")
    def _file_selected(self) -> None:
        f = self.current_file
        if f is not None:
            self.app.push_screen(FileView(self.backend, f), self._after_file_view)

    def _after_file_view(self, forget: bool | None) -> None:
        if forget:
            self.ask_forget()

    def ask_forget(self) -> None:
        """x: the selected file out of the index, asked first."""
        f = self.current_file
        if f is None:
            self.app.bell()
            return
        if self.run.going:
            self.app.notify("An index run is going: take files out after it.", severity="warning")
            return
        question = (
            f"Take {printable(f.path)} out of the index ({count(f.faces, 'face')})? The file "
            "itself stays; indexing its folder again brings it back."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.forget_worker(f)

        self.app.push_screen(Confirm(question), answered)

    @work(thread=True, group="library-forget")
    def forget_worker(self, f: IndexedFile) -> None:
        try:
            taken = self.backend.forget([f.path])
        except Exception as err:
            self.post_message(LibraryChanged(f"Cannot take {printable(f.path)} out: {err}", err))
            return
        done = "taken out of the index" if taken else "was no longer in the index"
        self.post_message(LibraryChanged(f"{printable(Path(f.path).name)} {done}."))

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
        self.load_files()

    @on(Input.Submitted, "#index-path")
    def _index_submitted(self, event: Input.Submitted) -> None:
        if self.run.going:
            self.app.notify("An index run is in progress: esc cancels it.", severity="warning")
            return
        folder = typed_path(event.value)
        if not event.value.strip() or not folder.exists():
            self.app.notify(f"No such file or folder: {event.value}", severity="error")
            return
        cancel = self.run.begin()
        self.index_started(str(folder))
        # out of the box: keys are commands again while it runs (1, q, / were typed into it,
        # tab completed paths, and esc cancelled the run instead of leaving the box)
        self.screen.set_focus(self.query_one("#files"))
        self.index_worker(folder, cancel)

    @work(thread=True, exclusive=True, group="index")
    def index_worker(self, folder: Path, cancel: threading.Event) -> None:
        kept = 0  # files committed in this run: what a cancel keeps
        failure: BaseException | None = None
        ended = ""
        try:
            for ev in self.backend.index([folder], cancel):
                if isinstance(ev, FileIndexed):
                    kept += 1
                elif isinstance(ev, (IndexPlanned, IndexProgressed, FileFailed)):
                    self.post_message(IndexNews(ev))
                elif isinstance(ev, IndexFinished):
                    ended = (
                        f"Indexed {count(ev.indexed, 'file')} ({ev.faces} faces) in "
                        f"{ev.seconds:.0f} s; {ev.failed} failed, {ev.unchanged} unchanged, "
                        f"{ev.removed} removed."
                    )
        except Exception as err:
            ended, failure = f"Index run stopped: {err}", err
        finally:
            if not ended:  # cancelled: say what it kept (it said "what was indexed is kept"
                # when nothing had finished and the file in progress was dropped)
                done = f"{count(kept, 'file')} indexed and kept" if kept else "nothing finished"
                ended = (
                    f"Index run cancelled: {done}; a file in progress is not kept. "
                    "Run it again to go on."
                )
            self.run.over.set()
            self.post_message(IndexEnded(ended, failure))

    def on_index_news(self, message: IndexNews) -> None:
        ev = message.event
        if isinstance(ev, IndexPlanned):
            kept = f"{ev.unchanged} unchanged" + (f", {ev.moved} moved" if ev.moved else "")
            text = f"Indexing {ev.to_index} of {ev.files} files ({kept})…"
            self.screen.query_one(StatusLine).say(text)
            self.query_one("#index-current", Static).update(plain(text))
        elif isinstance(ev, IndexProgressed):
            self.index_progressed(ev)
        elif isinstance(ev, FileFailed):
            title = f"Skipped {printable(Path(ev.path).name)}"
            self.app.notify(ev.reason, title=title, severity="warning")

    def on_index_ended(self, message: IndexEnded) -> None:
        """The run is over: the pane says so; the app (the message goes on to it) updates the
        status line and the library's counts."""
        self.run.cancel = None
        self.query_one("#index-progress", ProgressBar).display = False
        self.query_one("#index-current", Static).update(plain(message.text))

    def index_started(self, folder: str) -> None:
        bar = self.query_one("#index-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.query_one("#index-current", Static).update(plain(f"finding media in {folder}…"))

    def index_progressed(self, ev: IndexProgressed) -> None:
        bar = self.query_one("#index-progress", ProgressBar)
        # by sampled frames, once there is work to count: indeterminate while the models
        # load (by bytes, it stood at 94 % with seconds to go and its ETA counted the loading)
        if ev.frames and ev.frames_expected:
            bar.update(total=ev.frames_expected, progress=ev.frames)
        frames = f"{ev.frames}/{ev.frames_expected}" if ev.frames_expected else f"{ev.frames}"
        self.query_one("#index-current", Static).update(
            Text.assemble(
                f"{ev.files_done}/{ev.files_total} files, {frames} frames, {ev.faces} faces · ",
                short_path(ev.current, 60),
            )
        )
