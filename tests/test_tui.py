"""ris-tui driven through Textual's pilot, over a stand-in engine (fast); real flows: test_tui_real."""

from __future__ import annotations

import csv
import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from textual import events
from textual.widgets import Input, Static, TabbedContent
from tui_support import FakeBackend, canned_result, drawn_face

from engine.timecodes import clock
from ris_tui.app import RisApp
from ris_tui.browser import MediaTree
from ris_tui.dialogs import FacePicker, HelpScreen
from ris_tui.file_view import FileView
from ris_tui.images import HalfBlocks
from ris_tui.main_screen import MainScreen
from ris_tui.moment import MomentView
from ris_tui.pathinput import complete, completions
from ris_tui.photos import PhotosPane
from ris_tui.player import player_command
from ris_tui.timeline import Timeline
from ris_tui.videos import VideosPane


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    """Let every worker finish, and the messages they posted land (twice: results start more)."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def search(pilot, path: str = "/q/face.jpg") -> None:  # type: ignore[no-untyped-def]
    await pilot.press("escape", "slash", *path, "enter")  # esc leaves the box, / comes back
    await settle(pilot)


def rows(app: RisApp, table: str) -> list[list[str]]:
    t = app.query_one(table)
    return [[str(c) for c in t.get_row_at(i)] for i in range(t.row_count)]


async def test_search_shows_ranked_videos_with_segments_timeline_and_faces():
    backend = FakeBackend()
    app = RisApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot)
        assert backend.searches == [("/q/face.jpg", 1)]
        videos = rows(app, "#video-list")
        assert [r[0] for r in videos] == ["1", "2", "3"]
        assert videos[0][1] == "0.812" and videos[0][2].endswith("interview_1.mp4")
        assert videos[1][3:] == ["0:33.5", "3"]  # length, segments
        assert app.focused is app.query_one("#video-list")
        pictures = list(app.query_one("#thumbs").query(HalfBlocks))
        assert len(pictures) == 4 and all(p._image is not None for p in pictures)
        # first the face searched for, then the three best faces found
        captions = [str(s.render()) for s in app.query_one("#thumbs").query(".caption")]
        assert captions[0] == "searched for" and len(captions) == 4
        assert "3 videos, 2 photos" in str(app.query_one("#status").render())
        # the second video has three segments: n/p step through them and the timeline follows
        await pilot.press("j")
        await settle(pilot)
        assert rows(app, "#segments") == [
            ["1", "0:00.0", "0:08.5", "0.774"],
            ["2", "0:14.0", "0:20.0", "0.764"],
            ["3", "0:28.0", "0:33.5", "0.754"],
        ]
        timeline = app.query_one(Timeline)
        assert timeline.selected == 0
        await pilot.press("n", "n", "n")
        assert app.query_one(VideosPane).segment == 2 and timeline.selected == 2
        await pilot.press("p")
        assert timeline.selected == 1
        await settle(pilot)
        # after the face searched for, the selected segment's faces: they are at 14-20 s
        captions = [str(c.render()) for c in app.query_one("#thumbs").query(".caption")]
        assert captions[0] == "searched for" and captions[1].startswith("0:14.0")
        # enter on the list moves into the segments; q comes back, q again quits
        await pilot.press("enter")
        assert app.focused is app.query_one("#segments")
        await pilot.press("q")
        assert app.focused is app.query_one("#video-list")
        await pilot.press("q")
    assert app.return_code == 0


async def test_keys_on_the_first_screen_are_commands_not_a_query():
    """On the first screen of a library 3, i, q and ? went into the query box ("Query 3iq")
    while the hint said "i from anywhere": the list has the focus, / opens the box."""
    app = RisApp(FakeBackend())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "after /" in str(app.query_one("#status").render())
        await pilot.press("3")
        assert app.query_one(TabbedContent).active == "library"
        await pilot.press("i")
        assert app.focused is app.query_one("#index-path")
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "slash", *"/q/face.jpg", "enter")
        await settle(pilot)
        assert app.query_one("#query", Input).value == "/q/face.jpg"
        assert app.backend.searches == [("/q/face.jpg", 1)]


async def test_home_and_end_move_to_the_first_and_last_row_of_a_list():
    """Home and End did nothing in the lists (DataTable's go to the first and last column)."""
    app = RisApp(FakeBackend())
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot)
        table = app.query_one("#video-list")
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1 == 2
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("enter", "end")  # the segments too
        assert app.focused is app.query_one("#segments")
        assert app.query_one(VideosPane).segment == app.query_one("#segments").row_count - 1


async def test_a_list_drawn_before_its_columns_widen_is_drawn_again_at_their_width():
    """DataTable widens a column on idle, after its cells grew, but kept the lines it drew in
    between at the old width: a snapshot caught the video list's header 7 cells wide over rows
    30 wide, after a resize fitted the paths anew (one full-suite run in two)."""
    from textual.app import App

    from ris_tui.tables import KeyTable

    class One(App):
        def compose(self):  # type: ignore[no-untyped-def]
            yield KeyTable()

    app = One()
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(KeyTable)
        column = table.add_columns("#", "video")[1]
        table.add_row("1", "a/b.mp4", key="0")
        await pilot.pause()
        table.update_cell("0", column, "a/long/path/to/the/video.mp4", update_width=True)
        table.refresh()
        assert "video" in table.render_line(0).text  # drawn before the idle that widens it
        await pilot.pause()
        drawn = [list(table.render_line(y)) for y in range(2)]
        table._clear_caches()
        assert drawn == [list(table.render_line(y)) for y in range(2)]  # as drawn afresh


async def test_a_line_feed_in_the_query_box_searches_like_enter():
    """An enter typed while the terminal was still in line mode reads as ctrl+j (ICRNL); on a
    loaded machine it can arrive after the first screen is up, past the keys held while the
    app started, and nothing took it: the path sat in the box and nothing was searched (CI)."""
    backend = FakeBackend()
    app = RisApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("escape", "slash", *"/q/face.jpg", "ctrl+j")
        await settle(pilot)
        assert backend.searches == [("/q/face.jpg", 1)]
        assert app.focused is app.query_one("#video-list")


async def test_a_path_pasted_while_a_list_has_the_focus_becomes_the_query():
    """A paste in the video list did nothing (issue 29): it becomes the query, enter searches."""
    backend = FakeBackend()
    app = RisApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot)
        assert app.focused is app.query_one("#video-list")
        app.post_message(events.Paste("'/q/other one.jpg'\n"))
        await pilot.pause()
        assert app.focused is app.query_one("#query")
        assert app.query_one("#query", Input).value == "'/q/other one.jpg'"
        await pilot.press("enter")
        await settle(pilot)
        assert backend.searches[-1] == ("/q/other one.jpg", 1)  # unquoted as a shell would


async def test_an_absolute_path_typed_in_a_list_is_searched_whole(tmp_path: Path):
    """`/tmp/x.jpg` typed while the list has the focus: its / opens the box, and `tmp/x.jpg`
    was searched for (issue 29). Typed right after that /, a path that is only there from the
    root is taken from the root; one that is there as typed is kept."""
    photo = tmp_path / "x.jpg"
    photo.write_bytes(b"")
    backend = FakeBackend()
    app = RisApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot)
        assert app.focused is app.query_one("#video-list")
        await pilot.press(*str(photo), "enter")  # the first / opens the box
        await settle(pilot)
        assert backend.searches[-1] == (str(photo), 1)
        await pilot.press("escape", "slash", *"q/face.jpg", "enter")  # not there from the root
        await settle(pilot)
        assert backend.searches[-1] == ("q/face.jpg", 1)


