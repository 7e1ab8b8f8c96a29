"""What the main screens look like at 80x24 and 120x40 (pytest-textual-snapshot).

After an intended change of the UI: `just test tests/test_tui_snapshots.py --snapshot-update`,
then look at the report and commit the new SVGs.
"""

from __future__ import annotations

import pytest
from tui_support import FakeBackend

from ris_tui.app import RisApp

SIZES = [(80, 24), (120, 40)]


@pytest.fixture(autouse=True)
def true_colour(monkeypatch):  # type: ignore[no-untyped-def]
    """Pictures are drawn for the terminal's colours (images.py): the snapshots are of a true
    colour terminal, whatever TERM the tests run under (test_tui.py covers 256 and 16)."""
    monkeypatch.setenv("COLORTERM", "truecolor")


def app() -> RisApp:
    """The app on canned results, its animations off: the active tab's underline slides to
    the tab's new width when the results arrive, and the snapshots had caught it on its way
    (about one run in five, on an idle machine, at 6d4e8dc too, failed on where it was)."""
    ris = RisApp(FakeBackend(), query="/q/face.jpg", now=lambda: 0.0)
    ris.animation_level = "none"
    return ris


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def after(*keys: str):  # type: ignore[no-untyped-def]
    """What to do before the snapshot: let the first search land, press `keys`, let it settle."""

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_results_screen(snap_compare, size):
    # the second video, its second segment
    assert snap_compare(app(), terminal_size=size, run_before=after("j", "n"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_photos_screen(snap_compare, size):
    assert snap_compare(app(), terminal_size=size, run_before=after("2"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_library_screen(snap_compare, size):
    assert snap_compare(app(), terminal_size=size, run_before=after("3"))


def test_help_screen(snap_compare):
    assert snap_compare(app(), terminal_size=(80, 24), run_before=after("question_mark"))
