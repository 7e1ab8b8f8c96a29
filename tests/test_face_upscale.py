"""Face crops under FaceNet's 160 px are enlarged bilinearly (area repeated pixels before), in
both detectors alike; a library keeps the way its faces were enlarged, so queries match it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.library.catalog import Catalog
from engine.media.sampling import FrameChunk, MediaInfo, SampleOptions, read_media
from engine.models.face_boxes import crop_box, enlarged
from engine.models.face_models import FaceModels
from engine.models.numpy_faces import NumpyFaces
from engine.models.weights import file_weights
from engine.vocabulary import FaceUpscale, LibraryKey, MediaKind
from tests.conftest import IMAGES, WEIGHTS, copy_media, run_ris

GROUP = IMAGES / "multi_face" / "big_bang_theory" / "bbt1.jpg"  # small faces and larger ones


def _photo(path: Path) -> tuple[np.ndarray, float]:
    info = None
    for part in read_media(path, MediaKind.IMAGE, SampleOptions()):
        if isinstance(part, MediaInfo):
            info = part
        elif isinstance(part, FrameChunk) and info is not None:
            return part.frames, info.scale
    raise AssertionError(f"no frame in {path}")


@pytest.mark.slow
def test_only_faces_smaller_than_the_crop_embed_differently():
    frames, scale = _photo(GROUP)
    by = {
        way: FaceModels(file_weights(WEIGHTS), "cpu", margin=32, upscale=way) for way in FaceUpscale
    }
    found, smooth = by[FaceUpscale.BILINEAR].faces(frames, scale)
    again, blocky = by[FaceUpscale.AREA].faces(frames, scale)
    assert [d.box.tolist() for d in found] == [d.box.tolist() for d in again]
    height, width = frames.shape[1:3]
    small = enlarged(np.asarray([crop_box(d.box, 32, width, height) for d in found]))
    assert small.any(), "the photo should hold faces smaller than 160 px"
    cosines = (smooth * blocky).sum(1)
    assert (cosines[small] < 0.9999).all()
    assert np.allclose(cosines[~small], 1.0, atol=1e-6)
    # the numpy detector enlarges the same way in both modes
    for way, vectors in ((FaceUpscale.BILINEAR, smooth), (FaceUpscale.AREA, blocky)):
        _, mine = NumpyFaces(WEIGHTS, margin=32, upscale=way).faces(frames, scale)
        assert (mine * vectors).sum(1).min() > 0.99999


@pytest.mark.slow
def test_a_library_keeps_the_way_its_small_faces_were_enlarged(tmp_path, ris_env):
    media = tmp_path / "media"
    copy_media(media, GROUP)
    libraries = {way: tmp_path / way.value for way in FaceUpscale}
    for way, data in libraries.items():
        env = {**ris_env, "RIS_FACE_UPSCALE": way.value}
        done = run_ris(env, "index", str(media), "--data-dir", str(data))
        assert done.returncode == 0, done.stderr
        catalog = Catalog(data / "catalog.sqlite")
        assert catalog.meta(LibraryKey.FACE_UPSCALE) == way.value
        catalog.close()
    # each library is searched the way it was built, whatever the setting says now: every
    # face of the photo finds itself
    for way, data in libraries.items():
        other = next(w for w in FaceUpscale if w != way)
        env = {**ris_env, "RIS_FACE_UPSCALE": other.value, "RIS_SERVE": "off"}
        faces = 0
        while True:
            faces += 1
            found = run_ris(
                env, "search", str(GROUP), "--json", "--face", str(faces), "--data-dir", str(data)
            )
            if found.returncode != 0:
                assert "the query has" in found.stderr, found.stderr
                break
            (image,) = [i for i in json.loads(found.stdout)["images"] if not i["possible"]]
            assert image["score"] >= 0.9999, (way, faces, image)
        assert faces > 3


def test_an_unknown_way_of_enlarging_is_refused(ris_env, tmp_path):
    env = {**ris_env, "RIS_FACE_UPSCALE": "cubic"}
    done = run_ris(env, "status", "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert "RIS_FACE_UPSCALE must be bilinear or area, not 'cubic'" in done.stderr
