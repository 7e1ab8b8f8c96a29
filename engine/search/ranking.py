"""Ranking: from face hits to ranked videos with moments and segments, and ranked photos.

Pure functions over arrays: no models, no files, so the logic is tested fast and exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from engine.appearances.tracking import MAX_GAP_STEPS  # the same gap closes a track and a segment
from engine.results import Moment, PhotoHit, Segment, VideoHit, as_box
from engine.vocabulary import MediaKind

COVERAGE_WEIGHT = 0.25  # how much presence through the video lifts its score


@dataclass(frozen=True)
class Matches:
    """The faces that match a query, as parallel arrays, and each file's match quality."""

    file_ids: np.ndarray
    times: np.ndarray
    boxes: np.ndarray  # (N, 4) in the file's own pixels
    similarities: np.ndarray  # of each face to the query, in [0, 1]
    quality: dict[int, float]  # per file: similarity of its best matching appearance
    possible: frozenset[int] = frozenset()  # files that only possibly match (below threshold)
    tracks: np.ndarray | None = None  # appearance of each face within its file, where known
    files: dict[int, FileInfo] | None = None  # what ranking needs of each file, where read
    floor: float | None = None  # the similarity down to which possible matches were listed
    weak: np.ndarray | None = None  # per face: its appearance is below the threshold in a
    # file that matches (a possible segment of a matched video)

    @classmethod
    def none(cls) -> Matches:
        return cls(np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 4)), np.zeros(0), {})


@dataclass(frozen=True)
class FileInfo:
    path: str
    kind: MediaKind
    duration: float | None
    samples: int
    step: float | None
    cuts: tuple[float, ...] = ()  # a video's shot cuts (seconds), where they were recorded


def rank(
    found: Matches,
    files: dict[int, FileInfo],
    top: int,
    present: Callable[[str], bool] = lambda path: True,
) -> tuple[list[VideoHit], list[PhotoHit]]:
    """Group matching faces by file; videos and photos, each best first, `top` of each.
    Possible matches come after every match, best first among themselves.

    Faces of files missing from `files`, or whose path is not `present` (gone from disk), are
    left out. A photo's or a possible video's place follows from its match quality alone, so
    only those that can make the page are built and asked `present`; a matched video's score
    also counts how long it shows the person, so every matched video is built.
    """
    times, boxes, sims, quality = found.times, found.boxes, found.similarities, found.quality
    tracks = found.tracks if found.tracks is not None else np.full(len(times), -1)
    weak = found.weak if found.weak is not None else np.zeros(len(times), bool)
    by_file: dict[int, list[int]] = defaultdict(list)
    for i, fid in enumerate(found.file_ids.tolist()):
        if fid in files:
            by_file[fid].append(i)

    def by_quality(ids: list[int]) -> list[int]:
        return sorted(
            ids, key=lambda f: (f in found.possible, -round(quality[f], 4), files[f].path)
        )

    def hit(fid: int) -> VideoHit:
        r = np.asarray(by_file[fid])
        sure, maybe = r[~weak[r]], r[weak[r]]
        video = video_hit(
            files[fid], quality[fid], times[sure], boxes[sure], sims[sure], tracks[sure]
        )
        if not len(maybe):
            return video
        return with_possible_segments(video, files[fid], times[maybe], sims[maybe], tracks[maybe])

    videos, possible_videos, images = [], [], []
    for fid in by_file:
        if files[fid].kind != MediaKind.VIDEO:
            images.append(fid)
        elif fid in found.possible:
            possible_videos.append(fid)
        elif present(files[fid].path):
            videos.append(hit(fid))
    videos.sort(key=lambda v: (-v.score, v.path))
    for fid in by_quality(possible_videos):
        if len(videos) >= top:
            break
        if present(files[fid].path):
            # a possible match is ranked by its best appearance alone: never lifted by how
            # long it lasts to a score that would read as a match
            video = hit(fid)
            videos.append(
                replace(
                    video,
                    score=round(quality[fid], 4),
                    possible=True,
                    segments=tuple(replace(s, possible=True) for s in video.segments),
                )
            )
    shown: list[PhotoHit] = []
    for fid in by_quality(images):
        if len(shown) >= top:
            break
        if present(files[fid].path):
            r = np.asarray(by_file[fid])
            best = r[int(np.argmax(sims[r]))]
            score = round(quality[fid], 4)
            shown.append(
                PhotoHit(files[fid].path, score, as_box(boxes[best]), fid in found.possible)
            )
    return videos[:top], shown


