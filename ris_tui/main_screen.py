"""ris-tui's main screen: it owns the layout (the query box, the Videos, Photos and Library
tabs, the list filter, the status line, the footer); the app owns the keys, the work and what
the workers tell it (messages.py)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, Static, TabbedContent, TabPane

from .library import LibraryPane
from .pathinput import PathInput
from .photos import PhotosPane
from .videos import VideosPane


class MainScreen(Screen[None]):
    class Ready(Message):
        """The layout is mounted: the app may fill it."""

    def __init__(self, history: list[str]) -> None:
        super().__init__()
        self._history = history

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
                yield VideosPane()
            with TabPane("Photos [2]", id="photos"):
                yield PhotosPane()
            with TabPane("Library [3]", id="library"):
                yield LibraryPane()
        yield Input(
            id="list-filter",
            placeholder="words of the path, any order (enter keeps the filter, esc clears it)",
            compact=True,
        )
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.post_message(self.Ready())
