"""People: everyone ris found across the library (engine/people/), most time on screen first,
their faces in a grid beside the list. n names the highlighted person, space marks people and
M merges the marked into the highlighted one, enter opens a person (their files and segments,
x takes a wrong appearance out of them), s searches the library for them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static
from textual.worker import get_current_worker

from .backend import person_video
from .dialogs import Confirm
from .formatting import clock, count, keys_line, plain, printable, short_path
from .images import Gallery, Picture
from .moment import MomentView
from .tables import KeyTable
from .timeline import Timeline

if TYPE_CHECKING:
    from PIL import Image

    from engine.results import PeopleList, Person, PersonFile

    from .backend import Backend
    from .pictures import Pictures

FACES_SHOWN = 8  # faces in the grid: the page of the list the cursor is on


@dataclass(frozen=True)
class PersonSearch:
    """A search for a person of the library (their template), not for a file."""

    ref: str  # the person's id, as text
    label: str  # how the status line names them


def person_label(p: Person) -> str:
    """ "Ann (person 3)", or "person 3" for someone not named yet (names shown escaped)."""
    return f"{printable(p.name)} (person {p.id})" if p.name else f"person {p.id}"


def seen(t: float | None) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(t)) if t else ""


@dataclass
class PeopleLoaded(Message):
    listing: PeopleList | None
    error: str = ""


@dataclass
class PeopleFaces(Message):
    first: int  # the row of the first picture
    pictures: list[Image.Image]


@dataclass
class PeopleChanged(Message):
    """A name, a merge or a removal is done (or failed): said, and the list read again."""

    text: str
    error: bool = False


class NameDialog(ModalScreen[str | None]):
    """A person's name typed; dismisses with it ("" takes the name away; None: cancelled)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "cancel")]
    DEFAULT_CSS = """
    NameDialog { align: center middle; }
    NameDialog > Vertical {
        width: 80%; height: auto; border: round $accent; padding: 0 1; background: $surface;
    }
    """

    def __init__(self, who: str, name: str | None) -> None:
        super().__init__()
        self.who, self.given = who, name

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                f"Name {self.who} (enter keeps it; empty: no name; esc cancels):", markup=False
            )
            yield Input(self.given or "", id="person-name")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())