def video_hit(
    info: FileInfo,
    quality: float,
    times: np.ndarray,
    boxes: np.ndarray,
    sims: np.ndarray,
    tracks: np.ndarray | None = None,
) -> VideoHit:
    best = best_per_time(sims, times)
    moments = [
        Moment(round(float(times[i]), 3), as_box(boxes[i]), round(float(sims[i]), 4)) for i in best
    ]
    step = info.step or 0.5
    duration = float(info.duration or (moments[-1].t + step))
    score = video_score(quality, len(moments), info.samples)
    segments = merge_segments(
        [m.t for m in moments],
        [m.similarity for m in moments],
        step,
        duration,
        None if tracks is None else [int(tracks[i]) for i in best],
        info.cuts,
    )
    return VideoHit(info.path, score, round(duration, 3), tuple(segments), tuple(moments))


def with_possible_segments(
    hit: VideoHit, info: FileInfo, times: np.ndarray, sims: np.ndarray, tracks: np.ndarray
) -> VideoHit:
    """A matched video's weaker appearances (those `Matches.weak` marks: below the threshold,
    within WEAKER_MARGIN of it) as possible segments, in time order among its segments; one that overlaps a segment of a
    match adds nothing (the person is matched there already). Score and moments unchanged."""
    best = best_per_time(sims, times)
    step = info.step or 0.5
    weaker = merge_segments(
        [float(times[i]) for i in best],
        [float(sims[i]) for i in best],
        step,
        hit.duration,
        [int(tracks[i]) for i in best],
        info.cuts,
    )
    added = [
        replace(w, possible=True)
        for w in weaker
        if not any(w.start < s.end and s.start < w.end for s in hit.segments)
    ]
    if not added:
        return hit
    return replace(hit, segments=tuple(sorted((*hit.segments, *added), key=lambda s: s.start)))


def best_per_time(sims: np.ndarray, times: np.ndarray) -> list[int]:
    """One face per sampled time, in time order: the one that matches best there."""
    best: dict[float, int] = {}
    for i, t in enumerate(times.tolist()):
        if t not in best or sims[i] > sims[best[t]]:
            best[t] = i
    return [i for _, i in sorted(best.items())]


def video_score(quality: float, matched_samples: int, samples: int) -> float:
    """How well (`quality`) and how much (share of samples showing the person) a video matches.

    score = q + (1 - q) * COVERAGE_WEIGHT * coverage: never below the match quality q, so every
    listed video scores at least the threshold, and a longer presence lifts it towards 1.
    """
    coverage = min(1.0, matched_samples / max(samples, 1))
    return round(quality + (1.0 - quality) * COVERAGE_WEIGHT * coverage, 4)


def merge_segments(
    times: list[float],
    sims: list[float],
    step: float,
    duration: float,
    tracks: list[int] | None = None,
    cuts: Sequence[float] = (),
) -> list[Segment]:
    """Consecutive matching samples become one segment, and so do samples of one appearance
    (the same track, >= 0) however long the detector lost it in between; each sample stands
    for step/2 either side. A shot cut (the time of the first sample of a new shot) is a
    boundary: no segment spans one."""
    segments: list[Segment] = []
    run: list[int] = []
    bounds = np.asarray(cuts, dtype=np.float64)
    for i, t in enumerate(times):
        if run:
            last = run[-1]
            cut = bool(np.any((bounds > times[last] + 1e-6) & (bounds <= t + 1e-6)))
            same = tracks is not None and tracks[i] >= 0 and tracks[i] == tracks[last]
            if cut or (t - times[last] > MAX_GAP_STEPS * step and not same):
                segments.append(_segment(times, sims, run, step, duration))
                run = []
        run.append(i)
    if run:
        segments.append(_segment(times, sims, run, step, duration))
    return segments


def _segment(
    times: list[float], sims: list[float], run: list[int], step: float, duration: float
) -> Segment:
    start = max(0.0, times[run[0]] - step / 2)
    end = min(duration, times[run[-1]] + step / 2)
    return Segment(round(start, 3), round(end, 3), round(float(np.mean([sims[i] for i in run])), 4))
