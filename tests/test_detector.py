"""The batched detector (engine/mtcnn.py) and the batched pipeline (engine/faces.py) against
what they replace: facenet-pytorch's MTCNN, and one chunk of one file at a time. Same faces,
same boxes, same embeddings (issue 10, criterion 4)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.media import shared_frames as frame_files
from engine.media.decoding import Decoder
from engine.media.finding import MediaFile
from engine.media.sampling import FrameChunk, MediaInfo, SampleOptions, read_media
from engine.models.face_models import FaceModels
from engine.models.faces import FileRead, FramesRead, faces_by_file, faces_in
from engine.models.mtcnn import area_crops, summed_area
from engine.models.weights import file_weights
from engine.tools.evaluation.detector import compare
from tests.conftest import AOC_CLIPS, AOC_PHOTO, HAMILTON, IMAGES, LMM_PHOTO, WEIGHTS
from tests.test_decoder_faults import workers_of


@pytest.fixture(scope="module")
def models() -> FaceModels:
    return FaceModels(file_weights(WEIGHTS), "cpu", margin=32)


def test_area_crops_are_what_interpolate_gives_crop_by_crop():
    rng = np.random.default_rng(7)
    frames = torch.from_numpy(rng.integers(0, 256, (3, 3, 97, 131), dtype=np.uint8))
    boxes, owners = [], []
    for _ in range(60):  # shrunk, stretched, tiny, whole-frame and edge crops
        x1, y1 = int(rng.integers(0, 130)), int(rng.integers(0, 96))
        x2, y2 = int(rng.integers(x1 + 1, 132)), int(rng.integers(y1 + 1, 98))
        boxes.append([x1, y1, x2, y2])
        owners.append(int(rng.integers(0, 3)))
    boxes += [[0, 0, 131, 97], [130, 96, 131, 97]]
    owners += [1, 2]
    table = summed_area(frames)
    for size in (24, 48, 160):
        got = area_crops(table, torch.tensor(owners), torch.tensor(boxes), size)
        for k, ((x1, y1, x2, y2), b) in enumerate(zip(boxes, owners, strict=True)):
            crop = frames[b : b + 1, :, y1:y2, x1:x2].float()
            want = F.interpolate(crop, size=(size, size), mode="area")[0]
            torch.testing.assert_close(got[k], want, atol=1e-4, rtol=0)


def test_bilinear_crops_are_what_interpolate_gives_in_torch_and_numpy():
    from engine.models.detection import bilinear_crops
    from engine.models.numpy_faces import bilinear_crops as numpy_bilinear_crops

    rng = np.random.default_rng(11)
    frames = rng.integers(0, 256, (2, 97, 131, 3), dtype=np.uint8)
    boxes = []
    for _ in range(40):  # enlarged every way: tiny, thin, wide, whole-frame and edge crops
        x1, y1 = int(rng.integers(0, 130)), int(rng.integers(0, 96))
        x2, y2 = int(rng.integers(x1 + 1, 132)), int(rng.integers(y1 + 1, 98))
        boxes.append([x1, y1, x2, y2])
    boxes += [[0, 0, 131, 97], [130, 96, 131, 97], [5, 0, 6, 97]]
    owners = rng.integers(0, 2, len(boxes))
    batch = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()
    got = bilinear_crops(batch, torch.from_numpy(owners), np.asarray(boxes), 160)
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        crop = batch[owners[k] : owners[k] + 1, :, y1:y2, x1:x2].float()
        want = F.interpolate(crop, size=(160, 160), mode="bilinear", align_corners=False)[0]
        torch.testing.assert_close(got[k], want, atol=0.01, rtol=0)
        mine = numpy_bilinear_crops(frames[owners[k]], np.asarray([boxes[k]]), 160)[0]
        np.testing.assert_allclose(mine, want.permute(1, 2, 0).numpy(), atol=0.01, rtol=0)


@pytest.mark.slow
def test_it_finds_the_faces_facenet_pytorch_finds_and_embeds_them_alike(models):
    # a stage with several people, a talking head, and group photos with many small faces
    agreement = compare(models, [HAMILTON, AOC_CLIPS[2], IMAGES / "multi_face"])
    assert agreement.frames > 30 and agreement.reference > 60
    assert agreement.recall >= 0.99, agreement.summary()
    assert agreement.extra <= 0.01, agreement.summary()
    assert min(agreement.cosines) >= 0.99, agreement.summary()


def _media(path: Path) -> MediaFile:
    st = path.stat()
    kind = "image" if path.suffix in (".jpg", ".png") else "video"
    return MediaFile(path, kind, st.st_size, st.st_mtime_ns)


def _one_at_a_time(models: FaceModels, files: list[MediaFile]) -> dict[Path, list]:
    out = {}
    for f in files:
        info, faces = None, []
        for part in read_media(f.path, f.kind, SampleOptions()):
            if isinstance(part, MediaInfo):
                info = part
            elif isinstance(part, FrameChunk) and info is not None:
                faces += faces_in(models, part, info)
        out[f.path] = faces
    return out


@pytest.mark.slow
def test_frames_of_many_files_batched_together_give_each_file_its_own_faces(models):
    files = [_media(p) for p in (AOC_CLIPS[2], HAMILTON, LMM_PHOTO, AOC_CLIPS[1], AOC_PHOTO)]
    expected = _one_at_a_time(models, files)
    decoded = Decoder(SampleOptions(), workers=2).decode(files)
    got: dict[Path, list] = {}
    progress = 0
    for read in faces_by_file(decoded, models, batch=40, threads=2):
        if isinstance(read, FramesRead):
            progress += read.frames
        else:
            assert isinstance(read, FileRead) and read.error is None and read.ended
            assert read.file.path not in got  # each file once, whole
            got[read.file.path] = read.faces
    assert got.keys() == expected.keys()
    assert progress == sum(read_media_count(f) for f in files)
    for path, faces in expected.items():
        theirs = got[path]
        assert len(theirs) == len(faces), path
        if faces:
            where = np.array([(f.t, *f.box) for f in theirs])
            np.testing.assert_allclose(where, [(f.t, *f.box) for f in faces], atol=1e-3)
        for a, b in zip(theirs, faces, strict=True):
            assert float(a.vector @ b.vector) >= 0.9999
    assert workers_of(os.getpid()) == []


def read_media_count(f: MediaFile) -> int:
    return sum(
        len(p.times)
        for p in read_media(f.path, f.kind, SampleOptions())
        if isinstance(p, FrameChunk)
    )


def test_frames_in_ram_are_cleaned_up_even_after_a_killed_worker():
    before = set(frame_files.RAM.glob(f"{frame_files.PREFIX}{os.getpid()}-*"))
    decoder = Decoder(SampleOptions(), workers=1)
    events = decoder.decode([_media(HAMILTON), _media(AOC_CLIPS[2])])
    first = next(events)
    assert first.info is not None
    (folder,) = set(frame_files.RAM.glob(f"{frame_files.PREFIX}{os.getpid()}-*")) - before
    os.kill(decoder.pids()[0], signal.SIGKILL)  # dies with frames written, never read
    outcome = {e.file.path.name: e.error or "done" for e in events if e.done or e.error}
    assert "crashed" in outcome[HAMILTON.name] and outcome[AOC_CLIPS[2].name] == "done"
    assert not folder.exists()


def test_a_folder_left_by_a_killed_run_is_removed_by_the_next(tmp_path):
    if frame_files.make_folder() is None:
        pytest.skip("no /dev/shm here")
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = int(gone.stdout)  # a process id nobody has now
    left = frame_files.RAM / f"{frame_files.PREFIX}{dead}-x1"
    left.mkdir()
    (left / "1-1.raw").write_bytes(b"\0" * 1000)
    live = frame_files.RAM / f"{frame_files.PREFIX}{os.getpid()}-x2"
    live.mkdir()
    try:
        made = frame_files.make_folder()
        assert made is not None and made.is_dir()
        frame_files.remove_folder(made)
        assert not left.exists()
        assert live.exists()  # a running process's folder is its own
    finally:
        frame_files.remove_folder(live)
        frame_files.remove_folder(left)
