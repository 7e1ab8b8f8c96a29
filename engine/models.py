"""The face models, cheap to construct and loaded on first use under a lock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .weights import Weights

if TYPE_CHECKING:
    import torch

    from .detection import Detection, FaceDetector
    from .embedding import FaceEmbedder


def pick_device(name: str) -> torch.device:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        from .errors import UserError

        raise UserError(
            f"--device {name} asked for, but no CUDA GPU is available", "use --device cpu"
        )
    return device


class FaceModels:
    """Detector and embedder for one weights choice; nothing loads until `faces()` is called."""

    def __init__(
        self,
        weights: Weights,
        device: str = "auto",
        min_face_size: int = 20,
        min_face_prob: float = 0.9,
        face_batch: int = 64,
        margin: int = 0,
        notify: Callable[[str], None] = lambda text: None,
    ) -> None:
        self.weights = weights
        self._notify = notify  # told of slow first-time work (a weights download)
        self._device_name = device
        self._gates = (min_face_size, min_face_prob)
        self._face_batch = face_batch
        self._margin = margin
        self._lock = threading.Lock()
        self._detector: FaceDetector | None = None
        self._embedder: FaceEmbedder | None = None

    @property
    def min_face_size(self) -> int:
        return self._gates[0]

    @property
    def loaded(self) -> bool:
        return self._embedder is not None

    def load(self) -> tuple[FaceDetector, FaceEmbedder]:
        with self._lock:
            if self._detector is None or self._embedder is None:
                from .detection import FaceDetector
                from .embedding import FaceEmbedder

                device = pick_device(self._device_name)
                self._embedder = FaceEmbedder(self.weights, device, self._face_batch, self._notify)
                self._detector = FaceDetector(device, *self._gates, margin=self._margin)
            return self._detector, self._embedder

    @property
    def device(self) -> str:
        detector, _ = self.load()
        return str(detector.device)

    def faces(self, frames: np.ndarray, scale: float = 1.0) -> tuple[list[Detection], np.ndarray]:
        """Every face that passes the gates in a batch of frames, and its unit embedding."""
        detector, embedder = self.load()
        found = detector.detect(frames, scale)
        return found, embedder.embed(detector.crops(frames, found))
