"""Face embeddings with FaceNet's InceptionResnetV1: 512-d, L2-normalised, batched."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import torch

from engine.errors import MissingWeightsError
from engine.models.weights import Weights
from engine.vocabulary import EMBEDDING_DIM

Notify = Callable[[str], None]


def load_network(
    weights: Weights, device: torch.device, notify: Notify = lambda text: None
) -> torch.nn.Module:
    """The network in eval mode on `device`; vggface2 is downloaded by facenet-pytorch once
    (`notify` is told before, as that can take a while)."""
    from engine.models.network_imports import model_classes

    network = model_classes()[0]
    if weights.path is None:
        notify(
            "loading FaceNet vggface2 weights (facenet-pytorch downloads them once, about 110 MB)"
        )
        try:
            net = network(pretrained="vggface2", classify=False)
        except Exception as err:
            raise MissingWeightsError(
                f"cannot download the vggface2 weights ({type(err).__name__})",
                "offline? set --weights or RIS_FACENET_WEIGHTS to a local state_dict file",
            ) from err
    else:
        try:
            state = torch.load(weights.path, map_location="cpu", weights_only=True)
        except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError) as err:
            raise MissingWeightsError(
                f"cannot read the FaceNet weights {weights.path}: {_first_sentence(err)}",
                "the file may be truncated or damaged: copy it again, or set --weights or "
                "RIS_FACENET_WEIGHTS to another InceptionResnetV1 state_dict file",
            ) from err
        if not isinstance(state, dict):
            raise MissingWeightsError(
                f"{weights.path} is not an InceptionResnetV1 state_dict",
                "use a facenet-pytorch InceptionResnetV1 weights file",
            )
        state = {k: v for k, v in state.items() if not k.startswith("logits.")}
        with torch.device("meta"):  # no random initialisation of weights about to be replaced
            net = network(pretrained=None, classify=False)
        try:
            net.load_state_dict(state, assign=True)
        except RuntimeError as err:
            raise MissingWeightsError(
                f"{weights.path} is not an InceptionResnetV1 state_dict",
                "use a facenet-pytorch InceptionResnetV1 weights file",
            ) from err
    return net.eval().to(device)


class FaceEmbedder:
    def __init__(
        self,
        weights: Weights,
        device: torch.device,
        batch: int = 64,
        notify: Notify = lambda text: None,
    ) -> None:
        self.weights = weights
        self.device = device
        self.batch = batch
        self.net = load_network(weights, device, notify)

    def embed(self, crops: torch.Tensor) -> np.ndarray:
        """(N, EMBEDDING_DIM) float32 unit vectors for (N, 3, 160, 160) standardised crops."""
        out = np.zeros((len(crops), EMBEDDING_DIM), dtype=np.float32)
        with torch.inference_mode():
            for lo in range(0, len(crops), self.batch):
                part = crops[lo : lo + self.batch].to(self.device)
                vec = torch.nn.functional.normalize(self.net(part), dim=1)
                out[lo : lo + len(part)] = vec.float().cpu().numpy()
        return out


def _first_sentence(err: Exception) -> str:
    """What torch says is wrong with a file, without its advice about checkpoints."""
    return str(err).split("\n")[0].split(". ")[0].rstrip(".")
