"""Where faces are: MTCNN's constants and the box geometry that the torch detector
(`mtcnn`, `detection`) and the numpy one (`numpy_faces`) share, so both cut the same faces."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THRESHOLDS = (0.6, 0.7, 0.7)  # P-, R- and O-Net, as facenet-pytorch's MTCNN
FACTOR = 0.709  # pyramid step
FACE_SIZE = 160  # InceptionResnetV1 input


@dataclass(frozen=True)
class Detection:
    frame: int  # index of the frame in the batch
    box: np.ndarray  # (4,) x1, y1, x2, y2 in the decoded frame's pixels
    prob: float


def pyramid(height: int, width: int, min_face: int) -> list[float]:
    """The scales at which P-Net's 12 px window sees faces of `min_face` px and up."""
    m = 12.0 / min_face
    minl = min(height, width) * m
    scales, scale = [], m
    while minl >= 12:
        scales.append(scale)
        scale *= FACTOR
        minl *= FACTOR
    return scales


def min_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """MTCNN's final greedy suppression, overlap measured against the smaller box (one frame)."""
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores)
    keep = []
    while order.size:
        i, rest = order[-1], order[:-1]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        order = rest[(w * h) / np.minimum(area[i], area[rest]) <= iou]
    return np.asarray(keep, dtype=np.int64)


def largest_first(boxes: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One frame's final faces (n, 5: box and probability, from O-Net): suppressed against the
    smaller box, largest first (as facenet-pytorch's `select_largest`)."""
    mine = boxes[min_nms(boxes[:, :4], probs, 0.7)] if len(boxes) else boxes
    area = (mine[:, 2] - mine[:, 0]) * (mine[:, 3] - mine[:, 1])
    mine = mine[np.argsort(area)[::-1]]
    return mine[:, :4].astype(np.float32), mine[:, 4].astype(np.float32)


def gated(
    found: list[tuple[np.ndarray, np.ndarray]],
    scales: np.ndarray,
    min_size: int,
    min_prob: float,
) -> list[Detection]:
    """The faces of each frame that pass the gates: at least `min_prob` likely, and at least
    `min_size` pixels on their shorter side in the original frame (`scales`: decoded pixels to
    original, per frame)."""
    kept = []
    for i, (boxes, probs) in enumerate(found):
        for box, prob in zip(boxes, probs, strict=True):
            side = min(box[2] - box[0], box[3] - box[1]) * scales[i]
            if prob >= min_prob and side >= min_size:
                kept.append(Detection(i, box, float(prob)))
    return kept


def enlarged(crops: np.ndarray) -> np.ndarray:
    """Which integer crops (N, 4) are smaller than FaceNet's input either way, so enlarged: by
    `FaceUpscale.BILINEAR` where the library says so. Crops at least 160 px both ways are
    always shrunk by area (each output pixel the mean of the pixels it covers)."""
    crops = np.asarray(crops).reshape(-1, 4)
    return (crops[:, 2] - crops[:, 0] < FACE_SIZE) | (crops[:, 3] - crops[:, 1] < FACE_SIZE)


def source_points(start: np.ndarray, length: np.ndarray, size: int) -> tuple:
    """Where bilinear resampling of spans [start, start + length) to `size` points reads
    (`F.interpolate(mode="bilinear", align_corners=False)`): for each span (N, size) the pixel
    before each point, the one after (clamped to the span) and the weight of the one after."""
    length = np.asarray(length).reshape(-1, 1)
    scale = length.astype(np.float32) / np.float32(size)
    src = (np.arange(size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    src = np.maximum(src, np.float32(0))
    before = np.minimum(src.astype(np.int64), length - 1)
    after = np.minimum(before + 1, length - 1)
    start = np.asarray(start).reshape(-1, 1)
    return start + before, start + after, (src - before).astype(np.float32)


def crop_box(box: np.ndarray, margin: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The integer crop of facenet-pytorch's `extract_face`, with its margin, inside the frame
    (at least one pixel)."""
    mx = margin * (box[2] - box[0]) / (FACE_SIZE - margin)
    my = margin * (box[3] - box[1]) / (FACE_SIZE - margin)
    x1 = min(int(max(box[0] - mx / 2, 0)), width - 1)
    y1 = min(int(max(box[1] - my / 2, 0)), height - 1)
    x2, y2 = int(min(box[2] + mx / 2, width)), int(min(box[3] + my / 2, height))
    return x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)