async def test_enter_in_an_empty_query_box_asks_for_a_path_and_stays_there():
    """Enter hands the focus to the results list at once (keys typed after it are the list's),
    but with nothing typed it searches nothing and gives the focus back to the box."""
    backend = FakeBackend()
    app = RisApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash", "enter")
        await settle(pilot)
        assert backend.searches == []
        assert app.focused is app.query_one("#query")
        assert any("first" in str(n.message) for n in app._notifications)
        await pilot.press(*"/q/face.jpg", "enter")  # and then a path searches
        await settle(pilot)
        assert backend.searches == [("/q/face.jpg", 1)]
        assert app.focused is app.query_one("#video-list")


async def test_possible_matches_are_listed_last_and_marked():
    """Matches below the threshold come after the matches, with a question mark (readable
    without colour), and the status line and tab counts tell them apart."""
    app = RisApp(FakeBackend())
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot, "/q/maybe.jpg")
        videos = rows(app, "#video-list")
        assert [r[1] for r in videos] == ["0.812", "0.774", "0.702", "0.312?"]
        status = str(app.query_one("#status").render())
        assert "3 videos, 2 photos at similarity ≥ 0.45 (+2 possible" in status
        tabs = app.query_one(TabbedContent)
        assert str(tabs.get_tab("videos").label).startswith("Videos (3+1?)")
        # why a face of a possible video can score above it, and above the threshold (issue 29)
        note = app.query_one("#video-note")
        assert not note.display  # a match: nothing to explain
        for _ in range(3):
            await pilot.press("j")
        await settle(pilot)
        assert note.display and "no appearance here matches as a whole" in str(note.render())
        assert "0.312" in str(note.render())
        await pilot.press("k")
        assert not note.display
        await pilot.press("2")
        await settle(pilot)
        assert [r[1] for r in rows(app, "#photo-list")] == ["0.791", "0.655", "0.301?"]


async def test_a_file_not_reachable_here_is_listed_and_marked():
    """A shared library's hit whose file is not on this machine is listed like any other,
    marked in its row (readable without colour) and explained beside it (issue 24)."""
    app = RisApp(FakeBackend())
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot, "/q/away.jpg")
        videos = rows(app, "#video-list")
        assert len(videos) == 3 and all(r[2].startswith("⊘ ") for r in videos), videos
        note = app.query_one("#video-note")
        assert note.display and "Not reachable here" in str(note.render())
        await pilot.press("2")
        await settle(pilot)
        photos = rows(app, "#photo-list")
        assert photos and all(r[2].startswith("⊘ ") for r in photos), photos
        await search(pilot, "/q/face.jpg")  # reachable: unmarked, nothing to explain
        await pilot.press("1")
        await settle(pilot)
        assert not any(r[2].startswith("⊘") for r in rows(app, "#video-list"))
        assert not app.query_one("#video-note").display


async def test_threshold_and_top_change_from_the_keyboard_and_search_again():
    """+ and - search the same face again 0.05 stricter or looser, ] and [ list more or fewer;
    the query is not read again, and the status line says what is in force."""
    backend = FakeBackend()
    app = RisApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("minus")  # nothing searched yet: says so, searches nothing
        await settle(pilot)
        assert backend.searches == []
        await search(pilot)
        await pilot.press("minus")
        await settle(pilot)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        await pilot.press("plus", "plus")
        await settle(pilot)
        assert backend.settings == [(None, None), (0.4, None), (0.4, 40), (0.45, 40), (0.5, 40)]
        assert [face for _, face in backend.searches] == [1] * 5
        status = str(app.query_one("#status").render())
        assert "at similarity ≥ 0.50" in status and "top 40" in status
        # a new query starts from the library's threshold and top: they carried over silently
        await search(pilot, "/q/next.jpg")
        assert backend.settings[-1] == (None, None)
        status = str(app.query_one("#status").render())
        assert "at similarity ≥ 0.45" in status and "top 20" in status, status


async def test_a_query_whose_real_matches_are_photos_opens_on_the_photos():
    """Issue 29: it opened on the Videos tab, showing only possible videos ("0+5?")."""

    class PhotosOnly(FakeBackend):
        def search(self, query, face, threshold=None, top=None):  # type: ignore[no-untyped-def]
            result = super().search(query, face, threshold, top)
            videos = tuple(replace(v, possible=True) for v in result.videos)
            return replace(result, videos=videos, possible=0.2)

    app = RisApp(PhotosOnly())
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot)
        assert app.query_one(TabbedContent).active == "photos"
        assert app.focused is app.query_one("#photo-list")


async def test_lists_filter_by_path_words_and_sort_keeping_each_rank():
    """ctrl+f filters the list in view by words of the path as they are typed (enter keeps the
    filter, esc clears it); s sorts by score, name, length; each row keeps its rank, and the
    video selected is the one shown (its segments, not another's)."""
    app = RisApp(FakeBackend())
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot)
        await pilot.press("ctrl+f", *"INTER 2")
        await settle(pilot)
        assert [r[0] for r in rows(app, "#video-list")] == ["2"]  # interview_2: any case, any order
        assert "1 of 3 videos with 'INTER 2' in the path" in str(app.query_one("#status").render())
        assert len(rows(app, "#segments")) == 3  # interview_2's three segments
        await pilot.press("enter")  # keeps the filter, back to the list
        assert app.focused is app.query_one("#video-list")
        assert not app.query_one("#list-filter").has_class("shown")
        await pilot.press("ctrl+f", *"zzz")  # the box comes back with its words selected
        await settle(pilot)
        assert rows(app, "#video-list") == []
        assert "No video path has 'zzz'" in str(app.query_one("#video-title").render())
        await pilot.press("escape")  # clears the filter: every video again
        await settle(pilot)
        assert [r[0] for r in rows(app, "#video-list")] == ["1", "2", "3"]
        assert app.focused is app.query_one("#video-list")
        await pilot.press("s")  # by name: interview_1, interview_2, town_hall (ranks kept)
        assert [r[0] for r in rows(app, "#video-list")] == ["1", "2", "3"]
        await pilot.press("s")  # by length, longest first
        await settle(pilot)
        assert [r[0] for r in rows(app, "#video-list")] == ["3", "2", "1"]
        assert [r[3] for r in rows(app, "#segments")] == ["0.702"]  # town_hall's segment
        assert "by length" in str(app.query_one("#status").render())
        await pilot.press("s")
        assert [r[0] for r in rows(app, "#video-list")] == ["1", "2", "3"]  # by score again
        await pilot.press("2", "s")  # photos: by name puts aoc_portrait before rally
        await settle(pilot)
        assert [r[0] for r in rows(app, "#photo-list")] == ["1", "2"]
        await pilot.press("ctrl+f", *"rally", "enter")
        await settle(pilot)
        assert [r[2].endswith("rally.png") for r in rows(app, "#photo-list")] == [True]
        assert "1 of 2 photos" in str(app.query_one("#status").render())


