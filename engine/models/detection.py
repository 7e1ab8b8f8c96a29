"""Face detection and alignment: every face in a batch of frames, gated, cropped for FaceNet.

The detector is facenet-pytorch's MTCNN run a batch at a time (engine/mtcnn.py); the 160 px
crops are cut from the same frames on the same device, so frames cross to the GPU once and
faces never come back until they are vectors. A crop is cut as facenet-pytorch's
`extract_face` cuts it (box, margin), then shrunk by area when it is 160 px or more, and
enlarged bilinearly when smaller (where its library says so: see `FaceUpscale`).
"""

from __future__ import annotations

import numpy as np
import torch

from engine.models.face_boxes import FACE_SIZE, Detection, crop_box, enlarged, gated, source_points
from engine.models.mtcnn import BatchedMTCNN, area_crops, summed_area
from engine.vocabulary import FaceUpscale


class FaceDetector:
    """MTCNN with quality gates: faces smaller than `min_size` pixels (shorter side, in the
    original frame) or less likely than `min_prob` are dropped."""

    def __init__(
        self,
        device: torch.device,
        min_size: int = 20,
        min_prob: float = 0.9,
        margin: int = 0,
        upscale: FaceUpscale = FaceUpscale.BILINEAR,
    ):
        self.min_size = min_size
        self.min_prob = min_prob
        self.margin = margin
        self.upscale = upscale
        self.device = device
        self.mtcnn = BatchedMTCNN(device, min_face_size=max(12, min_size))

    def find(
        self, frames: np.ndarray, scale: float | np.ndarray = 1.0
    ) -> tuple[list[Detection], torch.Tensor]:
        """Faces in a (B, H, W, 3) uint8 batch of equal-size frames, and their aligned,
        standardised (N, 3, 160, 160) crops on the device. `scale` (one, or one per frame) maps
        decoded pixels back to the original frame's, for the size gate."""
        scales = np.broadcast_to(np.asarray(scale, dtype=np.float64), (len(frames),))
        empty = torch.zeros((0, 3, FACE_SIZE, FACE_SIZE), device=self.device)
        if len(frames) == 0 or min(frames.shape[1:3]) * scales.max() < max(self.min_size, 12):
            return [], empty  # no face the gates keep fits in so small a frame
        with torch.inference_mode():
            batch = torch.from_numpy(np.require(frames, requirements="W")).to(self.device)
            batch = batch.permute(0, 3, 1, 2).contiguous()
            table = summed_area(batch)
            found = gated(self.mtcnn.detect(batch, table), scales, self.min_size, self.min_prob)
            if not found:
                return [], empty
            height, width = frames.shape[1:3]
            crops = np.asarray([crop_box(d.box, self.margin, width, height) for d in found])
            where = torch.from_numpy(crops).to(self.device)
            index = torch.tensor([d.frame for d in found], device=self.device)
            faces = area_crops(table, index, where, FACE_SIZE)
            small = enlarged(crops) if self.upscale == FaceUpscale.BILINEAR else np.zeros(0, bool)
            if small.any():
                mine = torch.from_numpy(np.flatnonzero(small)).to(self.device)
                faces[mine] = bilinear_crops(batch, index[mine], crops[small], FACE_SIZE)
            return found, (faces - 127.5) / 128.0


def bilinear_crops(
    frames: torch.Tensor, frame: torch.Tensor, box: np.ndarray, size: int
) -> torch.Tensor:
    """(N, 3, size, size) float crops of integer boxes (N, 4, inside the frame) of (B, 3, H, W)
    uint8 `frames` (`frame`: which, (N,)), enlarged as `F.interpolate(crop, (size, size),
    mode="bilinear", align_corners=False)` does; `numpy_faces.bilinear_crops` is the same."""
    device = frames.device
    rows = [
        torch.from_numpy(a).to(device)
        for a in source_points(box[:, 1], box[:, 3] - box[:, 1], size)
    ]
    cols = [
        torch.from_numpy(a).to(device)
        for a in source_points(box[:, 0], box[:, 2] - box[:, 0], size)
    ]
    b = frame.long()[:, None, None]

    def at(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return frames[b, :, r[:, :, None], c[:, None, :]].float()  # (N, size, size, 3)

    wy, wx = rows[2][:, :, None, None], cols[2][:, None, :, None]
    top = (1 - wx) * at(rows[0], cols[0]) + wx * at(rows[0], cols[1])
    bottom = (1 - wx) * at(rows[1], cols[0]) + wx * at(rows[1], cols[1])
    return ((1 - wy) * top + wy * bottom).permute(0, 3, 1, 2)
