"""ris-tui: search a video archive for a person from a photo or a clip, keyboard only.

ris-tui [--data-dir DIR] [--query PATH] [--images MODE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import App, SuspendNotSupported, SystemCommand
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, TabbedContent
from textual.worker import get_current_worker

from . import images
from .backend import Backend, EngineError, NothingIndexed, add_flag, is_photo, settings_from
from .browser import QueryBrowser
from .clipboard import Copied, copy_beside
from .dialogs import PICTURED, Confirm, FacePicker, HelpScreen
from .export import export_results, segments_text
from .formatting import clock, count, printable
from .history import QueryHistory
from .keymap import IN_TABS, KEYS, app_bindings, commands
from .library import IndexRun, LibraryPane
from .main_screen import MainScreen
from .messages import (
    FacesToPick,
    IndexEnded,
    LibraryChanged,
    LibraryFailed,
    LibraryLoaded,
    PicturesFailed,
    SearchFailed,
    SearchFinished,
    SearchProgressed,
    SegmentPlayed,
)
from .moment import MomentView
from .pathinput import PathInput, typed_paths
from .people import PeoplePane, PersonSearch
from .photos import PhotosPane
from .pictures import Pictures
from .player import (
    Launch,
    launch,
    play_here,
    player_command,
    terminal_player_command,
    viewer_command,
)
from .status_line import StatusLine
from .videos import AWAY_NOTE, VideosPane

if TYPE_CHECKING:
    from engine.results import PhotoHit, SearchResult, VideoHit
    from engine.search.query import Query


OPENS_A_TEXT_BOX = {"new_search", "index_folder", "filter"}
TAB_LISTS = {
    "videos": "#video-list",
    "photos": "#photo-list",
    "library": "#files",
    "people": "#people-list",
}


def _typed_before_start(event: events.Key | events.Paste) -> events.Key | events.Paste:
    """A fresh copy of an event held while the app started. Keys typed before the terminal
    left line mode had enter turned into a line feed (ICRNL), which reads as ctrl+j."""
    if isinstance(event, events.Paste):
        return events.Paste(event.text)
    if event.key == "ctrl+j":
        return events.Key("enter", "\r")
    return events.Key(event.key, event.character)


class RisApp(App[None]):
    TITLE = "ris"
    # the main screen's layout (main_screen.py): Textual does not load a default screen's own CSS
    CSS = """
    #search-row { height: 1; margin: 0 0 0 0; }
    #search-row Label { width: auto; padding: 0 1; text-style: bold; }
    #query { width: 1fr; }
    #status { height: 1; padding: 0 1; background: $panel; color: $text; }
    #list-filter { display: none; }
    #list-filter.shown { display: block; }
    TabbedContent { height: 1fr; }
    TabPane { padding: 0; }
    .heading { text-style: bold; height: 1; }
    ToastRack { margin-bottom: 2; }  /* above the status line, not over it (Textual: 1) */
    """
    BINDINGS = app_bindings()  # every key once, with the help and the palette: keymap.py
    _people_stale = True  # the People tab reads the people when it is next shown

    def __init__(
        self,
        backend: Backend | None = None,
        query: str | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._now = now
        self.backend = backend or Backend()
        self.initial_query = query
        self.result: SearchResult | None = None
        self.query_read: Query | None = None
        self.threshold: float | None = None  # None: the library's (RIS_THRESHOLD or 0.45)
        self.chosen = 1  # the face or person of the query searched for
        self.top: int | None = None  # None: the engine's (20)
        self.pictures = Pictures(self.backend)  # the faces shown, decoded once
        self.index_run = IndexRun()
        self.history = QueryHistory(self.backend.data_dir)
        self._search_stop = threading.Event()  # set: the running search's engine work stops
        self._first_screen = True  # until the library's state has been shown once
        self._keys_pressed = False
        self._early: list[events.Key | events.Paste] | None = []  # None once the screen is ready
        self._slash_opened = False  # the query box was opened by / (action_new_search)

    @property
    def index_over(self) -> threading.Event:
        """Clear while an index run works."""
        return self.index_run.over

    # layout ----------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        return MainScreen(self.history.load(), self.backend, self.pictures, self.index_run)

    async def on_event(self, event: events.Event) -> None:
        """Keys typed while the app starts (a path typed or pasted right after the command, or
        sent ahead over SSH) are held until the first screen is ready, then given to it in
        order: they came before anything had the focus, so / searched and the rest went
        nowhere."""
        if (
            isinstance(event, (events.Key, events.Paste))
            and not event.is_forwarded
            and self._early is not None
        ):
            self._early.append(event)
            return
        if (
            isinstance(event, events.Paste)
            and not event.is_forwarded
            and self._paste_as_query(event)
        ):
            return
        await super().on_event(event)

    def _paste_as_query(self, event: events.Paste) -> bool:
        """A path pasted (or dropped) while no box has the focus becomes the query, ready for
        enter: in a list a paste did nothing (issue 29)."""
        text = event.text.strip()
        if not text or isinstance(self.focused, Input) or not isinstance(self.screen, MainScreen):
            return False
        query = self.query_one("#query", PathInput)
        query.value = text.splitlines()[0]
        query.cursor_position = len(query.value)
        self.screen.set_focus(query)
        self.set_status("Pasted into the query: enter searches for it, esc leaves it.")
        return True

    async def on_main_screen_ready(self, message: MainScreen.Ready) -> None:
        self.sub_title = printable(str(self.backend.data_dir))
        query = self.query_one("#query", PathInput)
        if self.initial_query:
            query.value = self.initial_query
            self.start_search(Path(self.initial_query))
        else:
            # keys typed before this screen was up were a query: the box takes them; else the
            # list has the focus, and keys are commands (3 i q ? went into the box: "Query 3iq")
            self.screen.set_focus(query if self._early else self.query_one("#video-list"))
            self.set_status(FIRST_HINT)
        self.load_library()
        early, self._early = self._early or [], None
        for event in early:
            await self.on_event(_typed_before_start(event))

    def _preload(self) -> None:
        """Load the face models behind the first screen, once it shows a library with faces
        to search, while the user types the first query. A daemon thread: quitting never waits
        for it. A failure is left for the first search to report, with its hint."""
        with contextlib.suppress(Exception):
            self.backend.load_models()

    def on_key(self) -> None:
        self._keys_pressed = True

    def set_status(self, text: str) -> None:
        self.query_one(StatusLine).say(text)

    def notify(self, message: str, *, markup: bool = False, **kw: Any) -> None:
        """A notification in plain text: what ris-tui says quotes file names and reasons, which
        may hold "[/" or "[bold]" (as markup, the first crashed the app)."""
        super().notify(message, markup=markup, **kw)

    # searching -------------------------------------------------------------------------------
    @on(Input.Submitted, "#query")
    def _query_submitted(self, event: Input.Submitted) -> None:
        box = self.query_one("#query", PathInput)
        paths = typed_paths(event.value)  # as submitted: keys typed after enter may follow it
        if not event.value.strip():
            self.notify("Type the path of a photo or a clip first.", severity="warning")
            self.screen.set_focus(box)
            return
        if len(paths) > 1:  # several photos or clips of one person: one query
            self._slash_opened = False
            box.remember(event.value.strip())
            self.history.save(box.history or [])
            self._search_for(paths)
            return
        path = paths[0]
        rooted = self._slash_kept(path)
        if rooted != path:
            path, box.value = rooted, str(rooted)  # the path searched for, its / given back
        box.remember(str(path))
        self.history.save(box.history or [])
        self._search_for(path)  # the results list has the focus already (action_submit_box)

    def _slash_kept(self, path: Path) -> Path:
        """`/tmp/x.jpg` typed in a list: its / opened the box and the rest was searched for as
        `tmp/x.jpg` (issue 29). A relative path that is not there, typed right after that /,
        is taken from the root where it is there."""
        opened, self._slash_opened = self._slash_opened, False
        rooted = Path("/") / path
        if opened and not path.is_absolute() and not path.exists() and rooted.exists():
            return rooted
        return path

    def start_search(self, path: Path) -> None:
        self._to_the_videos()
        self._search_for(path)

    def _to_the_videos(self) -> None:
        """The Videos tab, its list focused now: the keys typed next are the list's."""
        self.query_one(TabbedContent).active = "videos"
        self.screen.set_focus(self.query_one("#video-list"))

    def _search_for(self, path: Path | list[Path]) -> None:
        """A new query: searched at the library's threshold and top, whatever + - ] [ set for
        the last one (they carried over silently)."""
        self.threshold, self.top = None, None
        self.query_read = None  # + - ] [ wait for this query, never search the last one again
        self.clear_results()
        self._run_search(path)

    def search_person(self, person: PersonSearch) -> None:
        """s in People: the library searched for a person (their template), as for a photo."""
        self._to_the_videos()
        self.threshold, self.top = None, None
        self.query_read = None
        self.clear_results()
        self._run_search(person)

    def _run_search(
        self, query: Path | list[Path] | Query | PersonSearch, face: int | None = None
    ) -> None:
        """Search in a worker; a newer search wins: the older one's reading stops."""
        self._search_stop.set()
        self._search_stop = threading.Event()
        self.search_worker(query, face, stop=self._search_stop)

    @work(thread=True, exclusive=True, group="search")
    def search_worker(
        self,
        query: Path | list[Path] | Query | PersonSearch,
        face: int | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Read the query (the first time: load the models), then search; a newer search wins,
        and `stop` ends the engine's work on a clip (esc, a new search, quitting). What it finds
        is posted as messages of this search (`stop`): those of an older one are dropped."""
        worker = get_current_worker()
        search = stop or threading.Event()
        t0 = self._now()
        try:
            person = ""
            if isinstance(query, PersonSearch):  # a person of the library: their template
                person = query.label
                self.post_message(SearchProgressed(search, f"Searching for {person}…"))
                query = self.backend.person_query(query.ref)
                if worker.is_cancelled:
                    return
                self.query_read = query
            elif isinstance(query, list):  # several of one person, read as one query
                loading = "" if self.backend.models_loaded else " (loading the face models first)"
                several = f"{len(query)} photos and clips of one person"
                self.post_message(SearchProgressed(search, f"Reading {several}{loading}…"))

                def files_read(done: int, total: int) -> None:
                    text = f"Reading {several}: {done}/{total} (esc cancels)"
                    self.post_message(SearchProgressed(search, text))

                query = self.backend.read_together(query, stop, files_read)
                if worker.is_cancelled:
                    return
                self.query_read = query
            elif isinstance(query, Path):
                loading = "" if self.backend.models_loaded else " (loading the face models first)"
                self.post_message(SearchProgressed(search, f"Reading {query.name}{loading}…"))
                name = printable(query.name)

                def reading(done: int, total: int) -> None:
                    bar = "█" * (10 * done // max(total, 1))
                    text = f"Reading {name}: {bar:░<10} {done}/{total} frames (esc cancels)"
                    self.post_message(SearchProgressed(search, text))

                query = self.backend.read_query(query, stop, reading)
                if worker.is_cancelled:
                    return
                self.query_read = query
                if face is None and len(query.faces) > 1:
                    self.post_message(FacesToPick(search, query, self._query_faces(query)))
                    return
            name = person or f"the person in {printable(Path(query.path).name)}"
            self.post_message(SearchProgressed(search, f"Searching for {name}…"))
            result = self.backend.search(query, face or 1, self.threshold, self.top)
        except Exception as err:  # shown, never raised into the UI
            if not worker.is_cancelled:
                self.post_message(SearchFailed(search, err))
            return
        if not worker.is_cancelled:
            self.post_message(SearchFinished(search, result, self._now() - t0))

    def _current(self, search: threading.Event) -> bool:
        """Whether a search's message is news: from the latest search, not cancelled."""
        return search is self._search_stop and not search.is_set()

    def on_search_progressed(self, message: SearchProgressed) -> None:
        if self._current(message.search):
            self.set_status(message.text)

    def on_search_finished(self, message: SearchFinished) -> None:
        if self._current(message.search):
            self.show_result(message.result, message.seconds)

    def on_search_failed(self, message: SearchFailed) -> None:
        if self._current(message.search):
            self.show_error(message.error)

    def on_faces_to_pick(self, message: FacesToPick) -> None:
        if self._current(message.search):
            self._ask_face(message.query, message.pictures)

    def _query_faces(self, query: Query) -> list[Any]:
        try:
            moments = [(f.t, f.bbox) for f in query.faces[:PICTURED]]  # every one it counts
            return self.backend.thumbnails(query.path, moments)
        except Exception:
            return []

    def _ask_face(self, query: Query, pics: list[Any]) -> None:
        name = printable(Path(query.path).name)
        self.set_status(f"{name}: pick the face to search for")

        def picked(number: int | None) -> None:
            if number is None:  # the dialog left: nothing searched, nothing running
                note = f"No face picked: f picks one of {name}'s, / starts a new search."
                self.set_status(note)
                self.clear_results(note)  # the tabs said "Searching…" on
            else:
                self.clear_results()
                self._run_search(query, number)

        self.push_screen(FacePicker(query.kind, query.faces, pics), picked)

    def clear_results(self, note: str = "Searching…") -> None:
        """Empty the lists, tab counts and pictures: nothing of an earlier query stays on screen
        under a new one (which may fail, be cancelled or find nothing). `note` is what the empty
        tabs say meanwhile."""
        self.result = None
        for pane in (self.query_one(VideosPane), self.query_one(PhotosPane)):
            pane.empty_note = note
        self.query_one(VideosPane).show(())
        self.query_one(PhotosPane).show(())
        tabs = self.query_one(TabbedContent)
        tabs.get_tab("videos").label = "Videos [1]"  # type: ignore[assignment]
        tabs.get_tab("photos").label = "Photos [2]"  # type: ignore[assignment]

    def show_result(self, result: SearchResult, seconds: float) -> None:
        self.result = result
        self.threshold = result.threshold  # what + and - step from
        self.chosen = result.query.chosen
        q = result.query
        where = f"at similarity {result.threshold:.2f} or more"
        self.query_one(VideosPane).empty_note = f"No video shows this person {where}."
        self.query_one(PhotosPane).empty_note = f"No photo shows this person {where}."
        self.query_one(VideosPane).show(result.videos)
        self.query_one(PhotosPane).show(result.images)
        tabs = self.query_one(TabbedContent)
        videos = _sure_and_possible(result.videos)
        photos = _sure_and_possible(result.images)
        tabs.get_tab("videos").label = f"Videos ({_counts(videos)}) [1]"  # type: ignore[assignment]
        tabs.get_tab("photos").label = f"Photos ({_counts(photos)}) [2]"  # type: ignore[assignment]
        what = "person" if q.kind == "video" else "face"
        several = f" · {what} {q.chosen} of {len(q.faces)} (f: another)" if len(q.faces) > 1 else ""
        maybe = videos[1] + photos[1]
        possible = (
            f" (+{maybe} possible, marked ?, down to {result.possible:.2f})"
            if maybe and result.possible is not None
            else ""
        )
        name = printable(Path(q.path).name)
        if q.together:
            name = f"{name} and {len(q.together) - 1} more as one person"
        self.set_status(
            f"{name}{several} · {count(videos[0], 'video')}, "
            f"{count(photos[0], 'photo')} at similarity ≥ {result.threshold:.2f}{possible} · "
            f"{seconds:.1f} s · top {self.top or TOP} (+ - ] [ change)"
        )
        if (not result.videos and result.images) or (not videos[0] and photos[0]):
            tabs.active = "photos"  # where the real matches are, not possible videos only
            self.screen.set_focus(self.query_one("#photo-list"))
        self.pictures.query, self.pictures.chosen = self.query_read, self.chosen
        self.query_one(VideosPane).load_faces()
        self.query_one(PhotosPane).load_pictures()

    def show_error(self, err: BaseException) -> None:
        if isinstance(err, NothingIndexed):  # the engine's hint is the command line's
            hint = "i indexes a folder here (the Library tab), or start ris-tui --data-dir on one"
            self.notify(hint, title=err.title, severity="error", timeout=10)
            message = f"{err.title}: press i to index a folder."
        elif isinstance(err, EngineError):
            self.notify(err.hint or " ", title=err.title, severity="error", timeout=10)
            message = err.title
        else:
            message = f"{type(err).__name__}: {err}"
            self.notify(message, title="Unexpected error", severity="error", timeout=10)
        self.set_status(f"Error: {message}")
        if self.result is None:  # the tabs say why they are empty
            self.clear_results(f"No results: {message}")

    # the detail panes ------------------------------------------------------------------------
    def on_segment_played(self, message: SegmentPlayed) -> None:
        self.action_open()

    def on_pictures_failed(self, message: PicturesFailed) -> None:
        self.set_status(message.text)

    # the library -----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="status")
    def load_library(self) -> None:
        try:
            self.post_message(LibraryLoaded(self.backend.status()))
        except Exception as err:
            self.post_message(LibraryFailed(err))

    def on_library_failed(self, message: LibraryFailed) -> None:
        self.show_error(message.error)

    def on_library_loaded(self, message: LibraryLoaded) -> None:
        """The first screen says what the library holds; an empty one opens where to index."""
        st = message.status
        self.query_one(LibraryPane).show_status(st)
        searching = any(w.group == "search" and w.is_running for w in self.workers)
        first, self._first_screen = self._first_screen, False
        if first and st.faces and not self.backend.models_loaded:
            threading.Thread(target=self._preload, name="ris-preload", daemon=True).start()
        if not first or self.result is not None or searching or self.index_run.going:
            return  # not the first screen any more
        if not st.files:
            typing = self._keys_pressed or self.query_one("#query", PathInput).value
            if not typing:  # never take the focus from someone already typing
                self.query_one(TabbedContent).active = "library"
                self.screen.set_focus(self.query_one("#index-path"))
            self.set_status(
                f"Nothing is indexed in {printable(str(st.data_dir))} yet: type a folder of "
                "photos and videos here and press enter (i from anywhere)."
            )
            return
        self.set_status(
            f"{count(st.videos, 'video')}, {count(st.images, 'photo')}, "
            f"{count(st.faces, 'face')} indexed. {FIRST_HINT}"
        )

    @on(TabbedContent.TabActivated)
    def _tab_shown(self) -> None:
        self.refresh_bindings()  # the footer shows the keys of the tab in view
        self._people_shown()

    def _people_shown(self) -> None:
        """The People tab reads the people when shown after the library changed (reading
        them sorts the files indexed since into people: not worth doing unseen)."""
        if self._people_stale and self.query_one(TabbedContent).active == "people":
            self._people_stale = False
            self.query_one(PeoplePane).load()

    def _library_changed(self) -> None:
        self._people_stale = True
        self._people_shown()

    def on_index_ended(self, message: IndexEnded) -> None:
        """The library pane has said the run is over (library.py): the status line, errors,
        the library's counts, and the focus back to the query box where the run left it."""
        if message.error is not None:
            self.show_error(message.error)
        self.set_status(message.text)
        self.load_library()
        self._library_changed()
        if self.focused in (self.query_one("#index-path"), self.query_one("#files")):
            self.action_new_search()  # still where the run left it: searching comes next

    def on_library_changed(self, message: LibraryChanged) -> None:
        """Files taken out of the index (library.py): said, and the library read again."""
        if message.error is not None:
            self.show_error(message.error)
        self.set_status(message.text)
        self.load_library()
        self._library_changed()

    # actions ---------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The keys that open a text box, and enter in one, act as they arrive (priority
        bindings), so the keys typed after them go where they lead; but not while a text box
        is being typed in (/ and i are characters of a path there) or over a dialog: then they
        are passed on, and the footer shows them dimmed (None). Tab keys are not priority: two
        tab switches in one turn of the App let Textual's own message for the first switch it
        back afterwards (2, q, q: the second q found the Photos tab again). They move the focus
        at once (set_focus), which is what keys typed after them need."""
        tabs = IN_TABS.get(action)
        main = isinstance(self.screen, MainScreen)
        if tabs is not None and main and self.query_one(TabbedContent).active not in tabs:
            return False  # not this tab's: off, and out of the footer (issue 29)
        if action not in OPENS_A_TEXT_BOX and action != "submit_box":
            return True
        if not isinstance(self.screen, MainScreen):
            return None
        box = self.focused if isinstance(self.focused, Input) else None
        if action == "submit_box":  # else enter is the focused widget's
            return True if box is not None and box.id in ("query", "list-filter") else None
        return None if box is not None else True

    def action_submit_box(self) -> None:
        """Enter in the query or the filter box, as the key arrives: the list it leads to takes
        the focus before the keys typed after enter are handed on (they are the list's: 2 for
        the photos...; they went into the box, after the path, and were searched for with it).
        The box submits once it has taken the keys typed before enter, which are still on their
        way to it (its queue): what it holds then is what was typed."""
        box = self.focused
        assert isinstance(box, Input)
        if box.id == "query":
            self._to_the_videos()
        else:
            self.screen.set_focus(self._list_in_view())
        box.call_later(box.action_submit)

    def action_new_search(self) -> None:
        """Focus the query box now, not after a refresh (what `focus()` does): keys typed or
        pasted right after / must land in it, not in the list they came from."""
        query = self.query_one("#query", PathInput)
        self.screen.set_focus(query)
        query.select_all()
        self._slash_opened = True  # the / may have been a path's first character

    def action_browse(self) -> None:
        """b or ctrl+o: the query chosen from the disk (browser.py), from the last query's
        folder or the working directory; several files marked are one person."""
        if not isinstance(self.screen, MainScreen):
            return  # (ctrl+o reaches the app over a dialog too)
        box = self.query_one("#query", PathInput)
        last = typed_paths(box.value)[0] if box.value.strip() else None
        start = last.parent if last is not None and last.parent.is_dir() else Path.cwd()

        def chosen(paths: list[Path] | None) -> None:
            if not paths:
                self.screen.set_focus(self.query_one(TAB_LISTS["videos"]))
                return
            box.value = str(paths[0]) if len(paths) == 1 else shlex.join(map(str, paths))
            self._to_the_videos()
            box.remember(box.value)
            self.history.save(box.history or [])
            self._search_for(paths[0] if len(paths) == 1 else paths)

        self.push_screen(QueryBrowser(start), chosen)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()  # F1 again closes it
        else:
            self.push_screen(HelpScreen())

    def action_tab(self, name: str) -> None:
        self.query_one(TabbedContent).active = name
        self.screen.set_focus(self.query_one(TAB_LISTS[name]))

    def _ordered_pane(self) -> tuple[str, VideosPane | PhotosPane] | None:
        """The list in view that can be filtered and sorted (videos or photos)."""
        tab = self.query_one(TabbedContent).active
        if tab == "videos":
            return "videos", self.query_one(VideosPane)
        if tab == "photos":
            return "photos", self.query_one(PhotosPane)
        return None

    def action_filter(self) -> None:
        target = self._ordered_pane()
        if target is None:
            self.bell()
            self.set_status("Filter the videos or the photos: 1 or 2 first, then ctrl+f.")
            return
        box = self.query_one("#list-filter", Input)
        with box.prevent(Input.Changed):  # the box is shared: it shows this list's own filter
            box.value = target[1].ordering.text
        box.add_class("shown")
        self.screen.set_focus(box)

    @on(Input.Changed, "#list-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        target = self._ordered_pane()
        if target is None:
            return
        kind, pane = target
        pane.order(pane.ordering.filtered(event.value))
        self._say_ordering(kind, pane)

    @on(Input.Submitted, "#list-filter")
    def _filter_kept(self, event: Input.Submitted) -> None:
        self._leave_filter()

    def _leave_filter(self, clear: bool = False) -> None:
        box = self.query_one("#list-filter", Input)
        target = self._ordered_pane()
        if clear and target is not None:  # now, on this list: a Changed handled after a key
            # that switched tabs cleared the other list's filter
            with box.prevent(Input.Changed):
                box.value = ""
            kind, pane = target
            pane.order(pane.ordering.filtered(""))
            self._say_ordering(kind, pane)
        box.remove_class("shown")
        self.screen.set_focus(self._list_in_view())

    def _list_in_view(self) -> Widget:
        """The list the filter and sort act on: the videos or the photos."""
        target = self._ordered_pane()
        return self.query_one("#photo-list" if target and target[0] == "photos" else "#video-list")

    def action_sort(self) -> None:
        target = self._ordered_pane()
        if target is None:
            self.bell()
            return
        kind, pane = target
        pane.order(pane.ordering.next_sort(kind))
        self._say_ordering(kind, pane)

    def _say_ordering(self, kind: str, pane: VideosPane | PhotosPane) -> None:
        o = pane.ordering
        shown = len(pane.videos) if isinstance(pane, VideosPane) else len(pane.photos)
        noun = "video" if kind == "videos" else "photo"
        what = f"{shown} of {count(len(pane.ranked), noun)}" if o.text else count(shown, noun)
        found = f" with {o.text!r} in the path" if o.text else ""
        self.set_status(f"{what}{found}, by {o.sort} (s: another order; ctrl+f: filter)")

    def action_segment(self, delta: int) -> None:
        pane = self.query_one(VideosPane)
        if pane.current is None or pane.step(delta) is None:
            self.bell()

    def _moment(self) -> tuple[str, float, float] | None:
        """The path and time the user is looking at, and where it ends: the segment's start and
        end (a video without one: the whole), or a photo."""
        if self.query_one(TabbedContent).active == "photos":
            hit = self.query_one(PhotosPane).current
            return (hit.path, 0.0, 0.0) if hit else None
        pane = self.query_one(VideosPane)
        video, seg = pane.current, pane.segment
        if video is None:
            return None
        if seg is None:
            return video.path, 0.0, video.duration
        return video.path, video.segments[seg].start, video.segments[seg].end

    def action_open(self) -> None:
        moment = self._moment()
        if moment is None:
            self.bell()
            return
        self.play(*moment)

    def action_view(self) -> None:
        """v: the moment large in the terminal, its frames stepped through (moment.py); a photo
        as enter shows it."""
        if self.query_one(TabbedContent).active == "photos":
            self.query_one(PhotosPane).enlarge()
            return
        pane = self.query_one(VideosPane)
        video = pane.current
        if video is None:
            self.bell()
            return
        if not video.reachable:
            self.notify(AWAY_NOTE, severity="warning", timeout=10)
            return
        self.push_screen(MomentView(self.backend, video, pane.segment or 0))

    def play(self, path: str, t: float, end: float) -> None:
        """A video from `t` in the user's player, a photo in their viewer; with no display, a
        video plays in this terminal where a player can (mpv's text cells), else the command is
        shown and copied for where the user watches."""
        cmd = viewer_command(path) if is_photo(path) else player_command(path, t)
        if cmd.found:
            try:
                launch(cmd)
                self.notify(cmd.text, title="Playing")
            except OSError as err:
                self.notify(f"{err}\n{cmd.text}", title="Cannot start the player", severity="error")
            return
        here = None if is_photo(path) else terminal_player_command(path, t, end)
        if here is not None and here.found:
            self._play_here(here)
            return
        copied = self._copy(cmd.text)
        told = f"{copied.title}: {copied.how}" if copied.how else copied.title
        why = cmd.why_not if here is None else f"{cmd.why_not}; {here.why_not}"
        self.notify(f"{cmd.text}\n({told})", title=why, timeout=12)

    def _play_here(self, cmd: Launch) -> None:
        """The terminal given to the player until it ends, then ris-tui again as it was."""
        try:
            with self.suspend():
                code = play_here(cmd)
        except SuspendNotSupported:
            self.notify(cmd.text, title="Cannot play in this terminal", severity="error")
            return
        except OSError as err:
            self.notify(f"{err}\n{cmd.text}", title="Cannot start the player", severity="error")
            return
        self.refresh(layout=True)
        done = "Played in the terminal" if code == 0 else f"The player ended with status {code}"
        self.set_status(f"{done}: {cmd.text}")

    def action_copy(self, what: str = "path") -> None:
        """y: the path, quoted for a shell; Y: the moment, in seconds."""
        moment = self._moment()
        if moment is None:
            self.bell()
            return
        path, t, _ = moment
        text = shlex.quote(path) if what == "path" else f"{t:.2f}"
        copied = self._copy(text)
        if not copied.done or copied.how:
            severity = "warning" if copied.done else "error"
            self.notify(f"{copied.how}\n{text}", title=copied.title, severity=severity, timeout=12)
            return
        at = "" if is_photo(path) or what != "path" else f" · at {clock(t)} (Y copies {t:.2f})"
        self.notify(f"{text}{at}", title=copied.title)

    def _copy(self, text: str) -> Copied:
        """Copy by OSC 52, and where the terminal is tmux into its buffer too (clipboard.py)."""
        self.copy_to_clipboard(text)
        return copy_beside(text)

    def action_export(self) -> None:
        if self.result is None:
            self.notify("Nothing to export yet: search first.", severity="warning")
            return
        export_results(self, *self._shown_result(self.result))

    def _shown_result(self, result: SearchResult) -> tuple[SearchResult, str]:
        """The results as the lists show them: only what a filter keeps, in the order shown
        (everything was exported, whatever the filter); and, if filtered, what that is."""
        videos, photos = self.query_one(VideosPane), self.query_one(PhotosPane)
        filters = [
            f"{len(shown)} of {count(len(pane.ranked), noun)} (filter {pane.ordering.text!r})"
            for pane, shown, noun in (
                (videos, videos.videos, "video"),
                (photos, photos.photos, "photo"),
            )
            if pane.ordering.text
        ]
        if not filters:
            return result, ""
        shown = replace(result, videos=videos.videos, images=photos.photos)
        return shown, f"Only what the lists show: {' and '.join(filters)}."

    def action_copy_segments(self) -> None:
        """c: every segment of the selected video at once, a line each (path, start, end)."""
        video = self.query_one(VideosPane).current
        if video is None or not video.segments:
            self.bell()
            return
        text = segments_text(video)
        copied = self._copy(text)
        segs = count(len(video.segments), "segment")
        if not copied.done or copied.how:
            severity = "warning" if copied.done else "error"
            self.notify(f"{copied.how}\n{segs}", title=copied.title, severity=severity, timeout=12)
            return
        self.notify(f"{segs} of {printable(Path(video.path).name)}", title=copied.title)

    def action_pick_face(self) -> None:
        q = self.query_read
        if q is None or len(q.faces) < 2:
            self.notify("The query has a single face.", severity="information")
            return
        self._ask_face(q, self._query_faces(q))

    def action_threshold(self, delta: float) -> None:
        """Search the same face again at a stricter (+) or looser (-) threshold; presses
        while that search runs add up."""
        if self.query_read is None or self.threshold is None:
            self.notify("Search first: + and - then change the threshold.", severity="information")
            return
        now = self.threshold
        self.threshold = round(min(MAX_THRESHOLD, max(MIN_THRESHOLD, now + delta)), 2)
        if self.threshold == now:
            self.notify(f"The threshold stays at {now:.2f}.", severity="information")
            return
        self._search_again()

    def action_top(self, factor: float) -> None:
        """Search again listing twice (]) or half ([) as many videos and photos."""
        if self.query_read is None or self.threshold is None:
            self.notify("Search first: ] and [ then list more or fewer.", severity="information")
            return
        now = self.top or TOP
        self.top = int(min(MAX_TOP, max(MIN_TOP, round(now * factor))))
        if self.top == now:
            self.notify(f"Already listing {now} at most.", severity="information")
            return
        self._search_again()

    def _search_again(self) -> None:
        """The query read last, searched again for the same face with the current settings."""
        assert self.query_read is not None
        self.clear_results()
        self._run_search(self.query_read, self.chosen)

    def action_index_folder(self) -> None:
        self.query_one(TabbedContent).active = "library"
        self.screen.set_focus(self.query_one("#index-path"))  # now: the path typed next lands

    def action_refresh_library(self) -> None:
        self.load_library()

    def action_forget_file(self) -> None:
        self.query_one(LibraryPane).ask_forget()

    def action_cancel(self) -> None:
        """esc leaves the innermost thing (a box, the segments), as in lazygit and k9s; where
        there is nothing to leave it cancels the running work (a second esc, from a box)."""
        if self.focused is self.query_one("#list-filter", Input):
            self._leave_filter(clear=True)
            return
        if isinstance(self.focused, Input):  # leave the box for the list of the tab in view
            tab = self.query_one(TabbedContent).active
            self.screen.set_focus(self.query_one(TAB_LISTS.get(tab, "#video-list")))
            return
        if self.focused is not None and self.focused.id == "segments":
            self.screen.set_focus(self.query_one("#video-list"))
            return
        if self.index_run.going:
            self.index_run.stop()
            self.set_status("Cancelling the index run after the current chunk…")
            return
        running = [w for w in self.workers if w.group == "search" and w.is_running]
        if running:
            self._search_stop.set()  # the engine stops reading the clip, not just the UI
            self.workers.cancel_group(self, "search")
            self.set_status("Search cancelled.")
            self.clear_results("Search cancelled: / for a new one.")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p): the app's own actions by name (keymap.py), then
        Textual's."""
        for command in commands():
            yield SystemCommand(
                command.title, command.help, partial(self.run_action, command.action)
            )
        yield from super().get_system_commands(screen)

    def exit(self, *args: Any, **kwargs: Any) -> None:
        """Quit at once: the engine work of a running search or index run is told to stop, so
        the process does not outlive its screen waiting for it (q, ctrl+c, a crash)."""
        self.stop_work()
        super().exit(*args, **kwargs)

    def stop_work(self) -> None:
        self._search_stop.set()
        self.index_run.stop()

    def action_go_back(self) -> None:
        tabs = self.query_one(TabbedContent)
        focused = self.focused
        if tabs.active != "videos":
            self.action_tab("videos")
        elif focused is not None and focused.id in ("segments",):
            self.screen.set_focus(self.query_one("#video-list"))
        elif self.index_run.going:  # q during an index run: asked first
            question = "An index run is going: quit and stop it (what is committed is kept)?"
            self.push_screen(Confirm(question), lambda yes: self.exit() if yes else None)
        else:
            self.exit()


FIRST_HINT = "Type the path of a photo or clip of the person after / (or paste it), then enter."
TOP = 20  # the engine's default number of videos and photos listed
MIN_TOP, MAX_TOP = 5, 640
MIN_THRESHOLD, MAX_THRESHOLD = 0.05, 0.95


def _sure_and_possible(hits: tuple[VideoHit, ...] | tuple[PhotoHit, ...]) -> tuple[int, int]:
    """How many hits match, and how many only possibly do."""
    maybe = sum(1 for h in hits if h.possible)
    return len(hits) - maybe, maybe


def _counts(counts: tuple[int, int]) -> str:
    return f"{counts[0]}+{counts[1]}?" if counts[1] else str(counts[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ris-tui",
        description="Search your indexed videos and photos for a person, from a photo or a clip.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="keys:\n"
        + "\n".join(f"  {k:<16}{what}" for k, what in KEYS)
        + "\n\nIndex with `ris index FOLDER`, or from the Library tab (i).",
    )
    add_flag(parser, "data_dir")  # the engine's settings: their flags as `ris` has them
    parser.add_argument("--query", help="search this photo or clip at start")
    parser.add_argument(
        "--images",
        choices=images.MODES,
        default=None,
        help="how to draw faces: auto (default; RIS_TUI_IMAGES) picks sixel or kitty graphics "
        "where the terminal has them, else half-blocks",
    )
    add_flag(parser, "backend", choices=("usearch", "milvus"))
    add_flag(parser, "milvus_uri")
    add_flag(parser, "catalog")
    args = parser.parse_args(argv)

    wanted = args.images or os.environ.get("RIS_TUI_IMAGES", "auto")
    if wanted not in images.MODES:  # (a flag's value argparse has checked: the variable's)
        print(
            f"ris-tui: error: RIS_TUI_IMAGES={wanted!r} is not one of {', '.join(images.MODES)} "
            "(unset it for auto)",
            file=sys.stderr,
        )
        return 2
    images.choose_mode(wanted)
    try:
        settings = settings_from(args.data_dir, args.backend, args.milvus_uri, args.catalog)
    except EngineError as err:
        print(f"ris-tui: error: {err}", file=sys.stderr)
        return err.exit_code
    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        print(
            f"ris-tui: error: the data directory {settings.data_dir} is a file, not a folder "
            "(--data-dir names the folder that holds a library)",
            file=sys.stderr,
        )
        return 2
    app = RisApp(Backend(settings), args.query)
    loop = asyncio.new_event_loop()  # (not asyncio.run: it would wait for the workers' threads)
    try:
        app.run(loop=loop)
    finally:
        app.stop_work()  # however the app ended, its workers' engine work stops
    code = app.return_code or 0  # 1 after a crash, so scripts and shells see it
    leave(code, app.index_over)
    return code


INDEX_STOP_WAIT = 60.0  # seconds an index run gets to save its work once the app has ended


def leave(code: int, index_over: threading.Event) -> None:
    """End the process now that the screen is restored. A search in flight only reads, so it is
    not waited for (its batch could take seconds on a busy machine, and the decoding processes
    die with this one); an index run is, as it saves what it has done once told to stop."""
    if not index_over.is_set():
        print("ris-tui: saving the index run's work…", file=sys.stderr, flush=True)
        index_over.wait(INDEX_STOP_WAIT)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main())
