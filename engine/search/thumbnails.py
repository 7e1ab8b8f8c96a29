"""Face thumbnails: the frames behind search results, cropped around the matched faces.

Front ends show these beside results. Decodes with decord and Pillow, never loads torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from engine.media.finding import media_kind
from engine.media.sampling import display_turns, frame_starts, open_photo, upright, video_reader
from engine.results import Box
from engine.vocabulary import MediaKind


def frames_at(path: Path, times: Sequence[float]) -> list[np.ndarray]:
    """RGB frames (H, W, 3) shown at `times` seconds from the start; a photo is one frame."""
    if media_kind(path) == MediaKind.IMAGE:
        frame = np.asarray(open_photo(path))
        return [frame for _ in times]
    vr = video_reader(path)
    starts = frame_starts(vr, float(vr.get_avg_fps() or 0.0))
    rel = starts - starts[0]
    # the frame on screen at t: the last one that starts at or before it (a little slack for rounding)
    idx = np.clip(np.searchsorted(rel, np.asarray(times) + 1e-3, side="right") - 1, 0, len(vr) - 1)
    unique = sorted(set(idx.tolist()))
    batch = upright(vr.get_batch(unique).asnumpy(), display_turns(path, vr[0].asnumpy()))
    by_index = dict(zip(unique, batch, strict=True))
    return [by_index[i] for i in idx.tolist()]


def boxed(frame: np.ndarray, box: Box, colour: tuple[int, int, int] = (255, 214, 0)) -> Image.Image:
    """The whole frame with the face's box drawn on it, thick enough to survive being shown a
    few dozen terminal cells wide (which face of a group photo matched)."""
    from PIL import ImageDraw

    im = Image.fromarray(frame)
    width = max(2, round(max(im.size) / 80))
    x1, y1, x2, y2 = (float(v) for v in box)
    ImageDraw.Draw(im).rectangle((x1, y1, x2, y2), outline=colour, width=width)
    im.info["box"] = (x1, y1, x2, y2)  # for renderers that draw it again in their own cells
    return im


def crop_face(frame: np.ndarray, box: Box, side: int = 128, context: float = 0.3) -> Image.Image:
    """A square crop centred on the face, `context` of its size added around, `side` px across."""
    x1, y1, x2, y2 = box
    half = max(x2 - x1, y2 - y1) * (1 + 2 * context) / 2
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    im = Image.fromarray(frame)
    # crop() pads with black where the square runs off the frame
    square = im.crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half)))
    return square.resize((side, side), Image.Resampling.LANCZOS)


def face_thumbnails(
    path: Path, moments: Sequence[tuple[float, Box]], side: int = 128
) -> list[Image.Image]:
    """One thumbnail per (time, box) of a file. Raises if the file cannot be decoded."""
    if not moments:
        return []
    frames = frames_at(path, [t for t, _ in moments])
    return [crop_face(f, box, side) for f, (_, box) in zip(frames, moments, strict=True)]
