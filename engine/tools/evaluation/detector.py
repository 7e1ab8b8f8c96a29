"""Does ris's batched MTCNN find the faces facenet-pytorch's MTCNN finds, and embed them alike?

    python -m engine.tools.evaluation.detector [--device cpu] [MEDIA ...]

The reference is facenet-pytorch's own detector, one chunk of frames at a time, with the crop
ris made before (each face cut from the frame and area-resized on the CPU, one at a time),
both through the same gates and the same FaceNet. Every sampled frame of the dev videos and
every dev photo is compared: a face of the reference is found again when a face of the same
frame overlaps it with IoU >= 0.5; the embeddings of faces found again are compared by cosine.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.media.finding import MediaFile, walk
from engine.media.sampling import FrameChunk, MediaInfo, SampleOptions, read_media
from engine.models.face_boxes import FACE_SIZE, Detection, crop_box, enlarged
from engine.models.face_models import FaceModels
from engine.models.weights import resolve_weights

DEV = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "dev"


class ReferenceDetector:
    """facenet-pytorch's MTCNN.detect and ris's former per-face crop (`F.interpolate` of each
    face alone), with ris's gates and its way of enlarging small faces."""

    def __init__(self, models: FaceModels) -> None:
        from facenet_pytorch import MTCNN

        detector, self.embedder = models.load()
        self.gates = detector.min_size, detector.min_prob, detector.margin
        self.upscale = detector.upscale  # the crop as ris cuts it: only the detector differs
        self.device = detector.device
        self.mtcnn = MTCNN(keep_all=True, min_face_size=max(12, self.gates[0]), device=self.device)

    def faces(self, frames: np.ndarray, scale: float) -> tuple[list[Detection], np.ndarray]:
        min_size, min_prob, margin = self.gates
        if min(frames.shape[1:3]) * scale < max(min_size, 12):
            return [], np.zeros((0, 512), np.float32)
        with torch.inference_mode():
            boxes, probs = self.mtcnn.detect(torch.from_numpy(frames.copy()).to(self.device))
        found = []
        for i, (fb, fp) in enumerate(zip(boxes, probs, strict=True)):
            for box, prob in zip(fb if fb is not None else [], fp, strict=False):
                if prob >= min_prob and min(box[2] - box[0], box[3] - box[1]) * scale >= min_size:
                    found.append(Detection(i, box.astype(np.float32), float(prob)))
        crops = []
        for det in found:
            x1, y1, x2, y2 = crop_box(det.box, margin, frames.shape[2], frames.shape[1])
            face = torch.from_numpy(frames[det.frame, y1:y2, x1:x2].copy()).permute(2, 0, 1)
            size = (FACE_SIZE, FACE_SIZE)
            if enlarged(np.asarray([x1, y1, x2, y2]))[0] and self.upscale == "bilinear":
                crop = F.interpolate(face[None].float(), size, mode="bilinear", align_corners=False)
            else:
                crop = F.interpolate(face[None].float(), size, mode="area")
            crops.append(crop[0])
        if not crops:
            return [], np.zeros((0, 512), np.float32)
        return found, self.embedder.embed((torch.stack(crops) - 127.5) / 128.0)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of x1, y1, x2, y2 boxes."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


@dataclass
class Agreement:
    frames: int = 0
    reference: int = 0  # faces facenet-pytorch's detector keeps
    ours: int = 0  # faces ris's detector keeps
    matched: int = 0  # reference faces found again (IoU >= 0.5)
    cosines: list[float] = field(default_factory=list)  # of matched faces' embeddings
    box_error: float = 0.0  # largest coordinate difference of a matched box, pixels
    seconds: dict[str, float] = field(default_factory=lambda: {"reference": 0.0, "ours": 0.0})

    @property
    def recall(self) -> float:
        return self.matched / self.reference if self.reference else 1.0

    @property
    def extra(self) -> float:
        return (self.ours - self.matched) / self.reference if self.reference else 0.0

    def add(self, ref: tuple, ours: tuple) -> None:
        (rd, rv), (od, ov) = ref, ours
        self.reference += len(rd)
        self.ours += len(od)
        for frame in {d.frame for d in rd}:
            ri = [k for k, d in enumerate(rd) if d.frame == frame]
            oi = [k for k, d in enumerate(od) if d.frame == frame]
            if not oi:
                continue
            overlap = iou(np.stack([rd[k].box for k in ri]), np.stack([od[k].box for k in oi]))
            pairs = sorted(np.ndenumerate(overlap), key=lambda p: -p[1])  # greedy, best first
            used_r: set[int] = set()
            used_o: set[int] = set()
            for (r, o), value in pairs:
                if value < 0.5:
                    break
                if r in used_r or o in used_o:
                    continue
                used_r.add(r)
                used_o.add(o)
                self.matched += 1
                self.cosines.append(float(rv[ri[r]] @ ov[oi[o]]))
                diff = np.abs(rd[ri[r]].box - od[oi[o]].box).max()
                self.box_error = max(self.box_error, float(diff))

    def summary(self) -> str:
        cos = np.asarray(self.cosines or [1.0])
        return (
            f"{self.frames} frames: facenet-pytorch {self.reference} faces, ris {self.ours}; "
            f"found again {self.recall:.2%}, extra {self.extra:.2%}; cosine of matched "
            f"embeddings min {cos.min():.4f} mean {cos.mean():.4f}; largest box difference "
            f"{self.box_error:.3g} px; detect+embed {self.seconds['reference']:.1f} s "
            f"(facenet-pytorch) vs {self.seconds['ours']:.1f} s (ris)"
        )


def compare(models: FaceModels, paths: list[Path], opts: SampleOptions | None = None) -> Agreement:
    """Both detectors on every sampled frame of the media under `paths`."""
    opts = opts or SampleOptions()
    reference = ReferenceDetector(models)
    result = Agreement()
    for item in walk(paths):
        if not isinstance(item, MediaFile):
            continue
        info: MediaInfo | None = None
        try:
            parts = list(read_media(item.path, item.kind, opts))
        except Exception:  # noqa: BLE001 (a file neither detector can read is no evidence)
            continue
        for part in parts:
            if isinstance(part, MediaInfo):
                info = part
            elif isinstance(part, FrameChunk) and info is not None:
                t0 = time.perf_counter()
                ref = reference.faces(part.frames, info.scale)
                t1 = time.perf_counter()
                ours = models.faces(part.frames, info.scale)
                result.seconds["reference"] += t1 - t0
                result.seconds["ours"] += time.perf_counter() - t1
                result.frames += len(part.frames)
                result.add(ref, ours)
    return result


def main() -> None:
    from engine.settings import Settings

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("media", type=Path, nargs="*", default=[DEV / "videos", DEV / "images"])
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    s = Settings.from_env(device=args.device)
    weights = resolve_weights(s.weights, None, None)
    models = FaceModels(
        weights, args.device, s.min_face_size, s.min_face_prob, margin=s.face_margin
    )
    print(compare(models, args.media).summary())


if __name__ == "__main__":
    main()
