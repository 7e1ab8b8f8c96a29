"""Every key of ris-tui and every action by name, written once.

Each row is what the help shows (the keys as people read them, and what they do), the app's
bindings behind it (the keys of the lists and of the path boxes are their widgets' own, in
`tables.py` and `pathinput.py`), and the command palette's entries for it. The app's
BINDINGS, the help screen, `ris-tui --help`, the palette and docs/tui.md's key table all come
from here (tests/test_tui.py holds the last to it).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Command:
    """An entry of the command palette: a title, what it does, the action it runs."""

    title: str
    help: str
    action: str


@dataclass(frozen=True)
class Row:
    keys: str  # as the help shows them
    does: str
    bindings: tuple[Binding, ...] = ()  # the app's own
    commands: tuple[Command, ...] = ()


def _b(keys: str, action: str, label: str, show: bool = False, priority: bool = False) -> Binding:
    return Binding(keys, action, label, show=show, priority=priority)


# priority: run as the key arrives, so the keys typed ahead after it (over SSH they come in one
# read) land in the box it opens, not in the list (see RisApp.check_action)
ROWS: tuple[Row, ...] = (
    Row(
        "/  b  ctrl+o",
        "new search: type a path, or browse for files",
        (
            _b("slash", "new_search", "search", show=True, priority=True),
            _b("b", "browse", "browse"),
            _b("ctrl+o", "browse", "browse", priority=True),
            # ctrl+j too: an enter typed while the terminal was still in line mode comes as a line
            # feed (ICRNL), and over a slow start it can arrive after the first screen (readline
            # takes ctrl+j as enter as well)
            _b("enter,ctrl+j", "submit_box", "", priority=True),  # the query or filter box
        ),
        (
            Command("Search (/)", "search for a person: a photo or clip path", "new_search"),
            Command(
                "Browse for the query (b, ctrl+o)",
                "pick a photo or clip, or mark several of one person (space)",
                "browse",
            ),
        ),
    ),
    Row("tab  →", "in a path box: complete the path"),
    Row("↑  ↓", "in the query box: earlier / later queries"),
    Row("↑ ↓ j k", "in a list: move"),
    Row("g G Home End", "in a list: first / last"),
    Row(
        "ctrl+f  s",
        "filter a list by path / sort: score, name, length",
        (
            _b("ctrl+f", "filter", "filter", show=True, priority=True),
            _b("s", "sort", "sort", show=True),
        ),
        (
            Command("Filter the list (ctrl+f)", "by words of the path", "filter"),
            Command("Sort the list (s)", "by score, name or length", "sort"),
        ),
    ),
    Row("enter", "open a video's segments, play one, enlarge a photo"),
    Row("tab  shift+tab", "next / previous pane"),
    Row(
        "1  2  3  4",
        "videos / photos / library / people",
        (
            _b("1", "tab('videos')", "videos"),
            _b("2", "tab('photos')", "photos"),
            _b("3", "tab('library')", "library"),
            _b("4", "tab('people')", "people"),
        ),
        (
            Command(
                "People (4)",
                "everyone found across the library: name, merge, search for them",
                "tab('people')",
            ),
        ),
    ),
    Row("n  m  M  s", "People tab: name / mark / merge marked / search"),
    Row(
        "n  p",
        "next / previous segment",
        (
            _b("n", "segment(1)", "next seg", show=True),
            _b("p", "segment(-1)", "prev seg", show=True),
        ),
    ),
    Row(
        "o  v",
        "play the moment / see it here, frame by frame",
        (_b("o", "open", "open", show=True), _b("v", "view", "view", show=True)),
        (
            Command("Open in a player (o)", "the selected video at its segment", "open"),
            Command(
                "See the moment here (v)",
                "the segment's frames large in the terminal; save a frame or a clip",
                "view",
            ),
        ),
    ),
    Row(
        "y  Y  c",
        "copy path (shell-quoted) / time / all segments",
        (
            _b("y", "copy('path')", "copy", show=True),
            _b("Y", "copy('time')", "copy time"),
            _b("c", "copy_segments", "copy segs"),
        ),
        (
            Command("Copy the path (y)", "quoted for a shell, by OSC 52", "copy('path')"),
            Command("Copy the time (Y)", "seconds into the video, by OSC 52", "copy('time')"),
            Command(
                "Copy the video's segments (c)",
                "every one: path, start and end, a line each",
                "copy_segments",
            ),
        ),
    ),
    Row(
        "e",
        "export what is shown (.json, or .csv segments)",
        (_b("e", "export", "export", show=True),),
        (Command("Export results (e)", "as JSON, or the segments as CSV (.csv)", "export"),),
    ),
    Row(
        "f",
        "search for another face or person of the query",
        (_b("f", "pick_face", "face", show=True),),
        (Command("Search for another face (f)", "or another person of the clip", "pick_face"),),
    ),
    Row(
        "+  -",
        "threshold up / down 0.05, searched again",
        (
            _b("plus,equals_sign", "threshold(0.05)", "stricter", show=True),
            _b("minus", "threshold(-0.05)", "looser", show=True),
        ),
        (
            Command("Stricter threshold (+)", "search again, 0.05 higher", "threshold(0.05)"),
            Command("Looser threshold (-)", "search again, 0.05 lower", "threshold(-0.05)"),
        ),
    ),
    Row(
        "]  [",
        "list twice / half as many videos and photos",
        (
            _b("right_square_bracket", "top(2)", "more"),
            _b("left_square_bracket", "top(0.5)", "fewer"),
        ),
        (
            Command("More results (])", "twice as many", "top(2)"),
            Command("Fewer results ([)", "half as many", "top(0.5)"),
        ),
    ),
    Row(
        "i  r  x",
        "index a folder / refresh library / forget a file",
        (
            _b("i", "index_folder", "index", show=True, priority=True),
            _b("r", "refresh_library", "refresh", show=True),
            _b("x", "forget_file", "forget", show=True),
        ),
        (
            Command("Index a folder (i)", "add or update a folder's media", "index_folder"),
            Command("Refresh the library (r)", "what is indexed, what failed", "refresh_library"),
            Command(
                "Forget a file (x)",
                "take the selected file of the library out of the index (the file stays)",
                "forget_file",
            ),
        ),
    ),
    Row("esc", "cancel a search or index run; leave a box", (_b("escape", "cancel", "cancel"),)),
    Row(
        "?  F1  ctrl+p",
        "help (F1 also while typing); all actions by name",
        (
            _b("question_mark", "help", "help"),
            _b("f1", "help", "help", show=True, priority=True),  # also while typing
        ),
        (Command("Help: every key (? F1)", "what each key of ris-tui does", "help"),),
    ),
    Row(
        "q  ctrl+c",
        "back, quit from the video list / quit",
        (
            _b("q", "go_back", "back/quit", show=True),
            _b("ctrl+c", "quit", "quit", priority=True),
        ),
    ),
)

KEYS = [(row.keys, row.does) for row in ROWS]  # the help's rows


# the keys the footer shows, in order: those of the tab in view (IN_TABS), the most used first
FOOTER = (
    *("slash", "f1", "q", "n", "p", "o", "v", "y", "f"),
    *("plus,equals_sign", "minus", "ctrl+f", "s", "e", "i", "r", "x"),
)
RESULTS = frozenset({"videos", "photos"})
# actions that belong to some tabs only: elsewhere they are off, and the footer leaves them out
IN_TABS = {
    **dict.fromkeys(("segment", "copy_segments"), frozenset({"videos"})),
    **dict.fromkeys(("open", "view", "copy", "export", "sort", "filter"), RESULTS),
    **dict.fromkeys(("pick_face", "threshold", "top"), RESULTS),
    **dict.fromkeys(("refresh_library", "forget_file"), frozenset({"library"})),
}


def app_bindings() -> list[Binding | tuple[str, str] | tuple[str, str, str]]:
    """The app's bindings: the footer's first, in its order, then the others."""
    every = [binding for row in ROWS for binding in row.bindings]
    shown = sorted((b for b in every if b.show), key=lambda b: FOOTER.index(b.key))
    return [*shown, *(b for b in every if not b.show)]


def commands() -> list[Command]:
    """The palette's entries, in the order of the help."""
    return [command for row in ROWS for command in row.commands]
