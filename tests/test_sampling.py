import numpy as np
import pytest

from engine.media.sampling import (
    SampleOptions,
    decoded_size,
    read_image,
    read_video,
    sample_indices,
)
from tests.conftest import HAMILTON, IMAGES, VIDEOS


def test_samples_at_the_rate_using_stream_timestamps():
    starts = np.arange(300) / 30.0  # 10 s at 30 fps
    idx = sample_indices(starts, 10.0, rate=2.0, min_frames=3)
    assert len(idx) == 20
    np.testing.assert_allclose(starts[idx], np.arange(20) * 0.5, atol=1 / 30)


def test_irregular_timestamps_pick_the_frame_on_screen_at_each_time():
    starts = np.array([0.0, 0.1, 0.9, 1.05, 1.6, 2.2])
    idx = sample_indices(starts, 2.3, rate=2.0, min_frames=3)
    assert starts[idx].tolist() == [0.0, 0.1, 0.9, 1.05, 1.6]  # on screen at 0, 0.5, 1, 1.5, 2 s


def test_very_short_clips_still_give_a_few_frames():
    idx = sample_indices(np.arange(5) / 24.0, 5 / 24.0, rate=2.0, min_frames=3)
    assert idx.tolist() == [0, 2, 4]
    assert sample_indices(np.zeros(1), 0.04, 2.0, 3).tolist() == [0]


def test_decoded_size_caps_the_longest_side():
    assert decoded_size(640, 360, 1280) == (640, 360, 1.0)
    w, h, scale = decoded_size(3840, 2160, 1280)
    assert (w, h) == (1280, 720) and scale == pytest.approx(3.0)


def test_real_video_is_sampled_with_its_own_timestamps():
    parts = list(read_video(HAMILTON, SampleOptions(rate=2.0, chunk=8)))
    info, chunks = parts[0], parts[1:]
    assert info.kind == "video" and (info.width, info.height) == (640, 360)
    times = np.concatenate([c.times for c in chunks])
    assert len(times) == info.samples == 19
    assert np.all(np.diff(times) > 0.4) and times[0] == 0.0
    # 29.97 fps: the frame shown at 0.5 s starts at 14/29.97 s, not at 0.5 s
    assert times[1] == pytest.approx(14 / 29.97, abs=1e-3)
    assert chunks[0].frames.shape == (8, 360, 640, 3) and chunks[0].frames.dtype == np.uint8


def test_five_frame_clip_gives_three_samples():
    clip = VIDEOS / "edge_cases" / "justadudewhohacks_face-api.js" / "video.mp4"
    info, *chunks = read_video(clip, SampleOptions())
    assert info.samples == 3 and sum(len(c.times) for c in chunks) == 3
    assert info.duration == pytest.approx(0.209, abs=0.01)


def test_photo_is_one_frame_scaled_for_detection():
    photo = IMAGES / "Shea_Whigham" / "timesler_facenet-pytorch" / "1.jpg"  # 2048x1991
    info, chunk = read_image(photo, SampleOptions(max_side=1024))
    assert (info.width, info.height) == (2048, 1991) and info.scale == pytest.approx(2.0)
    assert chunk.frames.shape == (1, 996, 1024, 3)
