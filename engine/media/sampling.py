"""Sampling frames: which frames of a video to look at, with their stream timestamps.

Runs inside the decoding worker process, so it imports decord and Pillow but never torch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.vocabulary import MediaKind


@dataclass(frozen=True)
class SampleOptions:
    rate: float = 2.0  # samples per second
    min_frames: int = 3  # at least this many from very short clips
    max_side: int = 1280  # frames larger than this are decoded scaled down
    chunk: int = 16  # frames per message


@dataclass(frozen=True)
class MediaInfo:
    kind: MediaKind
    width: int  # original size, in pixels
    height: int
    duration: float | None  # seconds; None for photos
    fps: float | None
    samples: int  # how many frames will be sampled
    step: float | None  # seconds between samples; None for photos
    scale: float  # original pixels per decoded pixel (boxes are multiplied by it)


@dataclass(frozen=True)
class FrameChunk:
    times: np.ndarray  # (B,) float seconds
    frames: np.ndarray  # (B, H, W, 3) uint8 RGB
    seconds: float = 0.0  # what decoding them took (for the stage table)


def sample_indices(starts: np.ndarray, duration: float, rate: float, min_frames: int) -> np.ndarray:
    """Frame indices shown at 0, 1/rate, 2/rate, ... seconds; evenly spread on short clips."""
    n = len(starts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    targets = np.arange(0.0, max(duration, 1e-9), 1.0 / rate) + float(starts[0])
    idx = np.clip(np.searchsorted(starts, targets, side="right") - 1, 0, n - 1)
    idx = np.unique(idx)
    wanted = min(min_frames, n)
    if len(idx) < wanted:
        idx = np.unique(np.round(np.linspace(0, n - 1, wanted)).astype(np.int64))
    return idx.astype(np.int64)


def frame_starts(vr, fps: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Presentation time of every frame from the stream, or i/fps where the stream has none."""
    n = len(vr)
    try:
        starts = np.asarray(vr.get_frame_timestamp(np.arange(n)), dtype=np.float64)[:, 0]
    except Exception:
        starts = np.zeros(0)
    if len(starts) != n or (n > 1 and (np.any(np.diff(starts) < 0) or starts[-1] <= starts[0])):
        starts = np.arange(n, dtype=np.float64) / (fps or 25.0)
    return starts


def decoded_size(width: int, height: int, max_side: int) -> tuple[int, int, float]:
    """Width and height to decode at, and the factor back to the original pixels."""
    longest = max(width, height)
    if longest <= max_side:
        return width, height, 1.0
    scale = longest / max_side
    return max(1, round(width / scale)), max(1, round(height / scale)), scale


def video_reader(path: Path, **kw: int):  # type: ignore[no-untyped-def]
    """decord's VideoReader for a path, whatever bytes its name holds.

    decord takes names as UTF-8 text; a name that is not (common on disks from other systems)
    is opened through this process's /proc/self/fd link to it instead.
    """
    import decord

    name = str(path)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        fd = os.open(path, os.O_RDONLY)
        try:
            return decord.VideoReader(f"/proc/self/fd/{fd}", num_threads=1, **kw)
        finally:
            os.close(fd)  # the reader holds its own descriptor by now
    return decord.VideoReader(name, num_threads=1, **kw)


def display_turns(path: Path, first: np.ndarray) -> int:
    """Quarter turns counterclockwise still needed to show decord's frames as a player does
    (0 to 3), given decord's first frame.

    Phones record portrait video as landscape frames with a display matrix in the container.
    decord applies it in MP4 and MOV but not in Matroska or WebM, so PyAV reads the matrix and
    the first frame as stored, and decord's frame tells whether it was turned already.
    """
    import av

    try:
        with open(path, "rb") as raw, av.open(raw, "r") as container:
            frame = next(container.decode(video=0), None)
            if frame is None:
                return 0
            turns = round(frame.rotation / 90) % 4
            stored = frame.to_ndarray(format="rgb24") if turns else None
    except (av.FFmpegError, OSError):
        return 0  # decord reports what is wrong with the file
    if stored is None or stored.shape != first.shape:
        return 0  # nothing to turn, or decord turned it (a quarter turn swaps the sides)
    as_stored = np.abs(first.astype(np.int16) - stored).mean()
    turned = np.rot90(stored, turns)
    if turned.shape != first.shape:
        return turns
    return turns if as_stored < np.abs(first.astype(np.int16) - turned).mean() else 0