async def test_news_of_an_older_or_cancelled_search_is_dropped():
    """Workers post what they find as messages of their search; a message of a search that a
    newer one replaced, or that esc cancelled, changes nothing on screen."""
    import threading

    from ris_tui.messages import SearchFailed, SearchFinished, SearchProgressed

    app = RisApp(FakeBackend())
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot)
        shown, status = rows(app, "#video-list"), str(app.query_one("#status").render())
        older = threading.Event()
        other = canned_result("/q/someone_else.jpg")
        app.post_message(SearchProgressed(older, "Reading someone_else.jpg…"))
        app.post_message(SearchFinished(older, replace(other, videos=other.videos[:1]), 1.0))
        app.post_message(SearchFailed(older, RuntimeError("an old failure")))
        await settle(pilot)
        assert rows(app, "#video-list") == shown
        assert str(app.query_one("#status").render()) == status
        current = app._search_stop
        app.post_message(SearchProgressed(current, "news of the current search"))
        await settle(pilot)
        assert "news of the current search" in str(app.query_one("#status").render())


async def test_enter_on_a_photo_shows_it_large_and_esc_closes_it():
    from ris_tui.dialogs import PhotoView

    app = RisApp(FakeBackend())
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PhotoView)
        assert app.screen.image is app.query_one(PhotosPane).whole[1]
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, PhotoView)


def test_the_matched_face_is_boxed_on_the_whole_photo():
    from engine.search.thumbnails import boxed

    frame = np.full((200, 300, 3), 40, np.uint8)
    im = np.asarray(boxed(frame, (100.0, 50.0, 180.0, 150.0)))
    assert tuple(im[100, 100]) == (255, 214, 0) and tuple(im[50, 140]) == (255, 214, 0)
    assert tuple(im[100, 140]) == (40, 40, 40)  # inside the box: the face itself
    assert tuple(im[10, 10]) == (40, 40, 40)


async def test_photo_matches_and_the_library_tab():
    app = RisApp(FakeBackend())
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert [r[:2] for r in rows(app, "#photo-list")] == [["1", "0.791"], ["2", "0.655"]]
        assert (
            len(list(app.query_one("#photo-thumbs").query(HalfBlocks))) == 3
        )  # query, face, photo
        await pilot.press("3")
        assert "3 videos, 2 photos, 41 faces, 1 failed" in str(
            app.query_one("#library-summary").render()
        )
        assert rows(app, "#failed")[0][1].startswith("cannot decode the video")
        await pilot.press("q")  # back to the videos, not out
        assert app.query_one("TabbedContent").active == "videos"


async def test_help_screen_opens_and_closes_with_keys():
    app = RisApp(FakeBackend())
    async with app.run_test() as pilot:
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        assert not isinstance(app.screen, HelpScreen)
        assert app.is_running


async def test_f1_opens_help_while_the_query_box_has_focus():
    app = RisApp(FakeBackend())
    async with app.run_test() as pilot:
        await pilot.press("slash")
        assert app.focused is app.query_one("#query")
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        assert not isinstance(app.screen, HelpScreen)
        assert app.query_one("#query").value == ""  # nothing was typed into the box


async def test_a_query_with_several_faces_asks_which_one():
    backend = FakeBackend(faces=3)
    app = RisApp(backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await search(pilot, "/q/group.jpg")
        assert isinstance(app.screen, FacePicker)
        assert backend.searches == []
        # the faces as large as the room allows, the highlighted one marked (issue 29: tiny,
        # and none marked)
        pictures = list(app.screen.query("Picture"))
        assert len(pictures) == 3 and min(p.size.width * p.size.height for p in pictures) >= 200
        picked = [p for p in pictures if p.has_class("-picked")]
        assert picked == [pictures[0]]
        assert str(pictures[0].query_one(".caption").render()) == "▶ 1 ◀"
        await pilot.press("j")
        await pilot.pause()
        assert [p.has_class("-picked") for p in pictures] == [False, True, False]
        assert str(pictures[1].query_one(".caption").render()) == "▶ 2 ◀"
        assert str(pictures[0].query_one(".caption").render()) == "1"
        await pilot.press("2")
        await settle(pilot)
        assert backend.searches == [("/q/group.jpg", 2)]
        assert "face 2 of 3" in str(app.query_one("#status").render())
        await pilot.press("f")  # pick another: the same query, not read again
        assert isinstance(app.screen, FacePicker)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        assert backend.searches[-1] == ("/q/group.jpg", 3)


async def test_esc_leaves_the_innermost_thing_and_only_then_cancels_work(tmp_path: Path):
    """Issue 29: esc in the segments did nothing; on the face picker it said "Search
    cancelled" while the old results stayed; during an index run the focus stayed in the
    folder box (1, q, / were typed into it) and esc cancelled the run instead of leaving it."""
    backend = FakeBackend(faces=3)
    backend.files_to_index = 200  # 10 s at least: still running when esc comes
    app = RisApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot)
        await pilot.press("2")  # the second face of the group
        await settle(pilot)
        await pilot.press("enter")  # into the segments
        assert app.focused is app.query_one("#segments")
        await pilot.press("escape")  # back out of them, nothing cancelled
        assert app.focused is app.query_one("#video-list") and app.result is not None
        await search(pilot, "/q/other.jpg")
        assert isinstance(app.screen, FacePicker)
        await pilot.press("escape")  # no face picked: it says so and how to go on
        await settle(pilot)
        status = str(app.query_one("#status").render())
        assert status.startswith("No face picked: f picks one of other.jpg's"), status
        assert app.query_one("VideosPane").empty_note == status  # not "Searching…" on
        await pilot.press("f")  # the same query, another face
        assert isinstance(app.screen, FacePicker)
        await pilot.press("3")
        await settle(pilot)
        assert backend.searches[-1] == ("/q/other.jpg", 3)
        await pilot.press("i", *str(tmp_path), "enter")  # index from the Library tab
        await pilot.pause()
        assert not isinstance(app.focused, Input)  # keys are commands while it runs
        await pilot.press("1")
        assert app.query_one(TabbedContent).active == "videos"
        assert not app.index_over.is_set()  # still running
        await pilot.press("i", "escape")  # into the box and out of it: the run goes on
        assert not isinstance(app.focused, Input) and not app.index_over.is_set()
        await pilot.press("escape")  # nothing to leave: now it cancels
        await settle(pilot)
        assert app.index_over.is_set() and len(backend.indexed) < 200


async def test_a_search_of_an_empty_library_says_press_i_not_the_command_line():
    """Issue 29: the empty-library search hint said "run `ris index FOLDER`" inside ris-tui."""
    from engine.errors import NothingIndexed

    class Empty(FakeBackend):
        def search(self, query, face, threshold=None, top=None):  # type: ignore[no-untyped-def]
            raise NothingIndexed("nothing is indexed in /archive/.ris", "run `ris index FOLDER`")

    app = RisApp(Empty())
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot)
        status = str(app.query_one("#status").render())
        assert "press i" in status, status
        told = " ".join(str(n.message) for n in app._notifications)
        assert "i indexes a folder" in told and "ris index" not in told, told


async def test_a_toast_never_covers_the_status_line():
    """Issue 29: notifications sat over the status line, which says what happened."""
    from textual.widgets._toast import Toast

    app = RisApp(FakeBackend())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        app.notify("a long enough message\nover two lines", title="Something")
        await pilot.pause(0.3)
        status = app.query_one("#status").region
        toasts = [t.region for t in app.screen.query(Toast).results() if t.region.height]
        assert toasts and all(t.bottom <= status.y for t in toasts), (toasts, status)


