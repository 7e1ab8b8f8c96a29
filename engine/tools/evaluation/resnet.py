"""The project's first baseline: whole-image ResNet50 features (ImageNet), exact kNN.

Needs torchvision's ImageNet weights: a local state_dict file (RIS_RESNET50_WEIGHTS) or
torchvision's download. Without them there is no baseline to report, and ris says so.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def resnet50_weights() -> Path | None:
    path = os.environ.get("RIS_RESNET50_WEIGHTS")
    return Path(path) if path and Path(path).is_file() else None


def resnet50_features(
    weights: Path | None, images: Sequence[Path], device: str = "cpu"
) -> np.ndarray:
    """2048-d average-pooled features of whole images, L2-normalised. `weights` None: random
    initialisation, only for tests of this plumbing, never for a reported number."""
    import torch
    from PIL import Image
    from torchvision.models import resnet50
    from torchvision.transforms import v2

    net = resnet50(weights=None)
    if weights is not None:
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    net.fc = torch.nn.Identity()
    net = net.eval().to(device)
    prep = v2.Compose(
        [
            v2.ToImage(),
            v2.Resize(256, antialias=True),
            v2.CenterCrop(224),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        ]
    )
    out = []
    with torch.inference_mode():
        for lo in range(0, len(images), 32):
            batch = torch.stack(
                [prep(Image.open(p).convert("RGB")) for p in images[lo : lo + 32]]
            ).to(device)
            out.append(torch.nn.functional.normalize(net(batch), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 2048), np.float32)
