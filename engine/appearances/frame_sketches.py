"""Frame sketches: what each sampled frame of a video looked like, as a few hundred colour cells.

Kept while a video is read, for two judgements its faces alone cannot make:
- **Was the face still there?** A track that lost its face for a few samples (a turned, blurred
  or small face the detector missed) is joined again where the face reappears. On clean video a
  gap that long is as often a real absence: the person stepped out and came back to the same
  place. The sketches tell them apart: where the face was missed, the frames between show
  about what the track's last face showed there; where the person left, they show something
  else (the background, another thing).
- **Shot cuts**: a sample that looks nothing like the one before starts a new shot; a track
  never spans one.

A sketch is the frame averaged into CELLS_HIGH x CELLS_WIDE cells of 8-bit RGB (48 x 27: 3.9 KB
a sample, 28 MB for two hours sampled twice a second).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CELLS_WIDE, CELLS_HIGH = 48, 27
STAYED_CHANGE = 28.0  # mean cell difference (0-255) under which a place still shows the face
CUT_CHANGE = 60.0  # mean cell difference from the sample before that starts a shot
CUT_SHARE = 0.6  # ... over at least this share of the frame's cells
SHOT_CHANGE = 35.0  # a smaller one starts a shot too where it stands out from the changes
SHOT_RATIO = 2.5  # around it (their median, SHOT_AROUND samples each side) this many times
SHOT_AROUND = 2
CORE = 0.2  # a face box's inner part: this share of its side is left off each edge
MIN_CELLS = 3.0  # a face fewer cells high than this is too small to judge from the sketches


def sketch(frames: np.ndarray) -> np.ndarray:
    """(B, H, W, 3) uint8 frames -> (B, CELLS_HIGH, CELLS_WIDE, 3) uint8 cell means, over
    about 4 x 4 pixels a cell where the frame is larger (the mean of a spread of pixels: a
    sketch costs about the same at any size, a small share of a frame's detection)."""
    stride = max(1, min(frames.shape[1] // (CELLS_HIGH * 4), frames.shape[2] // (CELLS_WIDE * 4)))
    frames = frames[:, ::stride, ::stride]
    b, h, w, _ = frames.shape
    ys = np.linspace(0, h, CELLS_HIGH + 1).astype(np.int64)
    xs = np.linspace(0, w, CELLS_WIDE + 1).astype(np.int64)
    # sums over cell rows, then cell columns (cells of unequal size where H or W do not divide)
    rows = np.add.reduceat(frames.astype(np.uint32), ys[:-1], axis=1)
    cells = np.add.reduceat(rows, xs[:-1], axis=2).astype(np.float64)
    area = np.outer(np.diff(ys), np.diff(xs))[None, :, :, None]
    return np.clip(np.rint(cells / area), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class FrameSketches:
    """A video's sketches in time order, and the size of its frames in the file's pixels (the
    faces' boxes are in those)."""

    times: np.ndarray  # (N,) seconds
    cells: np.ndarray  # (N, CELLS_HIGH, CELLS_WIDE, 3) uint8
    width: float
    height: float

    @classmethod
    def of(cls, parts: list[tuple[np.ndarray, np.ndarray]], width: float, height: float):
        """From (times, sketches) chunks, in any order."""
        if not parts:
            empty = np.zeros((0, CELLS_HIGH, CELLS_WIDE, 3), np.uint8)
            return cls(np.zeros(0), empty, width, height)
        times = np.concatenate([t for t, _ in parts])
        cells = np.concatenate([c for _, c in parts])
        order = np.argsort(times, kind="stable")
        return cls(times[order], cells[order], width, height)

    def cuts(self) -> np.ndarray:
        """The times of the samples that start a new shot."""
        if len(self.times) < 2:
            return np.zeros(0)
        change = np.abs(np.diff(self.cells.astype(np.int16), axis=0)).mean(axis=3)
        mean = change.mean(axis=(1, 2))
        cut = (mean >= CUT_CHANGE) | ((change >= CUT_CHANGE).mean(axis=(1, 2)) >= CUT_SHARE)
        return self.times[1:][cut | _stands_out(mean)]

    def cut_between(self, t0: float, t1: float, cuts: np.ndarray) -> bool:
        return bool(np.any((cuts > t0 + 1e-6) & (cuts <= t1 + 1e-6)))

    def stayed(self, t0: float, box0: np.ndarray, t1: float, box1: np.ndarray) -> bool:
        """Whether the samples between t0 and t1 show, where the face would have been (moving
        steadily from box0 to box1), about what the face showed at t0 or at t1: a face the
        detector missed rather than one that left. True where nothing lies between, a sample
        is not sketched, or the face is too small for the cells to show it (MIN_CELLS):
        nothing says otherwise."""
        i0, i1 = self._at(t0), self._at(t1)
        if i0 is None or i1 is None or self._cells_high(box0, box1) < MIN_CELLS:
            return True
        start, end = self._region(i0, box0), self._region(i1, box1)
        for i in range(i0 + 1, i1):
            u = (self.times[i] - t0) / max(t1 - t0, 1e-9)
            there = self._region(i, box0 + u * (box1 - box0))
            if min(_change(there, start), _change(there, end)) > STAYED_CHANGE:
                return False
        return True

    def _cells_high(self, box0: np.ndarray, box1: np.ndarray) -> float:
        return min(box0[3] - box0[1], box1[3] - box1[1]) * CELLS_HIGH / max(self.height, 1.0)

    def _at(self, t: float) -> int | None:
        i = int(np.searchsorted(self.times, t - 1e-6))
        return i if i < len(self.times) and abs(self.times[i] - t) <= 1e-6 else None

    def _region(self, i: int, box: np.ndarray) -> np.ndarray:
        """The face's inner part at sample i as 2 x 2 mean colours (left/right, top/bottom)."""
        x1, y1, x2, y2 = (float(v) for v in box)
        dx, dy = (x2 - x1) * CORE, (y2 - y1) * CORE
        fx, fy = CELLS_WIDE / max(self.width, 1.0), CELLS_HIGH / max(self.height, 1.0)
        c1 = int(np.clip(np.floor((x1 + dx) * fx), 0, CELLS_WIDE - 1))
        c2 = int(np.clip(np.ceil((x2 - dx) * fx), c1 + 1, CELLS_WIDE))
        r1 = int(np.clip(np.floor((y1 + dy) * fy), 0, CELLS_HIGH - 1))
        r2 = int(np.clip(np.ceil((y2 - dy) * fy), r1 + 1, CELLS_HIGH))
        patch = self.cells[i, r1:r2, c1:c2].astype(np.float64)
        halves = []
        for rows in np.array_split(patch, 2, axis=0) if len(patch) > 1 else [patch, patch]:
            cols = np.array_split(rows, 2, axis=1) if rows.shape[1] > 1 else [rows, rows]
            halves += [c.reshape(-1, 3).mean(axis=0) for c in cols]
        return np.stack(halves)


def _change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def _stands_out(change: np.ndarray) -> np.ndarray:
    """Which sample-to-sample changes are cuts between two shots that look alike (the same
    palette, a person who stays): at least SHOT_CHANGE, and SHOT_RATIO times the median of
    the changes around them. A face or a camera that moves changes every sample about
    alike; a cut changes one. Measured on the generated benchmarks with --cuts and on the
    dev clips: cuts 27 to 59, 16 of 17 at least 39, 3.4 to 10.7 times the changes around
    them; within a shot at most 31, then at most 1.6 times."""
    out = np.zeros(len(change), dtype=bool)
    for k in np.flatnonzero(change >= SHOT_CHANGE):
        around = np.r_[change[max(0, k - SHOT_AROUND) : k], change[k + 1 : k + 1 + SHOT_AROUND]]
        out[k] = not len(around) or change[k] >= SHOT_RATIO * max(float(np.median(around)), 1.0)
    return out