class PeoplePane(Vertical):
    BINDINGS = [
        Binding("n", "name", "name", show=True),
        Binding("space,m", "mark", "mark", show=True),
        Binding("M", "merge", "merge marked", show=True),
        Binding("s", "search", "search them", show=True),
        Binding("r", "reload", "refresh", show=True),
    ]
    DEFAULT_CSS = """
    PeoplePane #people-summary { height: 1; }
    PeoplePane #people-row { height: 1fr; }
    PeoplePane #people-list { width: 60%; height: 1fr; }
    PeoplePane #people-faces { width: 40%; height: 1fr; }
    PeoplePane Picture.-picked { outline: heavy $accent; }
    PeoplePane Picture.-picked > .caption { color: $text; text-style: bold; }
    """

    def __init__(self, backend: Backend, pictures: Pictures) -> None:
        super().__init__()
        self.backend, self.pictures = backend, pictures
        self.people: tuple[Person, ...] = ()
        self.marked: set[int] = set()
        self._page = -1  # the first row of the faces shown

    def compose(self) -> ComposeResult:
        yield Static("People: r finds them in the library.", id="people-summary")
        with Horizontal(id="people-row"):
            yield KeyTable(id="people-list")
            yield Gallery(id="people-faces")

    def on_mount(self) -> None:
        self.query_one("#people-list", KeyTable).add_columns(
            " ", "#", "name", "on screen", "files", "last seen"
        )

    def load(self) -> None:
        self.query_one("#people-summary", Static).update(
            "Finding the people of the library (new files are sorted first)…"
        )
        self.load_worker()

    @work(thread=True, exclusive=True, group="people")
    def load_worker(self) -> None:
        try:
            listing = self.backend.people()
        except Exception as err:
            self.post_message(PeopleLoaded(None, f"Cannot list the people: {err}"))
            return
        self.post_message(PeopleLoaded(listing))

    def on_people_loaded(self, message: PeopleLoaded) -> None:
        message.stop()
        summary = self.query_one("#people-summary", Static)
        if message.listing is None:
            summary.update(plain(message.error))
            return
        table = self.query_one("#people-list", KeyTable)
        row = table.row
        self.people = message.listing.people
        self.marked &= {p.id for p in self.people}
        table.clear()
        for i, p in enumerate(self.people):
            table.add_row(*self._cells(p), key=str(i))
        if row is not None and self.people:
            table.move_cursor(row=min(row, len(self.people) - 1))
        unsorted = message.listing.unsorted
        summary.update(
            Text.assemble(
                (f"{len(self.people)} {'person' if len(self.people) == 1 else 'people'}", "bold"),
                f", most time on screen first; {unsorted} faces seen once · ",
                *(
                    part
                    for key, does in (
                        ("enter", "open"),
                        ("n", "name"),
                        ("space", "mark"),
                        ("M", "merge"),
                        ("s", "search"),
                    )
                    for part in ((key, "bold"), f" {does}  ")
                ),
            )
        )
        self._page = -1
        self._show_faces(table.row or 0)

    def _cells(self, p: Person) -> tuple[str | Text, ...]:
        return (
            "●" if p.id in self.marked else " ",
            str(p.id),
            plain(printable(p.name)) if p.name else Text("—", style="dim"),
            clock(p.seconds) if p.seconds else "photos",
            str(p.files),
            seen(p.last_seen),
        )

    @property
    def current(self) -> Person | None:
        row = self.query_one("#people-list", KeyTable).row
        return self.people[row] if row is not None and row < len(self.people) else None

    @on(DataTable.RowHighlighted, "#people-list")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_faces(event.cursor_row)

    def _show_faces(self, row: int) -> None:
        """The grid shows the page of the list the cursor is on, its person marked."""
        page = row - row % FACES_SHOWN
        if page != self._page:
            self._page = page
            self.query_one("#people-faces", Gallery).show([])
            self.faces_worker(page)
        else:
            self._mark_picked(row)

    def _mark_picked(self, row: int) -> None:
        for n, picture in enumerate(self.query_one("#people-faces", Gallery).query(Picture)):
            picture.set_class(self._page + n == row, "-picked")

    @work(thread=True, exclusive=True, group="people-faces")
    def faces_worker(self, first: int) -> None:
        shown = [p for p in self.people[first : first + FACES_SHOWN] if p.face_path]
        try:
            pictures = self.pictures.faces([(p.face_path, p.face_t, p.face_box) for p in shown])
        except Exception:
            return  # a file gone or unreachable: the list says the rest
        if not get_current_worker().is_cancelled:
            self.post_message(PeopleFaces(first, pictures))

    def on_people_faces(self, message: PeopleFaces) -> None:
        message.stop()
        if message.first != self._page:
            return
        people = self.people[message.first : message.first + FACES_SHOWN]
        self.query_one("#people-faces", Gallery).show(
            [Picture(im, person_label(p)) for p, im in zip(people, message.pictures, strict=False)]
        )
        self._mark_picked(self.query_one("#people-list", KeyTable).row or 0)

    @on(DataTable.RowSelected, "#people-list")
    def _selected(self) -> None:
        p = self.current
        if p is None:
            return

        def closed(search: bool | None) -> None:
            self.load()  # a name or a removal made there
            if search:
                self._search(p)

        self.app.push_screen(PersonView(self.backend, self.pictures, p), closed)

    def action_reload(self) -> None:
        self.load()

    def action_mark(self) -> None:
        p = self.current
        if p is None:
            self.app.bell()
            return
        self.marked ^= {p.id}
        table = self.query_one("#people-list", KeyTable)
        row = table.row or 0
        table.update_cell(str(row), table.ordered_columns[0].key, self._cells(p)[0])
        if row + 1 < len(self.people):
            table.move_cursor(row=row + 1)  # marking goes down the list, as in file managers

    def action_name(self) -> None:
        p = self.current
        if p is None:
            self.app.bell()
            return

        def named(name: str | None) -> None:
            if name is not None:
                self.edit_worker("name", p, name or None)

        self.app.push_screen(NameDialog(person_label(p), p.name), named)

    def action_merge(self) -> None:
        into = self.current
        others = [p for p in self.people if p.id in self.marked and into and p.id != into.id]
        if into is None or not others:
            self.app.notify(
                "Mark the people to merge with space, then M on the one they are.",
                severity="warning",
            )
            return
        names = ", ".join(person_label(p) for p in others)
        question = f"Merge {names} into {person_label(into)}? Their appearances become theirs."

        def answered(yes: bool | None) -> None:
            if yes:
                self.marked.clear()
                self.edit_worker("merge", into, [str(p.id) for p in others])

        self.app.push_screen(Confirm(question), answered)

    @work(thread=True, group="people-edit")
    def edit_worker(self, what: str, p: Person, arg: object) -> None:
        try:
            if what == "name":
                assert arg is None or isinstance(arg, str)
                done = self.backend.name_person(str(p.id), arg)
                text = f"Person {p.id} is now {person_label(done)}."
            else:
                assert isinstance(arg, list)
                for other in arg:
                    done = self.backend.merge_people(str(p.id), other)
                text = f"Merged {count(len(arg), 'person')} into {person_label(done)}."
        except Exception as err:
            self.post_message(PeopleChanged(f"Cannot change person {p.id}: {err}", True))
            return
        self.post_message(PeopleChanged(text))

    def on_people_changed(self, message: PeopleChanged) -> None:
        message.stop()
        self.app.notify(message.text, severity="error" if message.error else "information")
        self.app.set_status(message.text)  # type: ignore[attr-defined]
        self.load()

    def action_search(self) -> None:
        p = self.current
        if p is None:
            self.app.bell()
            return
        self._search(p)

    def _search(self, p: Person) -> None:
        self.app.search_person(PersonSearch(str(p.id), person_label(p)))  # type: ignore[attr-defined]


