"""The command line's progress bar (engine/frontends/progress.py)."""

import io

from engine.events import IndexProgressed
from engine.frontends.progress import ProgressBar


def test_a_run_waiting_for_other_indexers_says_so():
    """A run whose own work is done waits for the files of its plan that other indexers hold
    (a PostgreSQL catalog): the bar said nothing of it, only a stalled percentage."""
    out = io.StringIO()
    bar = ProgressBar(out)
    bar.update(IndexProgressed(3, 5, 600, 1000, 40, 12, "/m/a.mp4"), force=True)
    bar.update(IndexProgressed(3, 5, 600, 1000, 40, 12, "waiting", waiting=2), force=True)
    bar.update(IndexProgressed(4, 5, 800, 1000, 40, 12, "waiting", waiting=1), force=True)
    first, second, third = out.getvalue().splitlines()
    assert "waiting" not in first and "frames/s" in first
    assert second.endswith("waiting for 2 files other indexers hold") and "3/5 files" in second
    assert third.endswith("waiting for 1 file other indexers hold")
