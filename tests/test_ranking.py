"""Ranking logic on hand-made hits (no models): segments, scores, ordering."""

import numpy as np
import pytest

from engine.search.ranking import FileInfo, Matches, merge_segments, rank, video_score
from engine.vocabulary import MediaKind


def hits(rows, quality=None):
    """rank()'s inputs from (file, time, similarity) rows; a file's quality is its best row
    unless given."""
    fids = np.array([r[0] for r in rows])
    times = np.array([r[1] for r in rows], dtype=float)
    boxes = np.array([[0, 0, 10, 10]] * len(rows), dtype=float)
    sims = np.array([r[2] for r in rows], dtype=np.float32)
    best = {}
    for f, _, s in rows:
        best[f] = max(best.get(f, 0.0), s)
    return Matches(fids, times, boxes, sims, {**best, **(quality or {})})


def test_consecutive_samples_merge_and_gaps_split():
    times = [0.0, 0.5, 1.0, 1.5, 4.0, 4.5]
    segs = merge_segments(times, [0.6] * 6, step=0.5, duration=10.0)
    assert [(s.start, s.end) for s in segs] == [(0.0, 1.75), (3.75, 4.75)]


def test_one_missed_sample_does_not_split_a_segment():
    segs = merge_segments([0.0, 0.5, 1.5, 2.0], [0.7] * 4, step=0.5, duration=2.0)
    assert [(s.start, s.end) for s in segs] == [(0.0, 2.0)]


def test_segment_score_is_mean_similarity():
    (seg,) = merge_segments([1.0, 1.5], [0.6, 0.8], step=0.5, duration=5)
    assert seg.score == pytest.approx(0.7)


def test_more_presence_ranks_higher_at_equal_similarity():
    files = {
        1: FileInfo("/a.mp4", "video", 10, 20, 0.5),
        2: FileInfo("/b.mp4", "video", 10, 20, 0.5),
    }
    rows = [(1, t * 0.5, 0.7) for t in range(3)] + [(2, t * 0.5, 0.7) for t in range(18)]
    videos, images = rank(hits(rows), files, top=20)
    assert [v.path for v in videos] == ["/b.mp4", "/a.mp4"] and images == []


def test_better_similarity_beats_longer_weak_presence():
    files = {
        1: FileInfo("/strong.mp4", "video", 10, 20, 0.5),
        2: FileInfo("/weak.mp4", "video", 10, 20, 0.5),
    }
    rows = [(1, t * 0.5, 0.85) for t in range(4)] + [(2, t * 0.5, 0.5) for t in range(20)]
    videos, _ = rank(hits(rows), files, top=20)
    assert videos[0].path == "/strong.mp4"


def test_score_never_below_match_quality_and_at_most_one():
    assert video_score(0.5, matched_samples=1, samples=100) >= 0.5
    assert video_score(1.0, 10, samples=10) == pytest.approx(1.0)
    assert video_score(0.6, 2, 2) > video_score(0.6, 2, 20)


def test_video_score_uses_the_appearance_quality_given():
    files = {1: FileInfo("/v.mp4", "video", 5, 10, 0.5)}
    (video,), _ = rank(hits([(1, 0.0, 0.4), (1, 0.5, 0.5)], quality={1: 0.7}), files, top=5)
    assert video.score == pytest.approx(0.7 + 0.3 * 0.25 * 0.2)
    assert [m.similarity for m in video.matches] == [0.4, 0.5]  # frames keep their own similarity


def test_several_faces_at_one_time_keep_the_best():
    files = {1: FileInfo("/v.mp4", "video", 5, 10, 0.5)}
    (video,), _ = rank(hits([(1, 1.0, 0.5), (1, 1.0, 0.9), (1, 1.5, 0.6)]), files, top=5)
    assert [(m.t, m.similarity) for m in video.matches] == [(1.0, 0.9), (1.5, 0.6)]


def test_photos_rank_by_best_face_and_top_limits():
    files = {i: FileInfo(f"/p{i}.jpg", "image", None, 1, None) for i in range(1, 5)}
    rows = [(1, 0, 0.5), (2, 0, 0.9), (3, 0, 0.7), (4, 0, 0.6), (3, 0, 0.95)]
    _, images = rank(hits(rows), files, top=2)
    assert [(i.path, i.score) for i in images] == [("/p3.jpg", 0.95), ("/p2.jpg", 0.9)]


