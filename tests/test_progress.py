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


def test_a_run_says_what_it_does_from_its_start_not_from_its_first_frames(dev_index):
    """Issue 29: the plan and the first progress came after the models had loaded (7 to 12 s
    of a bar that said nothing, and of silence on the command line). Now the plan comes first,
    then a progress saying the models load, then where the run works, and every later
    progress counts frames."""
    from engine.events import FileIndexed, IndexPlanned, ModelsLoaded
    from engine.indexing.run import STARTING

    _, events = dev_index
    planned = next(i for i, e in enumerate(events) if isinstance(e, IndexPlanned))
    assert planned == 0
    loaded = next(i for i, e in enumerate(events) if isinstance(e, ModelsLoaded))
    first_file = next(i for i, e in enumerate(events) if isinstance(e, FileIndexed))
    progress = [(i, e) for i, e in enumerate(events) if isinstance(e, IndexProgressed)]
    first_at, first = progress[0]
    assert planned < first_at < loaded < first_file
    assert (first.current, first.frames, first.files_done) == (STARTING, 0, 0)
    assert first.files_total == events[planned].to_index
    assert any(e.frames > 0 and e.current != STARTING for _, e in progress[1:])