@dataclass
class PersonLoaded(Message):
    person: Person | None
    error: str = ""


class PersonView(ModalScreen[bool | None]):
    """One person: their best face, each of their segments and photos (a row each) and the
    selected file's timeline. Dismisses with True when the user asks to search for them (s)."""

    BINDINGS = [
        Binding("escape,q", "dismiss(None)", "back"),
        Binding("s", "dismiss(True)", "search them"),
        Binding("v", "view", "frame by frame"),
        Binding("o", "play", "play"),
        Binding("x,delete", "take_out", "not them"),
        Binding("n", "name", "name"),
    ]
    DEFAULT_CSS = """
    PersonView { align: center middle; }
    PersonView > Vertical { width: 100%; height: 100%; background: $surface; padding: 0 1; }
    PersonView #person-title { height: 1; text-style: bold; }
    PersonView #person-summary { height: 1; color: $text-muted; }
    PersonView #person-row { height: 1fr; }
    PersonView #person-face { width: 1fr; height: 1fr; }
    PersonView #person-files { width: 3fr; height: 1fr; }
    PersonView #person-keys { height: 1; color: $text-muted; }
    """

    def __init__(self, backend: Backend, pictures: Pictures, person: Person) -> None:
        super().__init__()
        self.backend, self.pictures, self.person = backend, pictures, person
        self.rows: list[tuple[PersonFile, int]] = []  # (file, segment; -1: a photo)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="person-title")
            yield Static("Reading their files…", id="person-summary")
            yield Timeline(id="person-timeline")
            with Horizontal(id="person-row"):
                yield Gallery(id="person-face")
                yield KeyTable(id="person-files")
            yield Static(
                keys_line(
                    (
                        ("↑ ↓", "segment"),
                        ("enter v", "frame by frame"),
                        ("o", "play"),
                        ("x", "not them"),
                        ("n", "name"),
                        ("s", "search them"),
                        ("esc", "back"),
                    )
                ),
                id="person-keys",
            )

    def on_mount(self) -> None:
        table = self.query_one("#person-files", KeyTable)
        for label, width in (("kind", 5), ("start", 7), ("end", 7)):  # fixed: auto widths
            table.add_column(label, width=width)  # stayed those of the labels at times
        table.add_column("file", width=self._path_width())
        self._title()
        self.load()
        self.face_worker()

    def _title(self) -> None:
        self.query_one("#person-title", Static).update(plain(person_label(self.person)))

    @work(thread=True, exclusive=True, group="person")
    def load(self) -> None:
        try:
            found = self.backend.person(str(self.person.id))
        except Exception as err:
            self.post_message(PersonLoaded(None, f"Cannot read person {self.person.id}: {err}"))
            return
        self.post_message(PersonLoaded(found))

    @work(thread=True, exclusive=True, group="person-face")
    def face_worker(self) -> None:
        p = self.person
        if not p.face_path:
            return
        try:
            (im,) = self.pictures.faces([(p.face_path, p.face_t, p.face_box)])
        except Exception:
            return
        self.post_message(PeopleFaces(0, [im]))

    def on_people_faces(self, message: PeopleFaces) -> None:
        p = self.person
        caption = f"best face: {clock(p.face_t)}" if p.face_t else "best face"
        self.query_one("#person-face", Gallery).show([Picture(message.pictures[0], caption)])

    def on_person_loaded(self, message: PersonLoaded) -> None:
        summary = self.query_one("#person-summary", Static)
        if message.error:
            self.app.notify(message.error, severity="error")
        if message.person is None:
            summary.update(plain(message.error))
            return
        p = self.person = message.person
        self._title()
        first, last = seen(p.first_seen), seen(p.last_seen)
        summary.update(
            plain(
                f"{count(p.files, 'file')} · {clock(p.seconds)} on screen · "
                f"{count(p.appearances, 'appearance')} · seen {first} to {last}"
            )
        )
        table = self.query_one("#person-files", KeyTable)
        row = table.row
        table.clear()
        self.rows = []
        width = self._path_width()
        for f in p.in_files:
            for k, (start, end) in enumerate(f.segments) if f.segments else [(-1, (0.0, 0.0))]:
                self.rows.append((f, k))
                kind = "photo" if k < 0 else "video"
                times = ("", "") if k < 0 else (clock(start), clock(end))
                table.add_row(kind, *times, short_path(f.path, width))
        table.focus()
        if self.rows:
            table.move_cursor(row=min(row or 0, len(self.rows) - 1))
            self._show_timeline(table.row or 0)

    def _path_width(self) -> int:
        """The file column: the table's 3/4 of the screen less the other columns."""
        return max(20, self.app.size.width * 3 // 4 - 32)

    @on(DataTable.RowHighlighted, "#person-files")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_timeline(event.cursor_row)

    def _show_timeline(self, row: int) -> None:
        timeline = self.query_one("#person-timeline", Timeline)
        if row >= len(self.rows) or self.rows[row][1] < 0:
            timeline.display = False
            return
        f, k = self.rows[row]
        length = f.duration or max(e for _, e in f.segments)
        timeline.display = True
        timeline.show(length, list(f.segments))
        timeline.selected = k

    @on(DataTable.RowSelected, "#person-files")
    def _selected(self) -> None:
        self.action_view()

    def _row(self) -> tuple[PersonFile, int] | None:
        row = self.query_one("#person-files", KeyTable).row
        return self.rows[row] if row is not None and row < len(self.rows) else None

    def action_view(self) -> None:
        picked = self._row()
        if picked is None:
            self.app.bell()
            return
        f, k = picked
        self.app.push_screen(MomentView(self.backend, person_video(f), max(k, 0)))

    def action_play(self) -> None:
        picked = self._row()
        if picked is None or picked[1] < 0:
            self.app.bell()
            return
        f, k = picked
        start, end = f.segments[k]
        self.app.play(f.path, start, end)  # type: ignore[attr-defined]

    def action_take_out(self) -> None:
        picked = self._row()
        if picked is None:
            self.app.bell()
            return
        f, k = picked
        where = "" if k < 0 else f" at {clock(f.segments[k][0])}–{clock(f.segments[k][1])}"
        question = (
            f"Not {person_label(self.person)} in {printable(f.path)}{where}? That appearance "
            "leaves them for good (it stays unsorted)."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                t = None if k < 0 else (f.segments[k][0] + f.segments[k][1]) / 2
                self.take_out_worker(f.path, t)

        self.app.push_screen(Confirm(question), answered)

    @work(thread=True, group="person-edit")
    def take_out_worker(self, path: str, t: float | None) -> None:
        try:
            found = self.backend.take_out(str(self.person.id), path, t)
        except Exception as err:
            self.post_message(PersonLoaded(self.person, f"Cannot take it out: {err}"))
            return
        self.post_message(PersonLoaded(found))

    def action_name(self) -> None:
        def named(name: str | None) -> None:
            if name is not None:
                self.name_worker(name or None)

        self.app.push_screen(NameDialog(person_label(self.person), self.person.name), named)

    @work(thread=True, group="person-edit")
    def name_worker(self, name: str | None) -> None:
        try:
            found = self.backend.name_person(str(self.person.id), name)
        except Exception as err:
            self.post_message(PersonLoaded(self.person, f"Cannot name them: {err}"))
            return
        self.post_message(PersonLoaded(found))
