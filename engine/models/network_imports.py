"""facenet-pytorch's networks and torchvision's NMS, imported without what they drag in.

`import facenet_pytorch` runs its package `__init__`, which imports its MTCNN helpers, and
they import torchvision; `import torchvision.ops` imports torch's compiler (torch._dynamo).
On a 2-core machine that is 1.8 s of a cold `ris search`, for two model classes and one
C++ operator (README, "From the shell"). Here the model files are imported on their own, and the NMS
operator is loaded from torchvision's compiled library; both fall back to the plain imports
if anything about the installed packages is unexpected, so results never depend on the path.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import threading
import types
from pathlib import Path
from typing import Any

import torch

_lock = threading.Lock()
_nms: Any = None


@functools.cache
def model_classes() -> tuple[type, type, type, type]:
    """facenet-pytorch's (InceptionResnetV1, PNet, RNet, ONet), imported once (the detector
    and the embedder both ask: the modules, run alone, are not kept in `sys.modules`)."""
    if "facenet_pytorch" not in sys.modules:  # not imported by anyone yet: the cheap way
        with _lock:
            try:
                resnet, mtcnn = _modules_alone()
                return resnet.InceptionResnetV1, mtcnn.PNet, mtcnn.RNet, mtcnn.ONet
            except Exception:  # noqa: BLE001 - a layout this does not know: the plain import
                pass
    from facenet_pytorch.models.inception_resnet_v1 import InceptionResnetV1
    from facenet_pytorch.models.mtcnn import ONet, PNet, RNet

    return InceptionResnetV1, PNet, RNet, ONet


def _modules_alone() -> tuple[types.ModuleType, types.ModuleType]:
    """The two model modules, run as usual, but with the package's `__init__` skipped and the
    detection helpers (torchvision) left out: neither is used by the networks. Nothing stays
    in `sys.modules`, so a later `import facenet_pytorch` gets the whole package as usual."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("facenet_pytorch is not installed")
    package = types.ModuleType("facenet_pytorch")
    package.__path__ = list(spec.submodule_search_locations)
    helpers = types.ModuleType("facenet_pytorch.models.utils.detect_face")
    helpers.detect_face = helpers.extract_face = _not_loaded  # type: ignore[attr-defined]
    before = set(sys.modules)
    sys.modules["facenet_pytorch"] = package
    sys.modules[helpers.__name__] = helpers
    try:
        resnet = importlib.import_module("facenet_pytorch.models.inception_resnet_v1")
        mtcnn = importlib.import_module("facenet_pytorch.models.mtcnn")
    finally:
        for name in set(sys.modules) - before:
            if name == "facenet_pytorch" or name.startswith("facenet_pytorch."):
                del sys.modules[name]
    return resnet, mtcnn


def _not_loaded(*args: object, **kwargs: object) -> None:
    raise RuntimeError(
        "facenet-pytorch's detection helpers were not loaded (engine.models.network_imports)"
    )


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou: float) -> torch.Tensor:
    """torchvision.ops.nms: indices of the boxes kept, highest score first."""
    global _nms
    if _nms is None:
        with _lock:
            if _nms is None:
                _nms = _nms_operator()
    return _nms(boxes, scores, iou)


def _nms_operator() -> Any:
    """torchvision's compiled NMS, loaded as torchvision itself loads it (its `_C` library),
    else from `torchvision.ops`."""
    if "torchvision" not in sys.modules:
        spec = importlib.util.find_spec("torchvision")
        where = spec.submodule_search_locations if spec else None
        for folder in where or ():
            for name in ("_C_stable", "_C"):
                for library in sorted(Path(folder).glob(f"{name}.*so")):
                    try:
                        torch.ops.load_library(str(library))
                        return torch.ops.torchvision.nms
                    except (OSError, RuntimeError, AttributeError):
                        continue
    from torchvision.ops import nms as plain

    return plain
