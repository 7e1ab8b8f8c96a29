"""The yardstick: plain facenet-pytorch, as its README uses it, with the same weights.

MTCNN with its defaults (160 px crops, margin 0, the largest face) and InceptionResnetV1,
one image at a time. ris must verify faces at least as well as this.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from engine.models.weights import Weights


class PlainFacenet:
    def __init__(self, weights: Weights, device: str = "cpu") -> None:
        import torch
        from facenet_pytorch import MTCNN

        from engine.models.embedding import load_network

        self.torch = torch
        self.device = torch.device(device)
        self.mtcnn = MTCNN(device=self.device)  # image_size=160, margin=0, select_largest=True
        self.net = load_network(weights, self.device)

    def embed(self, paths: Iterable[Path]) -> dict[Path, np.ndarray | None]:
        """Unit 512-d vector of each image's face; None where MTCNN finds none."""
        from PIL import Image

        out: dict[Path, np.ndarray | None] = {}
        with self.torch.inference_mode():
            for path in paths:
                with Image.open(path) as im:
                    face = self.mtcnn(im.convert("RGB"))
                if face is None:
                    out[path] = None
                    continue
                vec = self.net(face[None].to(self.device))[0]  # normalised by the network
                out[path] = vec.float().cpu().numpy()
        return out
