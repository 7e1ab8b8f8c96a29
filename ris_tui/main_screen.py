"""ris-tui's main screen: it owns the layout (the query box, the Videos, Photos and Library
tabs, the People tab, the list filter, the status line, the footer). Each pane owns its keys' work and its
workers (the library pane its index run, the lists their pictures); the app owns the keys
(keymap.py), searching, and what goes across panes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, TabbedContent, TabPane

from .library import LibraryPane
from .pathinput import PathInput
from .people import PeoplePane
from .photos import PhotosPane
from .status_line import StatusLine
from .videos import VideosPane

if TYPE_CHECKING:
    from .backend import Backend
    from .library import IndexRun
    from .pictures import Pictures


class MainScreen(Screen[None]):
    class Ready(Message):
        """The layout is mounted: the app may fill it."""

    def __init__(
        self, history: list[str], backend: Backend, pictures: Pictures, index_run: IndexRun
    ) -> None:
        super().__init__()
        self._history = history
        self._backend = backend
        self._pictures = pictures
        self._index_run = index_run

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="search-row"):
            yield Label("Query")
            yield PathInput(
                history=self._history,
                id="query",
                placeholder="photo or clip of the person, then enter (↑ earlier ones)",
                compact=True,
            )
        with TabbedContent(initial="videos"):
            with TabPane("Videos [1]", id="videos"):
                yield VideosPane(self._pictures)
            with TabPane("Photos [2]", id="photos"):
                yield PhotosPane(self._pictures)
            with TabPane("Library [3]", id="library"):
                yield LibraryPane(self._backend, self._index_run)
            with TabPane("People [4]", id="people"):
                yield PeoplePane(self._backend, self._pictures)
        yield Input(
            id="list-filter",
            placeholder="words of the path, any order (enter keeps the filter, esc clears it)",
            compact=True,
        )
        yield StatusLine("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.post_message(self.Ready())
