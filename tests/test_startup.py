"""What a cold start imports and hashes: the two facenet-pytorch model modules and the NMS
operator without torchvision's Python package, and the weights file hashed once per change."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.models import weights

CHILD = """
import sys
import torch
from engine.models.network_imports import model_classes, nms
resnet, pnet, rnet, onet = model_classes()
boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32)
kept = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist()
pulled = sorted({m.split(".")[0] for m in sys.modules} & {"torchvision", "facenet_pytorch", "requests"})
print(kept, pulled)
pnet()  # the real network with its weights
import facenet_pytorch, torchvision.ops  # the whole package still imports as usual afterwards
print(facenet_pytorch.MTCNN.__name__, torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist())
"""


def test_the_models_load_without_torchvision_and_the_package_still_imports_afterwards():
    run = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    first, second = run.stdout.splitlines()
    assert first == "[0, 2] ['requests']"  # inception_resnet_v1 imports requests itself
    assert second == "MTCNN [0, 2]"


def test_weights_are_hashed_once_until_the_file_changes(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    w = tmp_path / "w.pt"
    w.write_bytes(b"first")
    first = weights.file_weights(w).id
    assert first.startswith("sha256:") and (tmp_path / "cache/ris/weights.json").is_file()
    hashed = []
    real = weights.hashlib.sha256
    monkeypatch.setattr(weights.hashlib, "sha256", lambda: hashed.append(1) or real())
    assert weights.file_weights(w).id == first and not hashed  # unchanged: the recorded id
    w.write_bytes(b"second, longer")
    second = weights.file_weights(w).id
    assert second != first and hashed == [1]


def test_an_unwritable_cache_only_costs_a_hash(tmp_path: Path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    w = tmp_path / "w.pt"
    w.write_bytes(b"x")
    assert weights.file_weights(w).id == weights.file_weights(w).id


@pytest.mark.parametrize("junk", ["[1, 2]", "{not json", ""])
def test_a_damaged_cache_is_ignored(tmp_path: Path, monkeypatch, junk: str):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "ris").mkdir()
    (tmp_path / "ris/weights.json").write_text(junk)
    w = tmp_path / "w.pt"
    w.write_bytes(b"x")
    assert weights.file_weights(w).id.startswith("sha256:")
