"""The decoding worker: bad files are reported and the run goes on, hangs are bounded."""

import os
import threading
import time

import pytest

from engine.media.decoding import Decoder
from engine.media.finding import MediaFile
from engine.media.sampling import SampleOptions
from tests.conftest import HAMILTON


def media(path, kind="video"):
    st = path.stat()
    return MediaFile(path, kind, st.st_size, st.st_mtime_ns)


def outcome(events):
    out = {}
    for ev in events:
        name = ev.file.path.name
        if ev.error:
            out[name] = ev.error
        elif ev.done:
            out[name] = "done"
    return out


def test_damaged_files_are_reported_and_the_rest_decoded(bad_media):
    files = [
        media(bad_media / "notes.mp4"),
        media(HAMILTON),
        media(bad_media / "truncated_hamilton.mp4"),
    ]
    result = outcome(Decoder(SampleOptions(), timeout=60).decode(files))
    assert result["short_hamilton_clip.mp4"] == "done"
    assert "cannot decode the video" in result["notes.mp4"]
    assert "cannot decode the video" in result["truncated_hamilton.mp4"]


def test_a_hung_decoder_is_killed_and_the_run_goes_on(tmp_path):
    fifo = tmp_path / "hangs.mp4"
    os.mkfifo(fifo)  # opening it blocks forever: a real hang inside decord
    files = [MediaFile(fifo, "video", 1, 1), media(HAMILTON)]
    result = outcome(Decoder(SampleOptions(), timeout=3).decode(files))
    assert "decoding stalled" in result["hangs.mp4"]
    assert result["short_hamilton_clip.mp4"] == "done"


def test_a_photo_that_is_not_an_image_is_reported(tmp_path):
    fake = tmp_path / "fake.jpg"
    fake.write_text("nope")
    (event,) = list(Decoder(SampleOptions(), timeout=30).decode([media(fake, "image")]))
    assert "cannot read the photo" in event.error


def test_a_cancel_ends_the_workers_while_the_consumer_is_busy_elsewhere():
    """A query clip's consumer spends seconds on a batch between events: the decoding
    process must end at the cancel (and be reaped), not when the consumer next asks."""
    stop = threading.Event()
    decoder = Decoder(SampleOptions(chunk=1), timeout=60)
    events = decoder.decode([media(HAMILTON)], stop)
    next(events)  # the workers run
    (pid,) = decoder.pids()
    stop.set()
    time.sleep(1.0)  # busy on a batch: the generator is not resumed
    with pytest.raises(ProcessLookupError):  # gone, not even a zombie
        os.kill(pid, 0)
    assert list(events) == []  # no file is blamed for the kill, none is replaced
