"""Queries read in numpy (engine/numpy_faces.py), without torch: the same weights, the same
faces, boxes and vectors as the torch models, and a cold `ris search` of a photo or a clip that
never imports torch (issue 15: its cold start)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.media.finding import media_kind
from engine.media.sampling import FrameChunk, MediaInfo, SampleOptions, read_media
from engine.models.face_models import FaceModels
from engine.models.numpy_faces import NumpyFaces, mtcnn_weights, nms
from engine.models.torch_files import LEGACY_MAGIC, LEGACY_PROTOCOL, WeightsFileError, load_state
from engine.models.weights import VGGFACE2, Weights, file_weights
from engine.vocabulary import MediaKind
from tests.conftest import AOC_CLIPS, AOC_PHOTO, HAMILTON, IMAGES, ROOT, SHARED, WEIGHTS

LFW = SHARED / "data" / "dev" / "lfw"


@pytest.mark.parametrize("name", ["pnet.pt", "rnet.pt", "onet.pt", "facenet"])
def test_weights_read_without_torch_equal_what_torch_load_reads(name):
    # MTCNN's files are torch's legacy format, the FaceNet weights its zip format
    path = WEIGHTS if name == "facenet" else mtcnn_weights() / name
    if name != "facenet":
        assert not zipfile.is_zipfile(path)
    mine = load_state(path)
    theirs = torch.load(path, map_location="cpu", weights_only=True)
    assert list(mine) == list(theirs)
    for key, tensor in theirs.items():
        assert mine[key].dtype == tensor.numpy().dtype, key
        assert np.array_equal(mine[key], tensor.numpy()), key


def test_a_weights_file_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    legacy = tmp_path / "legacy.pt"
    with legacy.open("wb") as f:
        for part in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"little_endian": True}, {"w": Payload()}):
            pickle.dump(part, f)
    zipped = tmp_path / "zipped.pt"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": Payload()}))
    first = tmp_path / "first.pt"  # the code where the magic number belongs
    first.write_bytes(pickle.dumps(Payload()))
    keys = tmp_path / "keys.pt"  # the code where the storage keys belong
    with keys.open("wb") as f:
        for part in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"little_endian": True}, {}, Payload()):
            pickle.dump(part, f)
    for path in (legacy, zipped, first, keys):
        with pytest.raises(WeightsFileError, match=path.name):
            load_state(path)
    assert not marker.exists()


@pytest.mark.parametrize("seed", [0, 1, 35, 38, 73, 215])
def test_a_weights_file_of_random_bytes_is_refused_with_the_same_error(tmp_path, seed):
    """Whatever the bytes make the unpickler raise (with these seeds: UnpicklingError,
    UnicodeDecodeError, OverflowError, ValueError, MemoryError), the reader says the file is
    not a state_dict, which sends it to torch for a clear message."""
    noise = tmp_path / "noise.pt"
    noise.write_bytes(np.random.default_rng(seed).bytes(4096))
    with pytest.raises(WeightsFileError, match=noise.name):
        load_state(noise)


def test_nms_keeps_what_torchvision_keeps():
    from engine.models.network_imports import nms as torch_nms

    rng = np.random.default_rng(3)
    corner = rng.uniform(0, 200, (300, 2)).astype(np.float32)
    boxes = np.concatenate([corner, corner + rng.uniform(5, 60, (300, 2))], 1).astype(np.float32)
    scores = rng.uniform(0, 1, 300).astype(np.float32)
    scores[10:20] = scores[0]  # ties keep their order
    for iou in (0.5, 0.7):
        want = torch_nms(torch.from_numpy(boxes), torch.from_numpy(scores), iou).numpy()
        assert np.array_equal(nms(boxes, scores, iou), want)


def _frames(paths: list[Path]) -> list[tuple[Path, np.ndarray, float]]:
    out = []
    opts = SampleOptions(rate=0.5)
    for path in paths:
        kind = media_kind(path)
        info = None
        for part in read_media(path, kind, opts):
            if isinstance(part, MediaInfo):
                info = part
            elif isinstance(part, FrameChunk) and info is not None:
                out += [(path, part.frames[i : i + 1], info.scale) for i in range(len(part.frames))]
    return out


@pytest.mark.slow
def test_numpy_models_find_and_embed_the_faces_torch_finds():
    # every dev photo (group photos with many small faces among them), LFW photos, and frames
    # of a stage video with several people
    photos = sorted(p for p in IMAGES.rglob("*") if media_kind(p) == MediaKind.IMAGE)
    photos += sorted(LFW.rglob("*.jpg"))[:40]
    frames = _frames(photos) + _frames([HAMILTON])[:12]
    torch_models = FaceModels(file_weights(WEIGHTS), "cpu", margin=32)
    numpy_models = NumpyFaces(WEIGHTS, margin=32)
    faces = 0
    for path, frame, scale in frames:
        want, want_vectors = torch_models.faces(frame, scale)
        got, got_vectors = numpy_models.faces(frame, scale)
        assert len(got) == len(want), path
        for a, b in zip(got, want, strict=True):
            assert np.abs(a.box - b.box).max() < 0.01, path
            assert abs(a.prob - b.prob) < 1e-4, path
        if len(want):
            cosines = (got_vectors * want_vectors).sum(1)
            assert cosines.min() > 0.99999, (path, cosines.min())
            assert np.allclose(np.linalg.norm(got_vectors, axis=1), 1, atol=1e-5)
        faces += len(want)
    assert len(frames) > 100 and faces > 120, (len(frames), faces)


def test_the_photo_path_is_chosen_by_device_and_weights(monkeypatch):
    on_cpu = FaceModels(file_weights(WEIGHTS), "cpu", margin=32)
    assert on_cpu._numpy_faces() is not None
    downloaded = FaceModels(Weights(VGGFACE2, None), "cpu")  # vggface2: facenet-pytorch's download
    assert downloaded._numpy_faces() is None
    if not torch.cuda.is_available():
        return
    assert FaceModels(file_weights(WEIGHTS), "cuda")._numpy_faces() is None


def test_weights_numpy_cannot_read_go_to_torch(tmp_path):
    # a state_dict of another network: numpy gives up, torch reads it and says what is wrong
    other = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(2, 2)}, other)
    models = FaceModels(file_weights(other), "cpu")
    assert models._numpy_faces() is None
    frame = np.zeros((1, 200, 200, 3), np.uint8)
    with pytest.raises(Exception, match="not an InceptionResnetV1 state_dict"):
        models.query_faces(frame)


@pytest.mark.slow
@pytest.mark.parametrize("query", [AOC_PHOTO, AOC_CLIPS[2]], ids=["photo", "clip"])
def test_a_cold_search_never_imports_torch(dev_index, ris_env, query):
    engine, _ = dev_index
    script = (
        "import sys, contextlib, io\n"
        "from engine.frontends import cli\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    code = cli.main(sys.argv[1:])\n"
        "assert code == 0, code\n"
        "assert '\"videos\"' in out.getvalue()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision',"
        " 'facenet_pytorch')))\n"
    )
    env = {**ris_env, "RIS_DATA_DIR": str(engine.settings.data_dir), "RIS_SERVE": "off"}
    run = subprocess.run(
        [sys.executable, "-c", script, "search", str(query), "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]", run.stdout