async def test_errors_are_notifications_not_crashes():
    app = RisApp(FakeBackend())
    async with app.run_test() as pilot:
        await search(pilot, "/q/noface.jpg")
        assert app.is_running
        titles = [n.title for n in app._notifications]
        assert "no face found in the query noface.jpg" in titles
        assert "Error: no face found" in str(app.query_one("#status").render())
        await pilot.press("e")  # nothing to export yet: says so
        assert any("search first" in n.message for n in app._notifications)


async def test_a_failed_query_leaves_nothing_of_the_previous_one_on_screen():
    app = RisApp(FakeBackend())
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot)
        assert rows(app, "#video-list") and list(app.query_one("#thumbs").query(HalfBlocks))
        await search(pilot, "/q/noface.jpg")
        assert rows(app, "#video-list") == [] and rows(app, "#photo-list") == []
        assert rows(app, "#segments") == []
        assert not list(app.query_one("#thumbs").query(HalfBlocks))  # no faces, no captions
        tabs = app.query_one("TabbedContent")
        assert str(tabs.get_tab("videos").label) == "Videos [1]"
        await pilot.press("e")  # nothing to export: the old result is gone
        assert any("search first" in n.message for n in app._notifications)


async def test_copy_export_and_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    log = tmp_path / "played.txt"
    player = tmp_path / "player.sh"
    player.write_text(f'#!/bin/sh\necho "$@" > {log}\n')
    player.chmod(player.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("RIS_PLAYER", f"{player} --start={{t}} {{path}}")
    app = RisApp(FakeBackend())
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot)
        await pilot.press("j", "n")  # second video, second segment (14 s)
        monkeypatch.delenv("TMUX", raising=False)
        await pilot.press("y")
        assert app.clipboard == "/archive/aoc/interview_2.mp4"  # a path a shell takes
        await pilot.press("Y")
        assert app.clipboard == "14.00"  # and the moment apart
        await pilot.press("o")
        for _ in range(50):
            if log.exists():
                break
            await pilot.pause(0.05)
        assert log.read_text().split() == ["--start=14.00", "/archive/aoc/interview_2.mp4"]
        out = tmp_path / "results.json"
        await pilot.press("e")
        app.screen.query_one("#export-path").value = str(out)
        await pilot.press("enter")
        await pilot.pause()
        expected = json.loads(json.dumps(canned_result("/q/face.jpg").to_json()))
        assert json.loads(out.read_text()) == expected  # the document of `ris search --json`
        out.write_text("keep me")
        await pilot.press("e")
        assert app.screen.query_one("#export-path").value.startswith(str(Path.cwd()))
        app.screen.query_one("#export-path").value = str(out)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("n")  # it exists: asked first, and no keeps it
        await pilot.pause()
        assert out.read_text() == "keep me"
        await pilot.press("e")
        app.screen.query_one("#export-path").value = str(out)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert json.loads(out.read_text()) == expected

        # to a .csv name: a row per segment with its times, then a row per photo
        table = tmp_path / "segments.csv"
        await pilot.press("e")
        app.screen.query_one("#export-path").value = str(table)
        await pilot.press("enter")
        await pilot.pause()
        rows = list(csv.DictReader(table.read_text().splitlines()))
        result = canned_result("/q/face.jpg")
        segments = [(v, s) for v in result.videos for s in v.segments]
        assert [
            (r["kind"], r["path"], float(r["start"]), float(r["end"]))
            for r in rows[: len(segments)]
        ] == [("video", v.path, round(s.start, 2), round(s.end, 2)) for v, s in segments]
        assert (rows[0]["from"], rows[0]["to"]) == (
            clock(segments[0][1].start),
            clock(segments[0][1].end),
        )
        assert [r["path"] for r in rows[len(segments) :]] == [i.path for i in result.images]
        assert all(r["kind"] == "photo" and r["start"] == "" for r in rows[len(segments) :])
        possible = {(v.path, s.start) for v, s in segments if v.possible or s.possible}
        assert {
            (r["path"], float(r["start"])) for r in rows if r["possible"] == "yes" and r["start"]
        } == {(p, round(t, 2)) for p, t in possible}