def test_hits_of_unknown_files_are_dropped():
    files = {1: FileInfo("/v.mp4", "video", 5, 10, 0.5)}
    videos, _ = rank(hits([(1, 0.0, 0.8), (99, 0.0, 0.9)]), files, top=5)
    assert [v.path for v in videos] == ["/v.mp4"]


def test_an_appearance_lost_for_a_while_stays_one_segment():
    """Samples of one track (the detector lost the face for 2 s) make one segment; the same
    gap between two different appearances splits them."""
    times = [0.0, 0.5, 1.0, 3.0, 3.5]
    one = merge_segments(times, [0.6] * 5, step=0.5, duration=10.0, tracks=[4, 4, 4, 4, 4])
    assert [(s.start, s.end) for s in one] == [(0.0, 3.75)]
    two = merge_segments(times, [0.6] * 5, step=0.5, duration=10.0, tracks=[4, 4, 4, 5, 5])
    assert [(s.start, s.end) for s in two] == [(0.0, 1.25), (2.75, 3.75)]


def test_no_segment_spans_a_shot_cut():
    """Consecutive samples of the person on both sides of a cut at 2.0 s (the first sample of
    the new shot) are two segments that meet there; a cut where nothing matched, or none at
    all, changes nothing; a cut splits even the samples of one track."""
    times = [0.5, 1.0, 1.5, 2.0, 2.5]
    segs = merge_segments(times, [0.6] * 5, step=0.5, duration=10.0, cuts=[2.0])
    assert [(s.start, s.end) for s in segs] == [(0.25, 1.75), (1.75, 2.75)]
    assert merge_segments(times, [0.6] * 5, step=0.5, duration=10.0, cuts=[6.0]) == (
        merge_segments(times, [0.6] * 5, step=0.5, duration=10.0)
    )
    assert len(merge_segments(times, [0.6] * 5, step=0.5, duration=10.0)) == 1
    one_track = merge_segments(
        [0.0, 0.5, 2.0, 2.5], [0.6] * 4, step=0.5, duration=10.0, tracks=[1] * 4, cuts=[1.0]
    )
    assert [(s.start, s.end) for s in one_track] == [(0.0, 0.75), (1.75, 2.75)]


def test_a_videos_recorded_cuts_split_its_segments_in_a_search():
    """`rank` splits a matched video's moments at the cuts its FileInfo carries."""
    found = Matches(
        np.array([1, 1, 1, 1]),
        np.array([1.0, 1.5, 2.0, 2.5]),
        np.zeros((4, 4)),
        np.array([0.7, 0.7, 0.7, 0.7]),
        {1: 0.7},
    )
    plain = FileInfo("/v.mp4", MediaKind.VIDEO, 10.0, 20, 0.5)
    cut = FileInfo("/v.mp4", MediaKind.VIDEO, 10.0, 20, 0.5, (2.0,))
    (whole,), _ = rank(found, {1: plain}, top=5)
    (split,), _ = rank(found, {1: cut}, top=5)
    assert [(s.start, s.end) for s in whole.segments] == [(0.75, 2.75)]
    assert [(s.start, s.end) for s in split.segments] == [(0.75, 1.75), (1.75, 2.75)]
    assert split.score == whole.score and split.matches == whole.matches


def test_possible_matches_come_after_every_match_and_say_so():
    files = {i: FileInfo(f"/v{i}.mp4", "video", 10, 20, 0.5) for i in (1, 2, 3)}
    files[4] = FileInfo("/p4.jpg", "image", None, 1, None)
    files[5] = FileInfo("/p5.jpg", "image", None, 1, None)
    rows = [(1, 0.0, 0.5), (2, 0.0, 0.42), (2, 0.5, 0.42), (3, 0.0, 0.7), (4, 0, 0.4), (5, 0, 0.6)]
    found = hits(rows)
    found = Matches(*[getattr(found, f) for f in ("file_ids", "times", "boxes", "similarities", "quality")], frozenset({2, 4}))  # fmt: skip
    videos, images = rank(found, files, top=10)
    assert [(v.path, v.possible) for v in videos] == [
        ("/v3.mp4", False),
        ("/v1.mp4", False),
        ("/v2.mp4", True),
    ]
    assert [(i.path, i.possible) for i in images] == [("/p5.jpg", False), ("/p4.jpg", True)]
