"""Frame sketches tell a face the detector missed from one that left, and find shot cuts
(issue 27): a track bridges missed samples only where the frames between still showed the
face, and never crosses a cut."""

import numpy as np

from engine.appearances.frame_sketches import (
    CELLS_HIGH,
    CELLS_WIDE,
    CUT_CHANGE,
    SHOT_CHANGE,
    FrameSketches,
    sketch,
)
from engine.appearances.tracking import assign_tracks

W, H = 640, 360
STEP = 0.5


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def scene(rng: np.random.Generator, face_at: tuple[int, int] | None, shot: int = 0) -> np.ndarray:
    """A frame: a smooth background (one per shot), a noisy face-coloured square where given."""
    yy, xx = np.mgrid[0:H, 0:W]
    base = [(40, 90, 160), (200, 60, 40)][shot]
    frame = np.stack([base[c] + 30 * np.sin(xx / 90 + c) * np.cos(yy / 70) for c in range(3)], -1)
    if face_at is not None:
        x, y = face_at
        frame[y - 50 : y + 50, x - 40 : x + 40] = (215, 170, 140)
    frame += rng.normal(0, 6, frame.shape)
    return np.clip(frame, 0, 255).astype(np.uint8)


def video(face_at: list[tuple[int, int] | None], shots: list[int] | None = None) -> FrameSketches:
    rng = np.random.default_rng(0)
    shots = shots or [0] * len(face_at)
    frames = np.stack([scene(rng, at, s) for at, s in zip(face_at, shots, strict=True)])
    times = np.arange(len(frames)) * STEP
    return FrameSketches.of(
        [(times[:3], sketch(frames[:3])), (times[3:], sketch(frames[3:]))], W, H
    )


def box(x: int, y: int) -> list[float]:
    return [x - 40, y - 50, x + 40, y + 50]


def test_a_sketch_is_the_frame_averaged_into_cells():
    frame = np.zeros((1, H, W, 3), np.uint8)
    frame[0, :, : W // 2] = 200  # the left half bright
    cells = sketch(frame)
    assert cells.shape == (1, CELLS_HIGH, CELLS_WIDE, 3)
    assert (cells[0, :, : CELLS_WIDE // 2] == 200).all() and (
        cells[0, :, CELLS_WIDE // 2 :] == 0
    ).all()
    odd = sketch(np.full((2, 101, 77, 3), 37, np.uint8))  # sizes that do not divide
    assert odd.shape == (2, CELLS_HIGH, CELLS_WIDE, 3) and (odd == 37).all()


def faces_seen(at: list[int], place=(200, 180)):
    """The same person's face found at the samples `at`, all at one place."""
    rng = np.random.default_rng(1)
    person = rng.normal(size=512)
    times = np.array(at, float) * STEP
    vectors = np.stack([unit(person + 0.05 * rng.normal(size=512)) for _ in at])
    boxes = np.array([box(*place) for _ in at], float)
    return times, vectors, boxes


def test_a_face_missed_for_two_seconds_where_it_still_shows_is_one_appearance():
    """Samples 2-5 (2 s) find no face, but the frames there still show it where it was: a
    missed detection (a turned or blurred face), so the track goes on."""
    face = (200, 180)
    sketches = video([face] * 8)
    times, vectors, boxes = faces_seen([0, 1, 6, 7], face)
    assert assign_tracks(times, vectors, STEP, boxes, sketches).tolist() == [0, 0, 0, 0]


def test_a_face_absent_for_two_seconds_is_two_appearances():
    """The person steps out for 2 s and comes back to the same place: the frames between show
    the background there, so these are two appearances (they were one: issue 27)."""
    face = (200, 180)
    sketches = video([face, face, None, None, None, None, face, face])
    times, vectors, boxes = faces_seen([0, 1, 6, 7], face)
    assert assign_tracks(times, vectors, STEP, boxes, sketches).tolist() == [0, 0, 1, 1]
    assert assign_tracks(times, vectors, STEP, boxes).tolist() == [0, 0, 0, 0]  # without sketches


def test_a_track_never_crosses_a_shot_cut():
    """The same face at the same place in consecutive samples, but the shot changes between
    them: two tracks. Within a shot the face stays one track."""
    face = (200, 180)
    sketches = video([face] * 6, shots=[0, 0, 0, 1, 1, 1])
    assert sketches.cuts().tolist() == [1.5]
    times, vectors, boxes = faces_seen([0, 1, 2, 3, 4, 5], face)
    assert assign_tracks(times, vectors, STEP, boxes, sketches).tolist() == [0, 0, 0, 1, 1, 1]


def test_a_moving_face_is_not_a_cut():
    rng = np.random.default_rng(2)
    frames = np.stack([scene(rng, (100 + 40 * i, 180)) for i in range(8)])
    sketches = FrameSketches.of([(np.arange(8) * STEP, sketch(frames))], W, H)
    assert sketches.cuts().tolist() == []


def test_a_face_too_small_for_the_cells_is_not_judged():
    """A face under MIN_CELLS cells high covers a cell or two: too coarse to tell a missed face
    from an absence (degraded video is full of such faces), so its track bridges as before."""
    rng = np.random.default_rng(3)
    frames = []
    for at in [(200, 180), (200, 180), None, None, None, None, (200, 180), (200, 180)]:
        frame = scene(rng, None)
        if at is not None:
            frame[170:190, 192:208] = (215, 170, 140)  # 20 px high: 1.5 cells
        frames.append(frame)
    sketches = FrameSketches.of([(np.arange(8) * STEP, sketch(np.stack(frames)))], W, H)
    times, vectors, _ = faces_seen([0, 1, 6, 7])
    boxes = np.array([[192, 170, 208, 190]] * 4, float)
    assert assign_tracks(times, vectors, STEP, boxes, sketches).tolist() == [0, 0, 0, 0]


def test_a_cut_between_shots_that_look_alike_is_found_and_a_fast_pan_is_not_one():
    """Two shots of about the same palette (the background shifted and tinted, the person
    staying where they are) change the frame by less than CUT_CHANGE, but far more than the
    samples around the cut change: a cut. A fast pan changes every sample by about as much
    as that cut: never a cut."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:H, 0:W]

    def shot(k: int, pan: int = 0) -> np.ndarray:
        base, phase = [((90, 110, 130), 0.0), ((140, 80, 100), 2.0)][k]
        frame = np.stack(
            [
                base[c] + 70 * np.sin((xx + pan) / 80 + c + phase) * np.cos(yy / 60 - phase)
                for c in range(3)
            ],
            -1,
        )
        frame[80:280, 240:400] = (215, 170, 140)  # the person, who stays
        return np.clip(frame + rng.normal(0, 4, frame.shape), 0, 255).astype(np.uint8)

    frames = np.stack([shot(0)] * 5 + [shot(1)] * 5)
    change = np.abs(np.diff(sketch(frames[4:6]).astype(np.int16), axis=0)).mean()
    assert SHOT_CHANGE <= change < CUT_CHANGE  # the case the first rule alone missed
    cut = FrameSketches.of([(np.arange(10) * STEP, sketch(frames))], W, H)
    assert cut.cuts().tolist() == [2.5]
    fast = np.stack([shot(0, 200 * i) for i in range(9)])
    each = np.abs(np.diff(sketch(fast).astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    assert each.min() >= change  # every sample changes as much as at the cut
    moving = FrameSketches.of([(np.arange(9) * STEP, sketch(fast))], W, H)
    assert moving.cuts().tolist() == []
