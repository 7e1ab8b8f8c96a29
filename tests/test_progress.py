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


def test_progress_counts_sampled_frames_toward_an_estimate_that_ends_exact(dev_index):
    """Issue 29: progress was by bytes (94 % with seconds to go). It counts sampled frames
    toward how many the run will look at: exact once every file is opened, never below
    what is done, and unknown (0) only until the first video is opened."""
    from engine.events import IndexFinished

    _, events = dev_index
    progress = [e for e in events if isinstance(e, IndexProgressed)]
    finished = next(e for e in events if isinstance(e, IndexFinished))
    working = [p for p in progress if p.frames]
    assert working and all(p.frames_expected >= p.frames for p in working)
    assert progress[-1].frames == progress[-1].frames_expected == finished.frames


def test_the_frame_estimate_extrapolates_unopened_videos_by_their_bytes():
    from pathlib import Path

    from engine.indexing.run import FrameEstimate
    from engine.media.finding import MediaFile
    from engine.vocabulary import MediaKind

    def media(name: str, kind: MediaKind, size: int) -> MediaFile:
        return MediaFile(Path(name), kind, size, 0)

    a, b, c = (media(n, MediaKind.VIDEO, s) for n, s in (("a", 1000), ("b", 3000), ("c", 1000)))
    photos = [media(f"p{i}", MediaKind.IMAGE, 500) for i in range(4)]
    est = FrameEstimate([a, b, c, *photos], before=7)
    assert est.total() == 0  # no video opened: nothing to go on
    est.opened(a, 20)  # 20 samples in 1000 bytes: the other 4000 bytes hold about 80
    assert est.total() == 7 + 4 + 20 + 80
    est.ended(a, 18)  # it ended two samples short: what it was read to counts
    est.opened(b, 30)
    assert est.total() == 7 + 4 + 18 + 30 + round(1000 * 48 / 4000)
    est.opened(c, 10)
    assert est.total() == 7 + 4 + 18 + 30 + 10
    assert FrameEstimate(photos).total() == 4  # photos only: one frame each, known at once
