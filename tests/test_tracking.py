"""Tracking faces through a video, and judging whole appearances rather than single frames."""

import numpy as np
import pytest
from conftest import media_info

from engine.appearances.similarity import unit_mean
from engine.appearances.tracking import assign_tracks
from engine.library.catalog import Catalog
from engine.library.stores.base import reconcile
from engine.library.stores.usearch import UsearchStore
from engine.models.faces import NewFace
from engine.search.matching import CLOSEST_FLOOR, NEAR_BEST, match_appearances
from engine.search.ranking import rank


def person(rng, base=None, noise=0.25):
    v = (base if base is not None else rng.normal(size=512)) + noise * rng.normal(size=512)
    return (v / np.linalg.norm(v)).astype(np.float32)


def test_two_people_in_the_same_frames_get_two_tracks():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=512), rng.normal(size=512)
    times = np.repeat(np.arange(6) * 0.5, 2)
    vectors = np.stack([person(rng, a if i % 2 == 0 else b, 0.02) for i in range(12)])
    tracks = assign_tracks(times, vectors, step=0.5)
    assert len(set(tracks[0::2])) == 1 and len(set(tracks[1::2])) == 1 and tracks[0] != tracks[1]


def boxes_at(*centres, h=30.0):
    return np.array([[x - h / 2, y - h / 2, x + h / 2, y + h / 2] for x, y in centres])


def test_a_face_where_the_last_one_was_joins_its_track_though_less_alike():
    """Degraded faces of one person can resemble each other less than LINK_SIMILARITY; where
    they stand ties them together. The same faces elsewhere in the frame do not join."""
    rng = np.random.default_rng(3)
    a = rng.normal(size=512)
    vectors = np.stack([person(rng, a, 1.2) for _ in range(4)])  # each about 0.4 alike
    sims = vectors @ vectors.T
    assert sims[np.triu_indices(4, 1)].max() < 0.5
    times = np.array([0.0, 0.5, 1.0, 1.5])
    still = assign_tracks(
        times, vectors, 0.5, boxes_at((100, 100), (104, 101), (108, 99), (110, 100))
    )
    assert len(set(still.tolist())) == 1
    jumping = boxes_at((100, 100), (400, 100), (100, 300), (500, 300))
    assert len(set(assign_tracks(times, vectors, 0.5, jumping).tolist())) == 4
    assert len(set(assign_tracks(times, vectors, 0.5).tolist())) == 4  # no boxes: likeness only


def test_a_face_crossing_the_frame_keeps_its_track_where_it_was_heading():
    """A person walking across the frame moves further a step than a face's reach from where
    it was (0.8 face heights here, reach 0.5): where it was heading ties its less alike faces
    together. A face as far away that was standing still is someone else."""
    rng = np.random.default_rng(5)
    a = rng.normal(size=512)
    vectors = np.stack([person(rng, a, 1.4) for _ in range(5)])  # 0.35-0.5 like the last few
    for k in range(1, 5):
        assert 0.35 <= vectors[k] @ unit_mean(vectors[:k]) < 0.5
    times = np.arange(5) * 0.5
    # setting off (0.4 face heights), then 0.8 a step
    walking = boxes_at((100, 100), (112, 100), (136, 100), (160, 100), (184, 100))
    assert len(set(assign_tracks(times, vectors, 0.5, walking).tolist())) == 1
    # standing still, then a face 0.8 heights away: no motion to follow
    still_then_away = boxes_at((100, 100), (100, 100), (100, 100), (124, 100), (148, 100))
    tracks = assign_tracks(times, vectors, 0.5, still_then_away).tolist()
    assert tracks[0] == tracks[1] == tracks[2] and tracks[3] != tracks[2]
    # heading right: a face as far to the left is not where it was heading
    turned_back = boxes_at((100, 100), (112, 100), (136, 100), (112, 100), (100, 100))
    assert len(set(assign_tracks(times, vectors, 0.5, turned_back)[2:4].tolist())) == 2