def upright(frames: np.ndarray, turns: int) -> np.ndarray:
    """Frames (B, H, W, 3) turned as a player shows them."""
    if not turns:
        return frames
    return np.ascontiguousarray(np.rot90(frames, turns, axes=(1, 2)))


def read_video(path: Path, opts: SampleOptions) -> Iterator[MediaInfo | FrameChunk]:
    """The video's MediaInfo, then its sampled frames in chunks, upright as a player shows
    them (sizes and boxes too). Raises on undecodable files."""
    probe = video_reader(path)
    n = len(probe)
    if n == 0:
        raise ValueError("the video has no frames")
    first = probe[0].asnumpy()
    turns = display_turns(path, first)
    height, width = first.shape[:2]
    fps = float(probe.get_avg_fps() or 0.0)
    starts = frame_starts(probe, fps)
    frame_len = 1.0 / fps if fps > 0 else 0.0
    duration = float(starts[-1] - starts[0] + frame_len)
    w, h, scale = decoded_size(width, height, opts.max_side)
    vr = probe if scale == 1.0 else video_reader(path, width=w, height=h)
    del probe
    idx = sample_indices(starts, duration, opts.rate, opts.min_frames)
    step = min(1.0 / opts.rate, duration / len(idx))
    if turns % 2:
        width, height = height, width
    yield MediaInfo(MediaKind.VIDEO, width, height, duration, fps, len(idx), step, scale)
    for lo in range(0, len(idx), opts.chunk):
        t0 = time.perf_counter()
        part = idx[lo : lo + opts.chunk]
        frames = np.ascontiguousarray(upright(vr.get_batch(part.tolist()).asnumpy(), turns))
        yield FrameChunk(starts[part] - starts[0], frames, time.perf_counter() - t0)


def open_photo(path: Path):  # type: ignore[no-untyped-def]
    """A photo as 8-bit RGB, upright (EXIF orientation applied).

    Pillow reads 16-bit greyscale PNGs and TIFFs as 32-bit integers, which its RGB conversion
    clips to white; those are scaled down to 8 bits first.
    """
    from PIL import Image, ImageOps

    with Image.open(path) as raw:
        raw.load()
        im = ImageOps.exif_transpose(raw)
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        wide = np.asarray(im, dtype=np.uint32)
        im = Image.fromarray((wide >> 8 if wide.max() > 255 else wide).astype(np.uint8), "L")
    return im.convert("RGB")


def read_image(path: Path, opts: SampleOptions) -> Iterator[MediaInfo | FrameChunk]:
    """A photo as one frame at t=0 (EXIF orientation applied)."""
    from PIL import Image

    t0 = time.perf_counter()
    im = open_photo(path)
    width, height = im.size
    w, h, scale = decoded_size(width, height, opts.max_side)
    if scale != 1.0:
        im = im.resize((w, h), Image.Resampling.BILINEAR)
    yield MediaInfo(MediaKind.IMAGE, width, height, None, None, 1, None, scale)
    frames = np.asarray(im, dtype=np.uint8)[None]
    yield FrameChunk(np.zeros(1), frames, time.perf_counter() - t0)


def read_media(
    path: Path, kind: MediaKind, opts: SampleOptions
) -> Iterator[MediaInfo | FrameChunk]:
    if kind == MediaKind.IMAGE:
        return read_image(path, opts)
    if kind == MediaKind.VIDEO:
        return read_video(path, opts)
    raise ValueError("not a supported photo or video type")
