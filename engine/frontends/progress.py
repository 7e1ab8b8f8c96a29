"""Progress bars on stderr (index runs, migrations): redrawn in place on a terminal, sparse
lines otherwise."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

from engine.events import IndexProgressed
from engine.timecodes import clock


def fraction(p: IndexProgressed) -> float:
    """How far a run is: by sampled frames where it can tell how many there will be, else by
    bytes (before the first file is opened)."""
    if p.frames_expected:
        return min(1.0, p.frames / p.frames_expected)
    return p.bytes_done / p.bytes_total if p.bytes_total else 1.0


class ProgressBar:
    def __init__(self, stream: TextIO = sys.stderr, interval: float = 0.2) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.interval = interval if self.tty else 10.0
        self.started = time.monotonic()
        self._last = 0.0
        self._drawn = False
        self._working: tuple[float, int] | None = None  # when frames started, and how many

    def update(self, p: IndexProgressed, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        frac = fraction(p)
        elapsed = now - self.started
        if p.frames and self._working is None:  # the first frames: the models have loaded
            self._working = (now, p.frames)
        rate, eta = 0.0, 0.0
        if self._working is not None and now > self._working[0]:
            # frames per second of the work itself, not of the models' loading before it
            rate = (p.frames - self._working[1]) / (now - self._working[0])
            left = max(0, p.frames_expected - p.frames)
            eta = left / rate if rate > 0 and p.frames_expected else 0.0
        stats = (
            f"{frac:4.0%} {p.files_done}/{p.files_total} files  {p.frames} frames "
            f"{p.faces} faces  {rate:.1f} frames/s  {clock(elapsed)} ETA {clock(eta)}"
        )
        if p.waiting:  # its own work done: the rest is others' (a shared catalog)
            stats = (
                f"{frac:4.0%} {p.files_done}/{p.files_total} files  {clock(elapsed)}  "
                f"waiting for {p.waiting} {'file' if p.waiting == 1 else 'files'} "
                "other indexers hold"
            )
        self._draw(frac, stats)

    def _draw(self, frac: float, stats: str) -> None:
        if not self.tty:
            print(f"ris: {stats}", file=self.stream, flush=True)
            return
        width = shutil.get_terminal_size((100, 20)).columns
        bar_width = max(10, min(30, width - len(stats) - 4))
        filled = int(bar_width * frac)
        line = f"[{'#' * filled}{'.' * (bar_width - filled)}] {stats}"
        self.stream.write("\r" + line[: width - 1].ljust(width - 1))
        self.stream.flush()
        self._drawn = True

    def clear(self) -> None:
        if self._drawn:
            width = shutil.get_terminal_size((100, 20)).columns
            self.stream.write("\r" + " " * (width - 1) + "\r")
            self.stream.flush()
            self._drawn = False

    def message(self, text: str) -> None:
        """A line that stays (a failed file), printed above the bar."""
        self.clear()
        print(text, file=self.stream, flush=True)


class CountBar(ProgressBar):
    """A bar over a count of things (vectors copied by a migration)."""

    def __init__(self, unit: str, stream: TextIO = sys.stderr) -> None:
        super().__init__(stream)
        self.unit = unit

    def update_count(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < self.interval:
            return
        self._last = now
        frac = done / total if total else 1.0
        elapsed = now - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        self._draw(frac, f"{frac:4.0%} {done}/{total} {self.unit}  {rate:.0f} {self.unit}/s")