def test_a_face_lost_for_two_seconds_in_place_continues_its_track():
    rng = np.random.default_rng(4)
    a = rng.normal(size=512)
    times = np.array([0.0, 0.5, 2.5, 3.0])
    vectors = np.stack([person(rng, a, 0.02) for _ in times])
    here = boxes_at((100, 100), (102, 100), (104, 100), (106, 100))
    assert assign_tracks(times, vectors, 0.5, here).tolist() == [0, 0, 0, 0]
    assert assign_tracks(times, vectors, 0.5).tolist() == [0, 0, 1, 1]  # too long by likeness


def test_two_people_side_by_side_keep_their_tracks():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=512), rng.normal(size=512)
    times = np.repeat(np.arange(6) * 0.5, 2)
    vectors = np.stack([person(rng, a if i % 2 == 0 else b, 0.3) for i in range(12)])
    boxes = boxes_at(*[(100 + 5 * (i // 2), 100) if i % 2 == 0 else (135, 100) for i in range(12)])
    tracks = assign_tracks(times, vectors, 0.5, boxes)
    assert len(set(tracks[0::2])) == 1 and len(set(tracks[1::2])) == 1 and tracks[0] != tracks[1]


def test_a_long_absence_starts_a_new_track():
    rng = np.random.default_rng(1)
    a = rng.normal(size=512)
    times = np.array([0.0, 0.5, 1.0, 5.0, 5.5])
    tracks = assign_tracks(times, np.stack([person(rng, a, 0.02) for _ in times]), step=0.5)
    assert tracks.tolist() == [0, 0, 0, 1, 1]


def test_a_lone_lookalike_frame_does_not_make_a_stranger_match(tmp_path):
    """A stranger's video with one frame near the query: the appearance as a whole does not match."""
    rng = np.random.default_rng(2)
    query = person(rng, noise=0)
    stranger = rng.normal(size=512)
    cat = Catalog(tmp_path / "c.sqlite")
    faces = [NewFace(i * 0.5, (0, 0, 50, 50), 1.0, person(rng, stranger, 0.3)) for i in range(20)]
    lookalike = 0.5 * query + 0.5 * faces[3].vector  # similarity to the query: about 0.7
    faces[3] = NewFace(
        1.5, (0, 0, 50, 50), 1.0, (lookalike / np.linalg.norm(lookalike)).astype(np.float32)
    )
    # a real appearance: frames alike (shared pose and light), each only fairly close to the query
    shared = 0.8 * rng.normal(size=512)
    real = [
        NewFace(i * 0.5, (0, 0, 50, 50), 1.0, person(rng, query * 12 + shared, 0.3))
        for i in range(10)
    ]
    assert 0.45 < np.mean([f.vector @ query for f in real]) < 0.6
    for path, group in (("/stranger.mp4", faces), ("/real.mp4", real)):
        vecs = np.stack([f.vector for f in group])
        tracks = assign_tracks(np.array([f.t for f in group]), vecs, 0.5)
        cat.save_indexed(
            path,
            1,
            1,
            media_info("video", len(group), step=0.5),
            [
                NewFace(f.t, f.box, f.prob, f.vector, int(k))
                for f, k in zip(group, tracks, strict=True)
            ],
        )
    assert max(float(f.vector @ query) for f in faces) > 0.6  # the lone frame alone would match
    index = UsearchStore(tmp_path / "f.usearch")
    reconcile(index, cat)
    found = match_appearances(query, cat, index, threshold=0.45)
    paths = {cat.files_by_id([f])[f].path for f in found.quality}
    assert paths == {"/real.mp4"}
    assert len(found.times) == 10  # every frame of the real appearance


def appearance_of(rng, query, similarity, n=6):
    """`n` faces of one appearance whose vectors score `similarity` against `query`."""
    other = rng.normal(size=512)
    other -= (other @ query) * query
    other /= np.linalg.norm(other)
    v = similarity * query + np.sqrt(1 - similarity**2) * other
    return [v.astype(np.float32)] * n


def library_of(tmp_path, files):
    """A catalog and usearch index of videos {path: [(track, vectors[, start])]}, a face per
    0.5 s from `start` (default 0)."""
    cat = Catalog(tmp_path / "c.sqlite")
    for path, tracks in files.items():
        faces = [
            NewFace(start + i * 0.5, (0, 0, 50, 50), 1.0, v, track)
            for track, vs, *at in tracks
            for start in [at[0] if at else 0.0]
            for i, v in enumerate(vs)
        ]
        samples = max(6, int(max(f.t for f in faces) / 0.5) + 1)
        cat.save_indexed(path, 1, 1, media_info("video", samples, samples * 0.5, 0.5), faces)
    index = UsearchStore(tmp_path / "f.usearch")
    reconcile(index, cat)
    return cat, index


def test_possible_appearances_are_listed_only_where_nothing_matches(tmp_path):
    """At threshold 0.45 with possible matches down to 0.3: a file with a matching appearance
    lists only that one; a file whose best appearance is 0.38 is a possible match; 0.2 is out."""
    rng = np.random.default_rng(6)
    query = person(rng, noise=0)

    def appearance(similarity):
        return appearance_of(rng, query, similarity)

    cat, index = library_of(
        tmp_path,
        {
            "/sure.mp4": [(0, appearance(0.6)), (1, appearance(0.38))],
            "/maybe.mp4": [(0, appearance(0.38))],
            "/no.mp4": [(0, appearance(0.2))],
        },
    )
    found = match_appearances(query, cat, index, threshold=0.45, possible=0.3)
    by_path = {cat.files_by_id([f])[f].path: f for f in found.quality}
    assert set(by_path) == {"/sure.mp4", "/maybe.mp4"}
    assert found.possible == {by_path["/maybe.mp4"]}
    sure = (found.file_ids == by_path["/sure.mp4"]) & ~found.weak
    assert np.allclose(found.similarities[sure], 0.6, atol=1e-4)  # the match's own faces
    weak = found.file_ids[found.weak]  # the 0.38 appearance is only a possible segment
    assert set(weak.tolist()) == {by_path["/sure.mp4"]}
    assert np.allclose(found.similarities[found.weak], 0.38, atol=1e-4)
    only = match_appearances(query, cat, index, threshold=0.45)
    assert {cat.files_by_id([f])[f].path for f in only.quality} == {"/sure.mp4"}
    assert not only.possible


def test_a_matched_videos_weaker_appearances_are_its_possible_segments(tmp_path):
    """A video that matches (0.6 at 0-2.5 s) shows the same person weaker later (0.38, between
    the possible floor 0.3 and the threshold 0.45, at 10-12.5 s): that appearance is listed as
    a possible segment, in time order and marked, and leaves the video's score, place and
    moments as they were. A weaker appearance over a matched one adds nothing; one more than
    WEAKER_MARGIN below the threshold (0.31: a stranger's score) and, with no possible
    margin, the weaker one are not listed."""
    rng = np.random.default_rng(8)
    query = person(rng, noise=0)
    tracks = {
        "/a.mp4": [
            (0, appearance_of(rng, query, 0.6)),
            (1, appearance_of(rng, query, 0.38), 10.0),
            (2, appearance_of(rng, query, 0.38), 1.0),  # beside the match: nothing new
            (3, appearance_of(rng, query, 0.31), 20.0),  # above the floor, too far below
        ],
        "/b.mp4": [(0, appearance_of(rng, query, 0.55))],
    }
    cat, index = library_of(tmp_path, tracks)
    videos = rank(m := match_appearances(query, cat, index, 0.45, possible=0.3), m.files, 20)[0]
    plain = rank(m := match_appearances(query, cat, index, 0.45), m.files, 20)[0]
    assert [v.path for v in videos] == [v.path for v in plain]
    assert sorted(v.path for v in videos) == ["/a.mp4", "/b.mp4"]
    a, b = sorted(videos, key=lambda v: v.path)
    a_plain, b_plain = sorted(plain, key=lambda v: v.path)
    assert (a.score, a.matches) == (a_plain.score, a_plain.matches)
    assert [(s.start, s.end, s.possible) for s in a.segments] == [
        (0.0, 2.75, False),
        (9.75, 12.75, True),
    ]
    assert a.segments[1].score == pytest.approx(0.38, abs=1e-3)
    assert [(s.start, s.end, s.possible) for s in a_plain.segments] == [(0.0, 2.75, False)]
    assert b == b_plain and not any(s.possible for s in b.segments)
    cat.close()


def test_a_match_beside_a_better_one_in_the_same_frames_is_someone_else(tmp_path):
    """The query is one person, who has one face in a frame. In /a.mp4 the person (0.65, at
    3-5.5 s) stands beside a stranger who scores just above the threshold (0.47, at 0-5.5 s):
    the stranger's appearance is not a match, so the segment is the person's alone, not one
    spanning both. The same stranger alone in /b.mp4 still matches, and so do two appearances
    of /c.mp4 at different times."""
    rng = np.random.default_rng(9)
    query = person(rng, noise=0)
    stranger = appearance_of(rng, query, 0.47, n=12)
    cat, index = library_of(
        tmp_path,
        {
            "/a.mp4": [(0, stranger), (1, appearance_of(rng, query, 0.65), 3.0)],
            "/b.mp4": [(0, stranger)],
            "/c.mp4": [
                (0, appearance_of(rng, query, 0.6)),
                (1, appearance_of(rng, query, 0.5), 5.0),
            ],
        },
    )
    found = match_appearances(query, cat, index, 0.45, possible=0.3)
    videos = {v.path: v for v in rank(found, found.files, 20)[0]}
    assert set(videos) == {"/a.mp4", "/b.mp4", "/c.mp4"}
    a = videos["/a.mp4"]
    assert [(s.start, s.end, s.possible) for s in a.segments] == [(2.75, 5.75, False)]
    assert all(m.similarity == pytest.approx(0.65, abs=1e-3) for m in a.matches)
    assert not a.possible and a.score > videos["/b.mp4"].score
    assert [(s.start, s.end) for s in videos["/b.mp4"].segments] == [(0.0, 5.75)]
    assert [(s.start, s.end, s.possible) for s in videos["/c.mp4"].segments] == [
        (0.0, 2.75, False),
        (4.75, 7.75, False),
    ]
    cat.close()


def test_with_no_match_anywhere_the_closest_files_are_possible_matches_at_their_best_moments(
    tmp_path,
):
    """Degraded footage: nothing reaches 0.45, nothing even the possible floor 0.3. The files
    nearest the query are still listed as possible matches, down to similarity 0, each with
    only its appearances within NEAR_BEST of its best; a file unlike the query is not. Once
    any file matches, the list is matches and possible matches down to 0.3 again."""
    rng = np.random.default_rng(7)
    query = person(rng, noise=0)
    tracks = {
        "/near.mp4": [(0, appearance_of(rng, query, 0.22)), (1, appearance_of(rng, query, 0.1))],
        "/far.mp4": [(0, appearance_of(rng, query, 0.12)), (1, appearance_of(rng, query, 0.09))],
        "/unlike.mp4": [(0, appearance_of(rng, query, -0.2))],
    }
    cat, index = library_of(tmp_path, tracks)
    found = match_appearances(query, cat, index, threshold=0.45, possible=0.3)
    assert found.floor == CLOSEST_FLOOR
    path = {f: cat.files_by_id([f])[f].path for f in found.quality}
    assert sorted(path.values()) == ["/far.mp4", "/near.mp4"]
    assert found.possible == set(path)
    listed = {p: found.similarities[found.file_ids == f] for f, p in path.items()}
    assert np.allclose(listed["/near.mp4"], 0.22, atol=1e-4)  # 0.10 is not among its best
    assert np.allclose(sorted(set(np.round(listed["/far.mp4"], 3))), [0.09, 0.12], atol=1e-3)
    assert NEAR_BEST >= 0.03  # 0.09 is within it of 0.12
    result = rank(found, found.files or {}, top=20)[0]
    assert [v.path for v in result] == ["/near.mp4", "/far.mp4"]
    assert all(v.possible for v in result)
    assert not match_appearances(query, cat, index, threshold=0.45).quality  # margin 0: none

    cat.close()
    tracks["/sure.mp4"] = [(0, appearance_of(rng, query, 0.6))]
    cat, index = library_of(tmp_path / "more", tracks)
    found = match_appearances(query, cat, index, threshold=0.45, possible=0.3)
    assert found.floor == 0.3
    assert [cat.files_by_id([f])[f].path for f in found.quality] == ["/sure.mp4"]
