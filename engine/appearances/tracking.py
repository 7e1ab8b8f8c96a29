"""Tracking: linking a video's faces across consecutive samples into appearances (tracks).

A face joins an open track (one seen within a few sampling steps) that no other face of the
same frame took: the track whose recent faces it resembles most (LINK_SIMILARITY), or, where
it stands where the track's last face stood (or where the track was heading, at the speed it
moved between its last two faces: a person crossing the frame) and is about as large, the same
track at a much lower resemblance (NEAR_LINK_SIMILARITY), and after a longer gap
(MAX_NEAR_GAP_STEPS: the detector lost a turned or blurred face for a moment). Small, blurred
or turned faces of one person can be less alike than two sharp faces of strangers; where they
are ties them together.
Otherwise the face starts a track. Search then judges whole appearances (see `matching`).

Where the video's frame sketches are at hand (`frame_sketches`), a track never crosses a shot
cut, and a face joins a track across missed samples only if the frames between still showed
the face where it was: a person who stepped out and came back to the same place is two
appearances, not one.
"""

from __future__ import annotations

import numpy as np

from engine.appearances.frame_sketches import FrameSketches
from engine.appearances.similarity import unit_mean

LINK_SIMILARITY = 0.5  # cosine similarity to a track's recent faces needed to join it
NEAR_LINK_SIMILARITY = 0.35  # the same, for a face where the track's last face was
# the centre moved at most this many face heights a step (two steps at most), from where the
# track's last face was or from where it would be had it kept moving
NEAR_DISTANCE = 0.5
NEAR_SIZE = 1.5  # and grew or shrank by at most this factor
MAX_GAP_STEPS = 2.5  # samples further apart than this many sampling steps break a track
MAX_NEAR_GAP_STEPS = 6.0  # unless the face is where the track's last one was
RECENT = 5  # a track is represented by the mean of its last few faces


def assign_tracks(
    times: np.ndarray,
    vectors: np.ndarray,
    step: float,
    boxes: np.ndarray | None = None,
    sketches: FrameSketches | None = None,
) -> np.ndarray:
    """Track number (0, 1, ...) of each face; faces are given with their sample time and,
    where known, their boxes (x1, y1, x2, y2) and the video's frame sketches."""
    tracks = np.full(len(times), -1, dtype=np.int64)
    cuts = sketches.cuts() if sketches is not None else np.zeros(0)
    members: list[list[int]] = []
    for t in np.unique(times):
        here = np.flatnonzero(times == t).tolist()
        open_tracks = [
            k for k, m in enumerate(members) if t - times[m[-1]] <= MAX_NEAR_GAP_STEPS * step + 1e-6
        ]
        pairs = []
        for k in open_tracks:
            recent = unit_mean(vectors[members[k][-RECENT:]])
            last = members[k][-1]
            steps = max(1.0, (t - times[last]) / step)
            recent_enough = steps <= MAX_GAP_STEPS + 1e-6
            if sketches is not None and sketches.cut_between(times[last], t, cuts):
                continue  # a new shot: every track before it is closed
            for i in here:
                sim = float(vectors[i] @ recent)
                near = boxes is not None and (
                    _near(boxes[i], boxes[last], steps)
                    or _near(boxes[i], _ahead(members[k], times, boxes, t, step), steps)
                )
                if not (
                    (recent_enough and sim >= LINK_SIMILARITY)
                    or (near and sim >= NEAR_LINK_SIMILARITY)
                ):
                    continue
                if not _stayed(sketches, boxes, times, last, i, steps):
                    continue  # the frames between showed something else there: it left
                pairs.append((near, sim, i, k))  # place first, then likeness
        taken_faces: set[int] = set()
        taken_tracks: set[int] = set()
        for _, _, i, k in sorted(pairs, reverse=True):
            if i not in taken_faces and k not in taken_tracks:
                tracks[i] = k
                members[k].append(i)
                taken_faces.add(i)
                taken_tracks.add(k)
        for i in here:
            if tracks[i] < 0:
                tracks[i] = len(members)
                members.append([i])
    return tracks


def _stayed(
    sketches: FrameSketches | None,
    boxes: np.ndarray | None,
    times: np.ndarray,
    last: int,
    i: int,
    steps: float,
) -> bool:
    """Whether face i can be the face `last` across the samples lost between them, as far as
    the frames show. Asked only of a gap longer than MAX_GAP_STEPS, which only a face where the
    last one was can bridge: a shorter one is a face the detector missed for a moment (on
    degraded video the sketches of a face a few cells high are too coarse to overrule that)."""
    if sketches is None or boxes is None or steps <= MAX_GAP_STEPS + 1e-6:
        return True
    return sketches.stayed(times[last], boxes[last], times[i], boxes[i])


def _ahead(
    track: list[int], times: np.ndarray, boxes: np.ndarray, t: float, step: float
) -> np.ndarray:
    """Where the track's face would be at `t` if it kept moving as it did between its last two
    samples (a person crossing the frame; at most two steps ahead): the last box, moved."""
    last = boxes[track[-1]]
    if len(track) < 2:
        return last
    before = track[-2]
    between = (times[track[-1]] - times[before]) / step
    if not 0 < between <= MAX_GAP_STEPS + 1e-6:
        return last
    ahead = min((t - times[track[-1]]) / step, 2.0)
    shift = (last - boxes[before]) / between * ahead
    dx, dy = (shift[0] + shift[2]) / 2, (shift[1] + shift[3]) / 2
    return np.asarray([last[0] + dx, last[1] + dy, last[2] + dx, last[3] + dy])


def _near(box: np.ndarray, last: np.ndarray, steps: float) -> bool:
    """Whether a face could be the one boxed `last`, `steps` sampling steps before."""
    h, h_last = box[3] - box[1], last[3] - last[1]
    if h <= 0 or h_last <= 0 or not 1 / NEAR_SIZE <= h / h_last <= NEAR_SIZE:
        return False
    dx = (box[0] + box[2] - last[0] - last[2]) / 2
    dy = (box[1] + box[3] - last[1] - last[3]) / 2
    reach = NEAR_DISTANCE * max(h, h_last) * min(steps, 2.0)  # a lost face is looked for nearby
    return bool(np.hypot(dx, dy) <= reach)