async def test_export_writes_only_what_a_filter_shows_and_c_copies_every_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Issue 29: e exported every result whatever the filter; no key copied a video's
    segments at once."""
    monkeypatch.delenv("TMUX", raising=False)
    app = RisApp(FakeBackend())
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot, "/q/maybe.jpg")
        await pilot.press("j", "c")  # the second video: its three segments, a line each
        video = canned_result("/q/maybe.jpg").videos[1]
        lines = [line.split("\t") for line in app.clipboard.splitlines()]
        assert [(p, float(a), float(b)) for p, a, b, *_ in lines] == [
            (video.path, s.start, s.end) for s in video.segments
        ]
        assert lines[1][3:5] == [clock(video.segments[1].start), clock(video.segments[1].end)]
        await pilot.press("G", "c")  # a possible video's segments say so
        assert app.clipboard.rstrip("\n").endswith("\tpossible")

        await pilot.press("ctrl+f", *"interview", "enter")
        await pilot.press("2", "ctrl+f", *"rally", "enter")
        out = tmp_path / "shown.json"
        await pilot.press("e")
        shown = str(app.screen.query_one("#export-shown", Static).render())
        assert "2 of 4 videos" in shown and "1 of 3 photos" in shown
        app.screen.query_one("#export-path").value = str(out)
        await pilot.press("enter")
        await pilot.pause()
        doc = json.loads(out.read_text())
        assert [v["path"] for v in doc["videos"]] == [
            "/archive/aoc/interview_1.mp4",
            "/archive/aoc/interview_2.mp4",
        ]
        assert [i["path"] for i in doc["images"]] == ["/archive/photos/rally.png"]

        await pilot.press("ctrl+f", "escape", "1", "ctrl+f", "escape")  # filters cleared
        await pilot.press("e")
        assert not app.screen.query("#export-shown")  # everything: nothing to say
        app.screen.query_one("#export-path").value = str(out)
        await pilot.press("enter", "y")
        await pilot.pause()
        assert len(json.loads(out.read_text())["videos"]) == 4


async def test_v_steps_through_a_segments_frames_and_saves_a_frame_and_a_clip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Issue 29: a segment's moment seen without a display: its frames large, stepped through,
    saved (never over an earlier save), the segment saved as a clip."""
    monkeypatch.setenv("RIS_SAVE_DIR", str(tmp_path))
    app = RisApp(FakeBackend())
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot)
        await pilot.press("j", "n", "v")  # the second video's second segment: 14 to 20 s
        await settle(pilot)
        view = app.screen
        assert isinstance(view, MomentView)

        def title() -> str:
            return str(view.query_one("#moment-title", Static).render())

        assert "segment 2 of 3 · 0:14.0 · frame 1 of 13" in title()
        picture = view.query_one("#moment-picture", HalfBlocks)
        assert picture.size.width >= 100 and picture.size.height >= 30  # the whole screen
        assert view.query_one("#moment-picture", HalfBlocks)._image is not None
        await pilot.press("l", "l", "h")
        await settle(pilot)
        assert "0:14.5 · frame 2 of 13" in title()
        await pilot.press("w", "w")
        await settle(pilot)
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "interview_2_14_5s-2.png",
            "interview_2_14_5s.png",
        ]
        await pilot.press("n")  # the next segment, from its start: 28 to 33.5 s
        await settle(pilot)
        assert "segment 3 of 3 · 0:28.0 · frame 1 of 12" in title()
        await pilot.press("n")  # there is none after it: it stays
        assert "segment 3 of 3" in title()
        await pilot.press("c")
        await settle(pilot)
        clip = tmp_path / "interview_2_28_0s-33_5s.mp4"
        assert clip.read_text() == "/archive/aoc/interview_2.mp4 28.0 33.5"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_the_library_lists_its_files_shows_one_on_its_timeline_and_forgets_it():
    """Issue 29: the library itself: its indexed files listed, one file's faces on its
    timeline, and a file taken out of the index (asked first)."""
    backend = FakeBackend()
    app = RisApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert app.focused is app.query_one("#files")
        listed = rows(app, "#files")
        assert [r[:3] for r in listed] == [
            ["video", "24", "0:12.0"],
            ["video", "30", "0:33.5"],
            ["photo", "3", ""],
        ]
        assert listed[1][3].endswith("interview_2.mp4")
        await pilot.press("j", "enter")
        await settle(pilot)
        view = app.screen
        assert isinstance(view, FileView)
        summary = str(view.query_one("#file-summary", Static).render())
        assert "0:33.5 · 2 shots (┃ a cut) · 30 faces in 2 appearances" in summary
        timeline = view.query_one("#file-timeline", Timeline)
        assert timeline.segments == [(1.0, 8.5), (14.0, 20.0)] and timeline.selected == 0
        width = timeline.size.width
        rendered = timeline.render()
        bar = str(rendered).splitlines()[0]
        cut = int(12.0 / 33.5 * width)
        assert bar[cut] == "┃" and bar.count("┃") == 1  # the cut
        styles = {str(s.style) for s in rendered.spans if s.start < width}
        marked = {str(s.style) for s in rendered.spans if s.start <= cut < s.end}
        assert marked == {"magenta"} and "dim" in styles  # the rest of the bar as it was
        await pilot.press("j")
        await settle(pilot)
        assert timeline.selected == 1
        await pilot.press("v")  # the appearance frame by frame
        await settle(pilot)
        assert isinstance(app.screen, MomentView)
        assert "segment 2 of 2 · 0:14.0 · frame 1 of 13" in str(
            app.screen.query_one("#moment-title", Static).render()
        )
        await pilot.press("escape", "x")  # back in the file, then out of the index: asked
        await settle(pilot)
        await pilot.press("n")  # no: nothing is taken out
        await settle(pilot)
        assert not getattr(backend, "forgotten", []) and len(rows(app, "#files")) == 3
        await pilot.press("x", "y")  # from the list itself
        await settle(pilot)
        assert backend.forgotten == ["/archive/aoc/interview_2.mp4"]
        assert len(rows(app, "#files")) == 2
        assert "interview_2.mp4 taken out of the index" in str(
            app.query_one("#status", Static).render()
        )
        await pilot.press("1", "x")  # the library's key only: off on the videos
        await settle(pilot)
        assert backend.forgotten == ["/archive/aoc/interview_2.mp4"]


async def browsed(pilot, tree: MediaTree) -> None:  # type: ignore[no-untyped-def]
    """The browser's folder listed (its loader is a worker that never ends: no settle)."""
    for _ in range(100):
        await pilot.pause(0.02)
        if tree.root.children:
            return
    raise AssertionError("the browser listed nothing")


