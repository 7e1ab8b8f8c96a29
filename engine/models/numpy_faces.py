"""The faces of a photo, found and embedded in numpy: for a query on the CPU, without torch.

A cold `ris search PHOTO` spends most of its time importing torch (1.4 s and more of 2.2 s
on 2 cores), for a few hundred milliseconds of work on one picture. This module does that
work with the same weights (read by `torch_files`), the same networks (`numpy_nets`), the same
cascade as `mtcnn` (thresholds, pyramid, suppressions, box refinements, area resampling of
integer crops from summed-area tables) and the same gates and crops as `detection` (small
faces enlarged bilinearly, from the same source points), step for step in float32, so the boxes and vectors equal the torch detector's to rounding
(`tests/test_numpy_faces.py` holds them to it on the dev photos).

On the CPU every query photo is read this way, in a cold command, by `ris serve` and by
ris-tui alike, so an answer does not depend on which of them gave it. Indexing, clips and GPUs
keep torch: its batches are faster there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.models.face_boxes import (
    FACE_SIZE,
    THRESHOLDS,
    Detection,
    crop_box,
    enlarged,
    gated,
    largest_first,
    pyramid,
    source_points,
)
from engine.models.numpy_nets import InceptionResnetV1, ONet, PNet, RNet
from engine.models.torch_files import load_state
from engine.vocabulary import FaceUpscale


def mtcnn_weights() -> Path:
    """facenet-pytorch's MTCNN weights folder, found without importing the package (whose
    `__init__` imports torchvision)."""
    from importlib.util import find_spec

    spec = find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("facenet-pytorch is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


class NumpyFaces:
    """Detector and embedder in numpy, with `FaceDetector`'s gates and crop margin."""

    def __init__(
        self,
        weights: Path,
        min_size: int = 20,
        min_prob: float = 0.9,
        margin: int = 0,
        upscale: FaceUpscale = FaceUpscale.BILINEAR,
    ) -> None:
        data = mtcnn_weights()
        self.pnet = PNet(load_state(data / "pnet.pt"))
        self.rnet = RNet(load_state(data / "rnet.pt"))
        self.onet = ONet(load_state(data / "onet.pt"))
        state = {k: v for k, v in load_state(weights).items() if not k.startswith("logits.")}
        self.net = InceptionResnetV1(state)
        self.min_size = min_size
        self.min_face = max(12, min_size)
        self.min_prob = min_prob
        self.margin = margin
        self.upscale = upscale

    def faces(
        self, frames: np.ndarray, scale: float | np.ndarray = 1.0
    ) -> tuple[list[Detection], np.ndarray]:
        """As `FaceModels.faces`: the faces of a (B, H, W, 3) uint8 batch that pass the gates,
        and their (N, 512) unit vectors."""
        scales = np.broadcast_to(np.asarray(scale, dtype=np.float64), (len(frames),))
        none = np.zeros((0, 512), np.float32)
        if len(frames) == 0 or min(frames.shape[1:3]) * scales.max() < self.min_face:
            return [], none
        tables = [summed_area(f) for f in frames]
        found = gated([self.detect(f, t) for f, t in zip(frames, tables, strict=True)],
                      scales, self.min_size, self.min_prob)  # fmt: skip
        if not found:
            return [], none
        height, width = frames.shape[1:3]
        boxes = np.asarray([crop_box(d.box, self.margin, width, height) for d in found])
        small = enlarged(boxes) & (self.upscale == FaceUpscale.BILINEAR)
        crops = np.concatenate([
            bilinear_crops(frames[d.frame], box[None], FACE_SIZE) if bilinear
            else area_crops(tables[d.frame], box[None], FACE_SIZE)
            for d, box, bilinear in zip(found, boxes, small, strict=True)
        ])  # fmt: skip
        return found, self.net((crops - np.float32(127.5)) / np.float32(128.0))

    def detect(self, frame: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """MTCNN on one (H, W, 3) uint8 frame, as `BatchedMTCNN.detect` runs it on a batch:
        boxes (n, 4) and probabilities (n,), largest first."""
        height, width = frame.shape[:2]
        none = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
        found = []
        for scale in pyramid(height, width, self.min_face):
            size = (int(height * scale + 1), int(width * scale + 1))
            whole = np.asarray([[0, 0, width, height]])
            reg, prob = self.pnet(_standard(area_crops(table, whole, size)))
            y, x = np.nonzero(prob[0] >= THRESHOLDS[0])
            cell = np.stack([x, y], axis=1).astype(np.float32)
            corner1 = np.floor((2 * cell + 1) / np.float32(scale))
            corner2 = np.floor((2 * cell + 12) / np.float32(scale))
            boxes = np.concatenate(
                [corner1, corner2, prob[0, y, x, None], reg[0, y, x]], axis=1, dtype=np.float32
            )
            found.append(boxes[nms(boxes[:, :4], boxes[:, 4], 0.5)])
        if not found:
            return none
        boxes = np.concatenate(found)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        w = (boxes[:, 2] - boxes[:, 0])[:, None]
        h = (boxes[:, 3] - boxes[:, 1])[:, None]
        shift = np.concatenate([w, h, w, h], axis=1) * boxes[:, 5:9]
        boxes = _square(np.concatenate([boxes[:, :4] + shift, boxes[:, 4:5]], axis=1))

        # R-Net on 24 px crops of every candidate, then O-Net on 48 px crops of what is left
        rated = self._rate(self.rnet, boxes, table, 24, THRESHOLDS[1])
        if rated is None:
            return none
        boxes, reg = rated
        keep = nms(boxes[:, :4], boxes[:, 4], 0.7)
        boxes = _square(_refine(boxes[keep], reg[keep]))
        rated = self._rate(self.onet, boxes, table, 48, THRESHOLDS[2])
        if rated is None:
            return none
        boxes = _refine(*rated)
        return largest_first(boxes, boxes[:, 4])

    @staticmethod
    def _rate(
        net: RNet | ONet, boxes: np.ndarray, table: np.ndarray, size: int, threshold: float
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The candidates inside the frame that `net` rates above `threshold` on `size` px crops,
        with their new scores, and its box offsets for them; None when no candidate is inside."""
        height, width = table.shape[0] - 1, table.shape[1] - 1
        crop, inside = _pixels(boxes, width, height)
        boxes, crop = boxes[inside], crop[inside]
        if len(boxes) == 0:
            return None
        reg, score = net(_standard(area_crops(table, crop, (size, size))))
        passed = score > threshold
        return np.concatenate([boxes[passed, :4], score[passed, None]], axis=1), reg[passed]


def summed_area(frame: np.ndarray) -> np.ndarray:
    """(H+1, W+1, 3) integer sums of an (H, W, 3) uint8 frame above and left of each point
    (int32 where no sum can overflow it: faster to gather)."""
    height, width = frame.shape[:2]
    dtype = np.int32 if 255 * height * width < 2**31 else np.int64
    table = np.zeros((height + 1, width + 1, 3), dtype)
    np.cumsum(np.cumsum(frame, axis=0, dtype=dtype), axis=1, out=table[1:, 1:])
    return table


def area_crops(table: np.ndarray, box: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """(N, h, w, 3) float32 crops of integer boxes (N, 4: x1, y1, x2, y2, ends excluded,
    non-empty, inside the frame), area-resampled to `size` (h, w) exactly as
    `F.interpolate(crop, size, mode="area")` does (see `mtcnn.area_crops`)."""
    sh, sw = (size, size) if isinstance(size, int) else size
    box = np.asarray(box, np.int64).reshape(-1, 4)
    x1, y1, x2, y2 = (box[:, k : k + 1] for k in range(4))
    w, h = x2 - x1, y2 - y1
    rows, cols = np.arange(sh + 1), np.arange(sw + 1)
    r0 = y1 + (rows[:-1] * h) // sh  # bin i covers [floor(i*h/s), ceil((i+1)*h/s))
    r1 = y1 + -((-rows[1:] * h) // sh)
    c0 = x1 + (cols[:-1] * w) // sw
    c1 = x1 + -((-cols[1:] * w) // sw)

    def at(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return table[r[:, :, None], c[:, None, :]]  # (N, sh, sw, 3)

    sums = at(r1, c1) - at(r0, c1) - at(r1, c0) + at(r0, c0)
    count = (r1 - r0)[:, :, None] * (c1 - c0)[:, None, :]
    return sums.astype(np.float32) / count[..., None].astype(np.float32)


def bilinear_crops(frame: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """(N, size, size, 3) float32 crops of integer boxes (N, 4, inside the frame) of an
    (H, W, 3) uint8 frame, enlarged as `detection.bilinear_crops` does (and F.interpolate's
    bilinear mode, align_corners=False)."""
    y0, y1, wy = source_points(box[:, 1], box[:, 3] - box[:, 1], size)
    x0, x1, wx = source_points(box[:, 0], box[:, 2] - box[:, 0], size)

    def at(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return frame[r[:, :, None], c[:, None, :]].astype(np.float32)  # (N, size, size, 3)

    wy, wx = wy[:, :, None, None], wx[:, None, :, None]
    one = np.float32(1)
    top = (one - wx) * at(y0, x0) + wx * at(y0, x1)
    bottom = (one - wx) * at(y1, x0) + wx * at(y1, x1)
    return (one - wy) * top + wy * bottom


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """torchvision's `nms`: greedy, best score first, dropping boxes that overlap a kept one by
    more than `iou` (intersection over union, areas without MTCNN's +1). Kept indices, best
    first."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = (boxes[:, k] for k in range(4))
    area = (x2 - x1) * (y2 - y1)
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.maximum(np.float32(0), np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(np.float32(0), np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        order = rest[inter / (area[i] + area[rest] - inter) <= iou]
    return np.asarray(keep, dtype=np.int64)


def _standard(crops: np.ndarray) -> np.ndarray:
    return (crops - np.float32(127.5)) * np.float32(0.0078125)


def _square(boxes: np.ndarray) -> np.ndarray:
    """As `mtcnn._square` (MTCNN's `rerec`)."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    x1 = boxes[:, 0] + w * np.float32(0.5) - side * np.float32(0.5)
    y1 = boxes[:, 1] + h * np.float32(0.5) - side * np.float32(0.5)
    return np.stack([x1, y1, x1 + side, y1 + side, *boxes[:, 4:].T], axis=1)


def _refine(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """As `mtcnn._refine` (MTCNN's `bbreg`)."""
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    moved = boxes[:, :4] + reg[:, :4] * np.stack([w, h, w, h], axis=1)
    return np.concatenate([moved, boxes[:, 4:]], axis=1)


def _pixels(boxes: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """As `mtcnn._pixels` (MTCNN's `pad`)."""
    t = np.trunc(boxes[:, :4]).astype(np.int64)
    x1 = np.maximum(t[:, 0], 1) - 1
    y1 = np.maximum(t[:, 1], 1) - 1
    x2 = np.minimum(t[:, 2], width)
    y2 = np.minimum(t[:, 3], height)
    return np.stack([x1, y1, x2, y2], axis=1), (x2 > x1) & (y2 > y1)
