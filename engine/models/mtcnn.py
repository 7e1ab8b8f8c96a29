"""MTCNN for a whole batch of frames in a few large steps.

facenet-pytorch's cascade (its P-, R- and O-Net with their weights, thresholds and pyramid
factor, the same candidate boxes, non-maximum suppressions and refinements), reorganised so
that its cost no longer grows with the number of candidate boxes in Python:

- every scale of the pyramid is sent to P-Net before any result is read back, so the device
  works through the whole pyramid while the host waits once per scale, not once per step;
- the crop and area resampling of each candidate (a few hundred per frame, which
  facenet-pytorch slices and resizes one at a time) is one gather from the frames'
  summed-area tables: an area resample of an integer crop is the mean of each of its bins,
  and a bin's sum is four look-ups, so R-Net's 24 px and O-Net's 48 px inputs and the 160 px
  face crops are exactly what `F.interpolate(mode="area")` gives, for all boxes at once;
- the suppressions of a batch run as one call per step (boxes of different frames are moved
  apart so they never overlap) instead of one per frame.

`tests/test_detector.py` and `python -m engine.detector_check` hold it to facenet-pytorch's
detector on the dev media: the same faces, the same boxes, the same embeddings.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from engine.models.face_boxes import THRESHOLDS, largest_first, pyramid
from engine.models.network_imports import model_classes, nms


def summed_area(frames: torch.Tensor) -> torch.Tensor:
    """(B, 3, H+1, W+1) int32 sums of (B, 3, H, W) uint8 frames above and left of each point."""
    table = frames.to(torch.int32).cumsum(2, dtype=torch.int32).cumsum(3, dtype=torch.int32)
    return F.pad(table, (1, 0, 1, 0))


def area_crops(table: torch.Tensor, frame: torch.Tensor, box: torch.Tensor, size: int):
    """(N, 3, size, size) float crops of integer boxes (N, 4: x1, y1, x2, y2, ends excluded,
    non-empty, inside the frame) of frames `frame` (N,), area-resampled exactly as
    `F.interpolate(crop, (size, size), mode="area")` (adaptive average pooling) does."""
    if len(box) == 0:
        return torch.zeros((0, 3, size, size), device=table.device)
    steps = torch.arange(size + 1, device=table.device)
    x1, y1, x2, y2 = (box[:, k : k + 1].long() for k in range(4))
    w, h = x2 - x1, y2 - y1
    r0 = y1 + (steps[:-1] * h) // size  # bin i covers [floor(i*h/s), ceil((i+1)*h/s))
    r1 = y1 + -((-steps[1:] * h) // size)
    c0 = x1 + (steps[:-1] * w) // size
    c1 = x1 + -((-steps[1:] * w) // size)
    b = frame.long()[:, None, None]

    def at(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        return table[b, :, rows[:, :, None], cols[:, None, :]]  # (N, size, size, 3)

    sums = at(r1, c1) - at(r0, c1) - at(r1, c0) + at(r0, c0)
    count = (r1 - r0)[:, :, None] * (c1 - c0)[:, None, :]
    return (sums.float() / count[..., None].float()).permute(0, 3, 1, 2)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, group: torch.Tensor, iou: float):
    """Greedy NMS within each group, in one call: groups are shifted apart so they never meet."""
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    shift = group.to(boxes.dtype) * (boxes.max() + 1)
    return nms(boxes + shift[:, None], scores, iou)


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """Boxes grown to squares about their centres (MTCNN's `rerec`)."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    x1 = boxes[:, 0] + w * 0.5 - side * 0.5
    y1 = boxes[:, 1] + h * 0.5 - side * 0.5
    return torch.stack([x1, y1, x1 + side, y1 + side, *boxes[:, 4:].T], dim=1)


def _refine(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    """A network's box regression applied (MTCNN's `bbreg`)."""
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    moved = boxes[:, :4] + reg[:, :4] * torch.stack([w, h, w, h], dim=1)
    return torch.cat([moved, boxes[:, 4:]], dim=1)


def _pixels(boxes: torch.Tensor, width: int, height: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The integer crop of each box inside the frame (MTCNN's `pad`: truncated, then clipped),
    as x1, y1, x2, y2 with ends excluded, and whether it holds any pixel."""
    t = boxes[:, :4].trunc().long()
    x1 = t[:, 0].clamp(min=1) - 1
    y1 = t[:, 1].clamp(min=1) - 1
    x2 = t[:, 2].clamp(max=width)
    y2 = t[:, 3].clamp(max=height)
    return torch.stack([x1, y1, x2, y2], dim=1), (x2 > x1) & (y2 > y1)


def _standard(crops: torch.Tensor) -> torch.Tensor:
    return (crops - 127.5) * 0.0078125


class BatchedMTCNN:
    """facenet-pytorch's MTCNN networks and weights, run a batch of frames at a time."""

    def __init__(self, device: torch.device, min_face_size: int = 20) -> None:
        _, PNet, RNet, ONet = model_classes()
        self.device = device
        self.min_face_size = min_face_size
        self.pnet = PNet().eval().to(device)
        self.rnet = RNet().eval().to(device)
        self.onet = ONet().eval().to(device)

    def detect(
        self, frames: torch.Tensor, table: torch.Tensor | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per frame of a (B, 3, H, W) uint8 batch on the device: boxes (n, 4) float32,
        x1, y1, x2, y2 in its pixels, largest first (as facenet-pytorch's `select_largest`),
        and their probabilities (n,). `table` is `summed_area(frames)` if the caller has it."""
        with torch.inference_mode():
            return self._detect(frames, summed_area(frames) if table is None else table)

    def _detect(self, frames: torch.Tensor, table: torch.Tensor) -> list:
        count, _, height, width = frames.shape
        images = frames.float()
        empty = [(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))] * count
        # Stage 1: P-Net over the pyramid, all scales queued before any is read back
        outputs = []
        for scale in pyramid(height, width, self.min_face_size):
            size = (int(height * scale + 1), int(width * scale + 1))
            reg, prob = self.pnet(_standard(F.interpolate(images, size=size, mode="area")))
            outputs.append((scale, reg, prob[:, 1]))
        found, frame_of = [], []
        for scale, reg, prob in outputs:
            at = (prob >= THRESHOLDS[0]).nonzero()
            frame, cell = at[:, 0], at[:, 1:].flip(1).to(reg.dtype)  # (x, y) cells
            corner1 = ((2 * cell + 1) / scale).floor()
            corner2 = ((2 * cell + 12) / scale).floor()
            score = prob[at[:, 0], at[:, 1], at[:, 2]]
            offsets = reg[at[:, 0], :, at[:, 1], at[:, 2]]
            boxes = torch.cat([corner1, corner2, score[:, None], offsets], dim=1)
            keep = batched_nms(boxes[:, :4], boxes[:, 4], frame, 0.5)
            found.append(boxes[keep])
            frame_of.append(frame[keep])
        if not found:
            return empty
        boxes, frame = torch.cat(found), torch.cat(frame_of)
        keep = batched_nms(boxes[:, :4], boxes[:, 4], frame, 0.7)
        boxes, frame = boxes[keep], frame[keep]
        w = (boxes[:, 2] - boxes[:, 0])[:, None]
        h = (boxes[:, 3] - boxes[:, 1])[:, None]
        shift = torch.cat([w, h, w, h], dim=1) * boxes[:, 5:9]
        boxes = _square(torch.cat([boxes[:, :4] + shift, boxes[:, 4:5]], dim=1))

        # Stage 2: R-Net on 24 px crops of every candidate
        crop, inside = _pixels(boxes, width, height)
        boxes, frame, crop = boxes[inside], frame[inside], crop[inside]
        if len(boxes) == 0:
            return empty
        reg, prob = self.rnet(_standard(area_crops(table, frame, crop, 24)))
        score = prob[:, 1]
        passed = score > THRESHOLDS[1]
        boxes = torch.cat([boxes[passed, :4], score[passed, None]], dim=1)
        frame, reg = frame[passed], reg[passed]
        keep = batched_nms(boxes[:, :4], boxes[:, 4], frame, 0.7)
        boxes = _square(_refine(boxes[keep], reg[keep]))
        frame = frame[keep]

        # Stage 3: O-Net on 48 px crops of what is left
        crop, inside = _pixels(boxes, width, height)
        boxes, frame, crop = boxes[inside], frame[inside], crop[inside]
        if len(boxes) == 0:
            return empty
        reg, _, prob = self.onet(_standard(area_crops(table, frame, crop, 48)))
        score = prob[:, 1]
        passed = score > THRESHOLDS[2]
        boxes = torch.cat([boxes[passed, :4], score[passed, None]], dim=1)
        boxes = _refine(boxes, reg[passed])
        return self._per_frame(boxes.cpu().numpy(), frame[passed].cpu().numpy(), count)

    @staticmethod
    def _per_frame(boxes: np.ndarray, frame: np.ndarray, count: int) -> list:
        return [largest_first(boxes[frame == i], boxes[frame == i, 4]) for i in range(count)]