async def test_the_query_is_browsed_for_and_several_photos_are_one_person(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Issue 29: a file browser for the query (media and folders only), and several photos of
    one person as one query, marked there or typed as a shell takes them."""
    for name in ("a face.jpg", "b.jpg", "c.mp4", "notes.txt", ".hidden.jpg"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    backend = FakeBackend()
    app = RisApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        tree = app.screen.query_one(MediaTree)
        await browsed(pilot, tree)
        shown = [str(child.label) for child in tree.root.children]
        assert shown == ["sub", "a face.jpg", "b.jpg", "c.mp4"]  # no text file, nothing hidden
        for _ in range(3):  # to the first photo, past the folder
            await pilot.press("down")
            if tree.cursor_node is not None and str(tree.cursor_node.label) == "a face.jpg":
                break
        assert str(tree.cursor_node.label) == "a face.jpg"
        await pilot.press("space", "space")  # a face.jpg and b.jpg marked
        await pilot.pause()
        assert "2 files marked" in str(app.screen.query_one("#browse-marked", Static).render())
        await pilot.press("enter")  # on c.mp4: the three as one person
        await settle(pilot)
        assert backend.read_as_one == [str(tmp_path / n) for n in ("a face.jpg", "b.jpg", "c.mp4")]
        status = str(app.query_one("#status", Static).render())
        assert "a face.jpg and 2 more as one person" in status
        assert app.query_one("#video-list").row_count == 3

        await pilot.press("ctrl+o")  # (the browser's folder loader never ends: no settle)
        tree = app.screen.query_one(MediaTree)
        await browsed(pilot, tree)
        for _ in range(5):  # to the clip
            await pilot.press("down")
            if tree.cursor_node is not None and str(tree.cursor_node.label) == "c.mp4":
                break
        await pilot.press("enter")  # one file: searched alone
        await settle(pilot)
        assert backend.searches[-1] == (str(tmp_path / "c.mp4"), 1)
        await pilot.press("ctrl+o")
        await pilot.pause()
        await pilot.press("escape")  # left: nothing searched
        await settle(pilot)
        assert len(backend.searches) == 2 and isinstance(app.screen, MainScreen)

        await pilot.press("slash", *"'a face.jpg' b.jpg", "enter")  # typed as a shell takes them
        await settle(pilot)
        assert backend.read_as_one == [str(Path("a face.jpg")), "b.jpg"]
        await pilot.press("slash", *"a face.jpg", "enter")  # a name with a space is one file
        await settle(pilot)
        assert backend.searches[-1] == ("a face.jpg", 1)


async def test_index_a_folder_shows_progress_and_cancels(tmp_path: Path):
    backend = FakeBackend()
    app = RisApp(backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("escape", "i", *str(tmp_path), "enter")
        for _ in range(100):
            if len(backend.indexed) >= 3:
                break
            await pilot.pause(0.05)
        bar = app.query_one("#index-progress")
        assert bar.display and 0 < bar.progress < bar.total
        assert bar.total == 10 * backend.files_to_index  # sampled frames, not bytes (issue 29)
        assert "files" in str(app.query_one("#index-current").render())
        await pilot.press("escape")
        await settle(pilot)
        assert 3 <= len(backend.indexed) < 50
        status = str(app.query_one("#status").render())
        # what was kept, counted (it said "what was indexed so far is kept" with nothing done)
        assert f"cancelled: {len(backend.indexed)} files indexed and kept" in status, status
        assert not bar.display


async def test_q_during_an_index_run_asks_before_quitting(tmp_path: Path):
    """Issue 29: q during an index run quit at once, with no word."""
    from ris_tui.dialogs import Confirm

    backend = FakeBackend()
    backend.files_to_index = 200
    app = RisApp(backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("escape", "i", *str(tmp_path), "enter")
        await pilot.pause(0.2)
        await pilot.press("1", "q")  # from the video list: would quit
        assert isinstance(app.screen, Confirm) and app.is_running
        await pilot.press("n")  # no: the run goes on
        assert not isinstance(app.screen, Confirm) and not app.index_over.is_set()
        await pilot.press("q", "y")
        await settle(pilot)
    assert app.return_code == 0 and len(backend.indexed) < 200


async def test_one_file_indexed_is_said_in_the_singular(tmp_path: Path):
    backend = FakeBackend()
    backend.files_to_index = 1
    app = RisApp(backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("escape", "i", *str(tmp_path), "enter")
        for _ in range(100):
            if "Indexed" in str(app.query_one("#status").render()):
                break
            await pilot.pause(0.05)
        assert "Indexed 1 file (" in str(app.query_one("#status").render())


@pytest.mark.parametrize(
    "setting, said",
    [
        ({"RIS_TUI_IMAGES": "foo"}, "RIS_TUI_IMAGES='foo' is not one of auto"),
        ({"RIS_DATA_DIR": "FILE"}, "is a file, not a folder"),
    ],
)
def test_bad_settings_are_refused_in_one_line(tmp_path: Path, setting, said):
    (tmp_path / "a-file").write_text("not a library")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIS_")}
    env.update({k: str(tmp_path / "a-file") if v == "FILE" else v for k, v in setting.items()})
    out = subprocess.run(
        [sys.executable, "-m", "ris_tui.app"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and said in out.stderr and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1  # one line


async def test_the_help_shows_bracket_keys_as_keys_not_markup():
    app = RisApp(FakeBackend())
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        shown = "\n".join(str(w.render()) for w in app.screen.query(Static))
        assert "[/b]" not in shown and "]  [" in shown
        line = next(line for line in shown.splitlines() if line.startswith("]  ["))
        assert "list twice / half as many" in line


def test_path_completion(tmp_path: Path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clip.mp4").write_bytes(b"")
    (tmp_path / "photo.jpg").write_bytes(b"")
    (tmp_path / ".hidden").write_bytes(b"")
    base = f"{tmp_path}/"
    assert completions(base + "cl") == [base + "clip.mp4", base + "clips/"]
    assert complete(base + "cl") == base + "clip"  # as far as they agree
    assert complete(base + "clip") is None  # ambiguous: nothing to add
    assert complete(base + "p") == base + "photo.jpg"
    assert complete(base + "clips") == base + "clips/"
    assert completions(base) == [base + "clip.mp4", base + "clips/", base + "photo.jpg"]
    assert complete(base + "zz") is None


def test_timeline_marks_segments_and_the_selected_one():
    t = Timeline()
    t.show(10.0, [(0.0, 2.0), (5.0, 6.0)])
    assert t.cells(10) == [2, 2, 0, 0, 0, 1, 0, 0, 0, 0]
    t.selected = 1
    assert t.cells(10) == [1, 1, 0, 0, 0, 2, 0, 0, 0, 0]
    t.show(100.0, [(50.0, 50.2)])  # a short segment still shows
    assert t.cells(20).count(2) == 1
    t.show(10.0, [(0.0, 2.0), (5.0, 6.0), (5.5, 8.0)], possible=frozenset({2}))
    assert t.cells(10) == [2, 2, 0, 0, 0, 1, 3, 3, 0, 0]  # a possible segment is shaded


def test_player_command(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    nothing = {"PATH": str(bin_dir)}
    cmd = player_command("/v/a b.mp4", 12.5, nothing)
    assert not cmd.found and "RIS_PLAYER" in cmd.why_not
    assert cmd.text == "mpv --start=12.50 '/v/a b.mp4'"
    (bin_dir / "vlc").write_text("#!/bin/sh\n")
    (bin_dir / "vlc").chmod(0o755)
    with_vlc = player_command("/v/a.mp4", 3, {"PATH": str(bin_dir), "DISPLAY": ":0"})
    assert with_vlc.found and with_vlc.argv == ["vlc", "--start-time=3.00", "/v/a.mp4"]
    if sys.platform.startswith("linux"):  # over SSH, no display: say what to run instead
        headless = player_command("/v/a.mp4", 3, {"PATH": str(bin_dir)})
        assert not headless.found and "display" in headless.why_not
    custom = player_command("/v/a.mp4", 1, {"RIS_PLAYER": "play -t {t}"})
    assert custom.found and custom.argv == ["play", "-t", "1.00", "/v/a.mp4"]


def test_the_tui_starts_without_torch(tmp_path: Path):
    """--help and a started app (real backend, reading the library) never import torch."""
    code = f"""
import asyncio, sys
from pathlib import Path
from ris_tui.app import RisApp
from ris_tui.backend import Backend, settings_from

async def main():
    app = RisApp(Backend(settings_from(Path({str(tmp_path / "data")!r}))))
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        print("summary:", app.query_one("#library-summary").render())
asyncio.run(main())
print("heavy:", sorted(m for m in ("torch", "decord", "facenet_pytorch") if m in sys.modules))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIS_")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "Nothing indexed yet" in out.stdout
    assert "heavy: []" in out.stdout
    helped = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ris_tui.app", "--help"],
        capture_output=True,
        text=True,
    )
    assert helped.returncode == 0 and "usage: ris-tui" in helped.stdout
    assert " torch" not in helped.stderr and "decord" not in helped.stderr


def test_image_mode_detection(monkeypatch: pytest.MonkeyPatch):
    from ris_tui import images

    try:
        monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
        assert images.choose_mode("auto") == "halfblocks"  # tmux: half-blocks, never a probe
        monkeypatch.delenv("TMUX")
        assert images.choose_mode("auto") == "halfblocks"  # pytest's stdout is not a terminal
        assert images.choose_mode("sixel") == "sixel"
        assert (
            type(images._picture_widget(drawn_face(1))).__module__ == "textual_image.widget.sixel"
        )
        assert images.choose_mode("none") == "none"
        assert images._picture_widget(drawn_face(1)).__class__.__name__ == "Static"
        with pytest.raises(ValueError, match="unknown image mode"):
            images.choose_mode("ascii")
    finally:
        images.choose_mode("halfblocks")


@pytest.mark.parametrize(
    ("system", "allowed"),
    [("256", {16, 231, *range(232, 256)}), ("standard", {0, 7, 8, 15})],
    ids=["256 colours", "16 colours"],
)
def test_faces_without_true_colour_are_drawn_in_the_palettes_greys(system, allowed):
    from ris_tui.images import cell_colours

    face = np.asarray(drawn_face(3).resize((32, 32)))
    codes = np.array([[int(c[6:-1]) for c in row] for row in cell_colours(face, system)])
    assert set(codes.ravel()) <= allowed and len(set(codes.ravel())) >= 3  # shades, not a blob
    grey = face.astype(float) @ [0.299, 0.587, 0.114]
    light = {0: 0, 16: 0, 8: 128, 7: 192, 15: 255, 231: 255} | {
        c: 8 + 10 * (c - 232) for c in range(232, 256)
    }
    shown = np.vectorize(light.get)(codes)

    def blur(a):  # what the eye sees of a dithered patch: 4x4 means
        return a.reshape(8, 4, 8, 4).mean(axis=(1, 3))

    assert np.corrcoef(blur(shown).ravel(), blur(grey).ravel())[0, 1] > 0.9  # light and dark kept
    assert shown.min() <= 8 and shown.max() >= 238  # stretched over the palette: every level used


