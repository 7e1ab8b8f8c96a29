"""Tracking faces through a video, and judging whole appearances rather than single frames."""

import numpy as np
from conftest import media_info

from engine.catalog import Catalog
from engine.faces import NewFace
from engine.matching import match_appearances
from engine.stores.base import reconcile
from engine.stores.usearch import UsearchStore
from engine.tracking import assign_tracks


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
