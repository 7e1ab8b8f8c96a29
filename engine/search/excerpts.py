"""A moment of a video kept as a file: the frame on screen at a time (PNG), or a stretch of the
video re-encoded as a short H.264 clip (MP4, no sound). What a user saves to look at a match
where there is no display to play it on (over SSH), or to send it on.

Frames are read with decord and turned upright as the rest of ris shows them; the clip is
written with PyAV (a dependency already), at the video's own frame rate.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from engine.errors import UserError
from engine.media.sampling import display_turns, frame_starts, upright, video_reader
from engine.results import Box
from engine.search.thumbnails import boxed, frames_at

MAX_CLIP = 120.0  # seconds: a longer stretch is cut to its first two minutes
_CHUNK = 32  # frames decoded at a time


def frame_image(path: Path, t: float, box: Box | None = None) -> Image.Image:
    """The frame on screen at `t` seconds (a photo: itself), `box` drawn on it when given."""
    frame = frames_at(path, [t])[0]
    return boxed(frame, box) if box is not None else Image.fromarray(frame)


def save_frame(path: Path, t: float, out: Path) -> Path:
    """The frame at `t` as a PNG at `out` (as decoded: no box drawn on it)."""
    _writable(out)
    frame_image(path, t).save(out, format="PNG")
    return out


def save_clip(
    path: Path,
    start: float,
    end: float,
    out: Path,
    stop: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """The video from `start` to `end` seconds (at most MAX_CLIP) as an MP4 at `out`; tells
    `progress(frames written, frames in all)`. Stops at `stop`, removing the partial file."""
    import av

    _writable(out)
    vr = video_reader(path)
    fps = float(vr.get_avg_fps() or 0.0) or 25.0
    rel = frame_starts(vr, fps)
    rel = rel - rel[0]
    end = min(end, start + MAX_CLIP)
    first = int(np.clip(np.searchsorted(rel, start + 1e-3, side="right") - 1, 0, len(vr) - 1))
    last = int(np.clip(np.searchsorted(rel, end + 1e-3, side="right") - 1, first, len(vr) - 1))
    indices = list(range(first, last + 1))
    turns = display_turns(path, vr[0].asnumpy())
    rate = Fraction(fps).limit_denominator(1001)
    done = 0
    try:
        with av.open(str(out), "w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=rate)
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "20", "preset": "veryfast"}
            for at in range(0, len(indices), _CHUNK):
                if stop is not None and stop.is_set():
                    raise InterruptedError("stopped")
                batch = upright(vr.get_batch(indices[at : at + _CHUNK]).asnumpy(), turns)
                if done == 0:  # even sides: yuv420p halves them
                    stream.width = batch.shape[2] - batch.shape[2] % 2
                    stream.height = batch.shape[1] - batch.shape[1] % 2
                for frame in batch:
                    even = np.ascontiguousarray(frame[: stream.height, : stream.width])
                    picture = av.VideoFrame.from_ndarray(even, format="rgb24")
                    container.mux(stream.encode(picture))
                    done += 1
                if progress is not None:
                    progress(done, len(indices))
            container.mux(stream.encode(None))
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out


def _writable(out: Path) -> None:
    if not out.parent.is_dir():
        raise UserError(
            f"no folder {out.parent} to save into", "save into a folder that exists (RIS_SAVE_DIR)"
        )