def test_faces_in_true_colour_keep_their_colours():
    from ris_tui.images import cell_colours

    face = np.asarray(drawn_face(3).resize((8, 8)))
    assert cell_colours(face, "truecolor")[2][3] == "rgb({},{},{})".format(*face[2, 3])


class LongPaths(FakeBackend):
    """Results deep in an archive: paths far longer than the screen is wide."""

    def search(self, query, face, threshold=None, top=None):  # type: ignore[no-untyped-def]
        from dataclasses import replace

        result = super().search(query, face, threshold, top)
        deep = "/archive/2019/interviews/raw footage/camera A/day 3"
        videos = tuple(replace(v, path=f"{deep}/{Path(v.path).name}") for v in result.videos)
        return replace(result, videos=videos)


async def test_resizing_fits_the_paths_and_title_to_the_new_width():
    app = RisApp(LongPaths())
    async with app.run_test(size=(160, 40)) as pilot:
        await search(pilot)
        wide = rows(app, "#video-list")[0][2]
        assert wide.endswith("interview_1.mp4")
        await pilot.resize_terminal(70, 24)
        await settle(pilot)
        narrow = rows(app, "#video-list")[0][2]
        assert "…" in narrow and narrow.endswith(".mp4") and len(narrow) < len(wide)
        assert app.query_one("#video-list").max_scroll_x == 0  # length and segments in view
        title = str(app.query_one("#video-title").render())
        assert (
            title.endswith("interview_1.mp4") and len(title) <= 70
        )  # the file name kept, within the width
        await pilot.resize_terminal(160, 40)
        await settle(pilot)
        assert rows(app, "#video-list")[0][2] == wide  # and back
        assert app.query_one("#video-list").max_scroll_x == 0


def test_pictures_are_laid_out_in_the_columns_that_make_them_largest():
    from ris_tui.images import grid_columns

    assert grid_columns(4, 80, 12) == 4  # wide and low: a row
    assert grid_columns(4, 80, 40) == 2  # room below: two by two, twice as large
    assert grid_columns(3, 30, 60) == 1  # narrow and tall: a column
    assert grid_columns(0, 80, 12) == 1


def test_short_paths_fit_their_width_keeping_the_ends_of_a_long_name():
    from ris_tui.formatting import short_path

    assert short_path("/a/b/clip.mp4", 40).plain == "/a/b/clip.mp4"
    assert short_path("/archive/2024/interviews/clip.mp4", 16).plain == "…rviews/clip.mp4"
    long = "/v/WDA_AlexandriaOcasioCortez_000.mp4"
    assert short_path(long, 16).plain == "WDA_Ale…_000.mp4"
    assert short_path("/x/[red]amy[/red].png", 40).spans == []  # text, never markup
    assert all(len(short_path(long, w)) <= max(w, 8) for w in range(1, 50))


def test_dragged_or_pasted_paths_arrive_plain(tmp_path: Path):
    from ris_tui.pathinput import dropped_path

    assert dropped_path("'/media/a b/clip 1.mp4'") == "/media/a b/clip 1.mp4"  # quoted
    assert dropped_path('"/media/a b.jpg" ') == "/media/a b.jpg"
    assert dropped_path("/media/a\\ b/c\\'d.mp4") == "/media/a b/c'd.mp4"  # shell-escaped
    assert dropped_path("file:///media/a%20b/c.mp4") == "/media/a b/c.mp4"  # a file manager's
    odd = tmp_path / "it's \\ here.jpg"  # a name that really holds a quote and a backslash
    odd.write_bytes(b"")
    assert dropped_path(str(odd)) == str(odd)
    assert dropped_path("/it's.jpg") == "/it's.jpg"  # unbalanced: as typed


