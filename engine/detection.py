"""Face detection and alignment with facenet-pytorch's MTCNN, batched, every face in a frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

FACE_SIZE = 160  # InceptionResnetV1 input


@dataclass(frozen=True)
class Detection:
    frame: int  # index of the frame in the batch
    box: np.ndarray  # (4,) x1, y1, x2, y2 in the decoded frame's pixels
    prob: float


class FaceDetector:
    """MTCNN with quality gates: faces smaller than `min_size` pixels (shorter side, in the
    original frame) or less likely than `min_prob` are dropped."""

    def __init__(
        self, device: torch.device, min_size: int = 20, min_prob: float = 0.9, margin: int = 0
    ):
        from facenet_pytorch import MTCNN

        self.min_size = min_size
        self.min_prob = min_prob
        self.margin = margin
        self.device = device
        self.mtcnn = MTCNN(keep_all=True, min_face_size=max(12, min_size), device=device)

    def detect(self, frames: np.ndarray, scale: float = 1.0) -> list[Detection]:
        """Faces in a (B, H, W, 3) uint8 batch of equal-size frames; `scale` maps decoded pixels
        back to the original frame, for the size gate."""
        if min(frames.shape[1:3]) * scale < max(self.min_size, 12):
            return []  # no face the gates keep fits in so small a frame (MTCNN would fail)
        batch = torch.from_numpy(np.require(frames, requirements="W")).to(self.device)
        with torch.inference_mode():
            boxes, probs = self.mtcnn.detect(batch)
        found = []
        for i, (fb, fp) in enumerate(zip(boxes, probs, strict=True)):
            if fb is None:
                continue
            for box, prob in zip(fb, fp, strict=True):
                side = min(box[2] - box[0], box[3] - box[1]) * scale
                if prob >= self.min_prob and side >= self.min_size:
                    found.append(Detection(i, box.astype(np.float32), float(prob)))
        return found

    def crops(self, frames: np.ndarray, detections: list[Detection]) -> torch.Tensor:
        """Aligned, standardised (N, 3, 160, 160) face crops, as facenet-pytorch extracts them."""
        if not detections:
            return torch.zeros((0, 3, FACE_SIZE, FACE_SIZE))
        height, width = frames.shape[1:3]
        frames = np.require(frames, requirements="W")
        out = []
        for det in detections:
            x1, y1, x2, y2 = crop_box(det.box, self.margin, width, height)
            face = torch.from_numpy(frames[det.frame, y1:y2, x1:x2]).permute(2, 0, 1).float()
            out.append(F.interpolate(face[None], size=(FACE_SIZE, FACE_SIZE), mode="area")[0])
        return (torch.stack(out) - 127.5) / 128.0


def crop_box(box: np.ndarray, margin: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The integer crop of facenet-pytorch's `extract_face`, with its margin, inside the frame."""
    mx = margin * (box[2] - box[0]) / (FACE_SIZE - margin)
    my = margin * (box[3] - box[1]) / (FACE_SIZE - margin)
    x1, y1 = int(max(box[0] - mx / 2, 0)), int(max(box[1] - my / 2, 0))
    x2, y2 = int(min(box[2] + mx / 2, width)), int(min(box[3] + my / 2, height))
    return x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)
