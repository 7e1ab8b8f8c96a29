"""v: a segment's moment seen large in the terminal, without a display or a player: its frames
stepped through one sample at a time (the matched face boxed), saved as a picture or the whole
segment as a clip, or played in the terminal where a player can."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static
from textual.worker import get_current_worker

from . import images
from .formatting import clock, count, keys_line, printable
from .images import HalfBlocks

if TYPE_CHECKING:
    from PIL import Image

    from engine.results import Moment, VideoHit

    from .backend import Backend


def frame_times(start: float, end: float, step: float) -> list[float]:
    """The sampled frames of a segment, `step` seconds apart, from its start to its end."""
    if end <= start or step <= 0:
        return [start]
    return [round(float(t), 3) for t in np.arange(start, end + step / 2, step) if t <= end + 1e-6]


def save_dir(env: dict[str, str] | None = None) -> Path:
    """Where saved frames and clips go: RIS_SAVE_DIR, else the working directory."""
    env = dict(os.environ) if env is None else env
    return Path(env.get("RIS_SAVE_DIR") or os.getcwd()).expanduser()


def free_name(folder: Path, stem: str, suffix: str) -> Path:
    """`folder/stem.suffix`, or with -2, -3... where that is taken: a save never overwrites."""
    target, n = folder / f"{stem}{suffix}", 1
    while target.exists():
        n += 1
        target = folder / f"{stem}-{n}{suffix}"
    return target


def _stamp(t: float) -> str:
    return f"{t:.1f}s".replace(".", "_")


@dataclass
class FrameShown(Message):
    t: float
    image: Image.Image


@dataclass
class Saved(Message):
    text: str
    error: bool = False
    done: bool = True  # False: progress


class MomentView(ModalScreen[None]):
    """A video's segments frame by frame, as large as the terminal allows."""

    BINDINGS = [
        Binding("escape,q,v", "dismiss(None)", "back"),
        Binding("left,h", "step(-1)", "◀ frame"),
        Binding("right,l", "step(1)", "frame ▶"),
        Binding("p", "segment(-1)", "◀ segment"),
        Binding("n", "segment(1)", "segment ▶"),
        Binding("w", "save_frame", "save frame"),
        Binding("c", "save_clip", "save clip"),
        Binding("o", "play", "play"),
    ]
    DEFAULT_CSS = """
    MomentView { align: center middle; }
    MomentView > Vertical { width: 100%; height: 100%; background: $surface; }
    MomentView #moment-title { height: 1; text-style: bold; padding: 0 1; }
    MomentView #moment-picture { height: 1fr; }
    MomentView #moment-keys { height: 1; color: $text-muted; padding: 0 1; }
    """

    def __init__(self, backend: Backend, video: VideoHit, segment: int) -> None:
        super().__init__()
        self.backend, self.video = backend, video
        self.segment = max(0, min(segment, len(video.segments) - 1))
        self.times: list[float] = []
        self.at = 0
        self._frames: dict[float, Image.Image] = {}
        self._clip_stop = threading.Event()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="moment-title")
            if images.mode() == "none":
                yield Static(
                    "Pictures are off (--images none): w saves the frame, c the segment.",
                    id="moment-picture",
                )
            else:
                yield HalfBlocks(id="moment-picture")
            yield Static(
                keys_line(
                    (
                        ("← →", "frame"),
                        ("n p", "segment"),
                        ("w", "save frame"),
                        ("c", "save clip"),
                        ("o", "play"),
                        ("esc", "back"),
                    )
                ),
                id="moment-keys",
            )

    def on_mount(self) -> None:
        self._open_segment()

    def _open_segment(self) -> None:
        v = self.video
        if v.segments:
            s = v.segments[self.segment]
            self.times = frame_times(s.start, s.end, self.backend.sample_step)
        else:
            self.times = [0.0]
        self.at = 0
        self._show()

    @property
    def t(self) -> float:
        return self.times[self.at]

    def match_at(self, t: float) -> Moment | None:
        """The matched face of the sample at `t`, if it matched."""
        near = [m for m in self.video.matches if abs(m.t - t) <= self.backend.sample_step / 2]
        return min(near, key=lambda m: abs(m.t - t)) if near else None

    def _show(self) -> None:
        v, t = self.video, self.t
        match = self.match_at(t)
        segs = len(v.segments)
        where = f"segment {self.segment + 1} of {segs} · " if segs else ""
        face = " · face" + (f" {match.similarity:.2f}" if match.similarity else "") if match else ""
        self.query_one("#moment-title", Static).update(
            Text(
                f"{printable(Path(v.path).name)} · {where}{clock(t)} · frame {self.at + 1} of "
                f"{len(self.times)}{face}",
                no_wrap=True,
                overflow="ellipsis",
            )
        )
        if t in self._frames:
            self._draw(self._frames[t])
        else:
            self.load(t, match)

    @work(thread=True, exclusive=True, group="moment")
    def load(self, t: float, match: Moment | None) -> None:
        try:
            image = self.backend.frame(self.video.path, t, match.bbox if match else None)
        except Exception as err:
            self.post_message(Saved(f"Cannot show the frame at {clock(t)}: {err}", error=True))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(FrameShown(t, image))

    def on_frame_shown(self, message: FrameShown) -> None:
        self._frames[message.t] = message.image
        if message.t == self.t:
            self._draw(message.image)

    def _draw(self, image: Image.Image) -> None:
        picture = self.query_one("#moment-picture")
        if isinstance(picture, HalfBlocks):
            picture.set_image(image)

    def action_step(self, delta: int) -> None:
        at = self.at + delta
        if not 0 <= at < len(self.times):
            self.app.bell()
            return
        self.at = at
        self._show()

    def action_segment(self, delta: int) -> None:
        n = self.segment + delta
        if not 0 <= n < len(self.video.segments):
            self.app.bell()
            return
        self.segment = n
        self._open_segment()

    def action_save_frame(self) -> None:
        v, t = self.video, self.t
        target = free_name(save_dir(), f"{Path(v.path).stem}_{_stamp(t)}", ".png")
        self.save_frame(t, target)

    @work(thread=True, group="moment-save")
    def save_frame(self, t: float, target: Path) -> None:
        try:
            self.backend.save_frame(self.video.path, t, target)
        except Exception as err:
            self.post_message(Saved(f"Cannot save the frame: {err}", error=True))
            return
        self.post_message(Saved(f"Frame at {clock(t)} saved: {printable(str(target))}"))

    def action_save_clip(self) -> None:
        v = self.video
        if not v.segments:
            self.app.bell()
            return
        s = v.segments[self.segment]
        stem = f"{Path(v.path).stem}_{_stamp(s.start)}-{_stamp(s.end)}"
        self.save_clip(s.start, s.end, free_name(save_dir(), stem, ".mp4"))

    @work(thread=True, exclusive=True, group="moment-clip")
    def save_clip(self, start: float, end: float, target: Path) -> None:
        self._clip_stop.set()  # one clip at a time: a newer one wins
        stop = self._clip_stop = threading.Event()

        def progress(done: int, total: int) -> None:
            text = f"Saving the clip: {done}/{count(total, 'frame')}… (esc stops it)"
            self.post_message(Saved(text, done=False))

        try:
            self.backend.save_clip(self.video.path, start, end, target, stop, progress)
        except InterruptedError:
            return
        except Exception as err:
            self.post_message(Saved(f"Cannot save the clip: {err}", error=True))
            return
        span = f"{clock(start)}–{clock(end)}"
        self.post_message(Saved(f"Clip {span} saved: {printable(str(target))}"))

    def on_saved(self, message: Saved) -> None:
        if message.error:
            self.app.notify(message.text, severity="error", timeout=10)
        elif message.done:
            self.app.notify(message.text, title="Saved", timeout=8)
        self.query_one("#moment-keys", Static).update(Text(message.text, no_wrap=True))

    def action_play(self) -> None:
        v = self.video
        end = v.segments[self.segment].end if v.segments else v.duration
        self.app.play(v.path, self.t, end)  # type: ignore[attr-defined]

    def on_unmount(self) -> None:
        self._clip_stop.set()  # leaving stops a clip being written (its file is removed)