async def test_up_in_the_query_box_brings_back_earlier_queries_across_runs(tmp_path: Path):
    backend = FakeBackend(data_dir=tmp_path)
    app = RisApp(backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await search(pilot, "/q/first.jpg")
        await search(pilot, "'/q/sec ond.jpg'")  # dragged in, quoted
        assert backend.searches[-1][0] == "/q/sec ond.jpg"
    again = RisApp(FakeBackend(data_dir=tmp_path))
    async with again.run_test(size=(100, 30)) as pilot:
        box = again.query_one("#query")
        await pilot.press("slash", "u", "p")
        await pilot.press("up")
        assert box.value == "/q/sec ond.jpg"  # the newest first, as it was searched
        await pilot.press("up", "up")
        assert box.value == "/q/first.jpg"  # no further back than the first
        await pilot.press("down", "down")
        assert box.value == "up"  # back to what was being typed
    assert (tmp_path / "tui-query-history").stat().st_mode & 0o777 == 0o600


async def test_the_models_load_behind_the_first_screen():
    """While the user types the first query, the face models load, so that search does not
    wait for them; a backend with them loaded is left alone."""
    backend = FakeBackend()
    backend.models_loaded = False
    app = RisApp(backend)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(50):
            if backend.models_loaded:
                break
            await pilot.pause(0.02)
        assert backend.models_loaded and backend.searches == []


async def test_empty_tabs_say_why():
    backend = FakeBackend()
    app = RisApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        status = str(app.query_one("#status").render())
        assert status.startswith("3 videos, 2 photos, 41 faces indexed.")  # the library first
        assert "Search for a person" in str(app.query_one("#video-title").render())
        await search(pilot, "/q/noface.jpg")
        assert "No results: no face found" in str(app.query_one("#video-title").render())
        await pilot.press("2")
        assert "No results: no face found" in str(app.query_one("#photo-title").render())


async def test_an_empty_library_opens_where_to_index_it(tmp_path: Path):
    from engine.results import LibraryStatus

    class Empty(FakeBackend):
        def status(self) -> LibraryStatus:
            return LibraryStatus(str(self.data_dir), None, 0, 0, 0, (), ())

    app = RisApp(Empty(data_dir=tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.query_one("TabbedContent").active == "library"
        assert app.focused is app.query_one("#index-path")
        assert "Nothing is indexed" in str(app.query_one("#status").render())
        await pilot.press(*str(tmp_path), "enter")  # straight into indexing
        await settle(pilot)
        assert app.backend.indexed or "finding media" in str(
            app.query_one("#index-current").render()
        )


SHOWN = {"slash": "/", "question_mark": "?", "escape": "esc", "f1": "F1", "up": "↑", "down": "↓"}
SHOWN |= {"right": "→", "plus": "+", "equals_sign": "+", "minus": "-"}
SHOWN |= {"right_square_bracket": "]", "left_square_bracket": "["}
SHOWN |= {"ctrl+j": "enter"}  # a line feed: enter as a terminal in line mode sends it
SHOWN |= {"home": "Home", "end": "End"}


def test_every_binding_is_in_the_one_key_list_and_the_docs_table_is_that_list():
    from ris_tui.dialogs import KEYS
    from ris_tui.pathinput import PathInput
    from ris_tui.tables import KeyTable

    listed = {token for keys, _ in KEYS for token in keys.split()}
    for cls in (RisApp, KeyTable, PathInput):
        for binding in cls.BINDINGS:
            for key in binding.key.split(","):  # type: ignore[union-attr]
                assert SHOWN.get(key, key) in listed, f"{cls.__name__}: {key} is not in KEYS"
    page = (Path(__file__).parents[1] / "docs" / "tui.md").read_text()
    table = page[page.index("| key | does |") :].split("\n\n")[0].splitlines()[2:]
    rows = [
        (" ".join(re.findall(r"`([^`]+)`", row.split("|")[1])), row.split("|")[2].strip())
        for row in table
    ]
    assert rows == [(" ".join(k.split()), what) for k, what in KEYS]


async def test_help_lists_every_key_and_fits_80x24():
    from ris_tui.dialogs import KEYS

    app = RisApp(FakeBackend())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        scroll = app.screen.query_one("VerticalScroll")
        assert scroll.max_scroll_y == 0  # nothing hidden below the fold
        shown = " ".join(str(s.render()) for s in app.screen.query("Static"))
        assert all(what in shown for _, what in KEYS)


async def test_the_footer_shows_the_keys_of_the_tab_in_view():
    """Issue 29: the footer was the same everywhere (n p o y e on the Library tab; i s ctrl+f
    f + - never shown). Each tab's keys, and a key of another tab is off there."""
    from textual.widgets import Footer

    app = RisApp(FakeBackend())
    async with app.run_test(size=(200, 40)) as pilot:
        await search(pilot)

        def shown() -> set[str]:
            return {k.key for k in app.query_one(Footer).query("FooterKey")}  # type: ignore[attr-defined]

        videos = shown()
        assert {"n", "p", "o", "y", "e", "s", "ctrl+f", "i", "slash", "q"} <= videos, videos
        assert "r" not in videos
        await pilot.press("2")
        await pilot.pause()
        photos = shown()
        assert {"o", "y", "e", "s", "ctrl+f"} <= photos and not {"n", "p", "r"} & photos
        await pilot.press("3")
        await pilot.pause()
        library = shown()
        assert {"i", "r", "slash", "q"} <= library, library
        assert not {"n", "p", "o", "y", "e", "s", "ctrl+f"} & library, library
        await pilot.press("n")  # off here: nothing happens, no bell of a segment step
        assert app.query_one(TabbedContent).active == "library"


async def test_the_command_palette_offers_the_apps_actions():
    from ris_tui.keymap import commands

    app = RisApp(FakeBackend())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in (
            "Search (/)",
            "Index a folder (i)",
            "Export results (e)",
            "Open in a player (o)",
        ):
            assert title in titles
        # one "Keys" (Textual's own): ours is the help, and every entry of ours names its key
        assert titles.count("Keys") <= 1 and "Help: every key (? F1)" in titles
        ours = [c.title for c in commands()]
        assert all(t.endswith(")") for t in ours), ours
        await pilot.press("escape", "ctrl+p", *"index a", "enter")
        await pilot.pause()
        assert app.focused is app.query_one("#index-path")  # the action ran


def test_every_key_and_palette_entry_names_an_action_of_the_app_once():
    """keymap.py writes each key once: the bindings, the help and the palette come from it.
    Every palette entry runs an action the app has; every bound action is in the help's rows;
    `Y` (copy the time) is in the palette, as the palette said "path and time" and copied the
    path (issue 29)."""
    from ris_tui.keymap import ROWS, commands

    def action_name(action: str) -> str:
        return action.split("(")[0]

    for row in ROWS:
        for binding in row.bindings:
            assert hasattr(RisApp, f"action_{action_name(binding.action)}"), binding
        for command in row.commands:
            assert hasattr(RisApp, f"action_{action_name(command.action)}"), command
    keys = [k for b in RisApp.BINDINGS for k in b.key.split(",")]  # type: ignore[union-attr]
    assert len(keys) == len(set(keys)), "a key bound twice"
    by_action = {c.action: c.title for c in commands()}
    assert by_action["copy('path')"] != by_action["copy('time')"]
    assert "(Y)" in by_action["copy('time')"]


async def test_the_palettes_copy_the_time_copies_the_time(tmp_path: Path):
    app = RisApp(FakeBackend())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"/tmp/q.jpg", "enter")
        await settle(pilot)
        copied: list[str] = []
        app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
        await pilot.press("ctrl+p", *"copy the time", "enter")
        await settle(pilot)
        assert copied and copied[-1].replace(".", "").isdigit(), copied


def test_a_photo_opens_in_a_viewer_and_a_copy_in_tmux_says_where_it_went(tmp_path: Path):
    """tmux's default (set-clipboard external) drops an app's OSC 52: "Copied (OSC 52)" was
    said while nothing was copied (issue 29). Inside tmux the text goes to tmux's buffer too
    (load-buffer -w: on to the clipboard unless set-clipboard is off), and the user is told."""
    from ris_tui.clipboard import copy_beside
    from ris_tui.player import viewer_command

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for exe in ("feh", "mpv"):
        (bin_dir / exe).write_text("#!/bin/sh\n")
        (bin_dir / exe).chmod(0o755)
    env = {"PATH": str(bin_dir), "DISPLAY": ":0"}
    assert viewer_command("/p/a b.jpg", env).argv == ["feh", "/p/a b.jpg"]  # not mpv --start
    assert not viewer_command("/p/a.jpg", {"PATH": str(bin_dir)}).found  # no display
    assert viewer_command("/p/a.jpg", {"RIS_VIEWER": "show --big"}).argv[-1] == "/p/a.jpg"
    tmux = bin_dir / "tmux"
    buffer = tmp_path / "buffer"

    def fake_tmux(mode: str, loads: bool = True, w: bool = True) -> dict[str, str]:
        load = f"cat > {buffer}; exit 0" if loads else "exit 1"
        tmux.write_text(
            "#!/bin/sh\n"
            f'[ "$1" = show-options ] && {{ echo {mode}; exit 0; }}\n'
            + ('[ "$2" = -w ] && exit 1\n' if not w else "")
            + f'[ "$1" = load-buffer ] && {{ {load}; }}\nexit 1\n'
        )
        tmux.chmod(0o755)
        buffer.unlink(missing_ok=True)
        return {"PATH": f"{bin_dir}:/usr/bin:/bin", "TMUX": "x"}

    both = copy_beside("'a b.mp4'", fake_tmux("external"))
    assert both.done and not both.how and "buffer and clipboard" in both.title
    assert buffer.read_text() == "'a b.mp4'"
    only = copy_beside("x", fake_tmux("off"))
    assert only.done and "buffer only" in only.title and "set-clipboard on" in only.how
    old = copy_beside("x", fake_tmux("external", w=False))  # a tmux before 3.2
    assert old.done and "buffer only" in old.title and buffer.read_text() == "x"
    on = copy_beside("x", fake_tmux("on"))
    assert on.done and "OSC 52" in on.title
    lost = copy_beside("x", fake_tmux("off", loads=False))
    assert not lost.done and lost.title == "Not copied" and "set-clipboard on" in lost.how
    assert copy_beside("x", {"PATH": str(bin_dir)}).title == "Copied (OSC 52)"  # not in tmux


async def test_the_picker_draws_every_person_it_counts():
    backend = FakeBackend(faces=7)  # it said "7 people" and drew 6
    app = RisApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot, "/q/crowd.jpg")
        assert isinstance(app.screen, FacePicker)
        assert "7 faces" in str(app.screen.query_one("Static").render())
        assert len(list(app.screen.query(HalfBlocks))) == 7
        await pilot.press("7")
        await settle(pilot)
        assert backend.searches == [("/q/crowd.jpg", 7)]
