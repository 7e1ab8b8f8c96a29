"""The face a query means, and one embedding per face: a face read as a query embeds as
`ris index` embedded it, so every face of every dev photo, and the faces of a sampled frame of
every dev video, find themselves at similarity 0.99 or more."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.media.sampling import FrameChunk, MediaInfo, SampleOptions, read_video
from engine.models.faces import largest_first, query_order
from tests.conftest import IMAGES, VIDEOS

pytestmark = pytest.mark.slow

SELF = 0.99


def test_the_main_face_is_the_visible_one_toward_the_centre():
    # a bystander cut by the frame: MTCNN extends its box far past the photo, so it has the
    # largest raw box; a centred face of a fair size is the one meant
    cut = [-100, 80, 60, 240]  # raw area 25,600 px, of which 9,600 inside the photo
    whole = [200, 60, 300, 180]  # 12,000 px, all of it inside
    boxes = np.array([cut, whole], float)
    assert largest_first(boxes).tolist() == [0, 1]  # the rule before: the bystander
    assert query_order(boxes, 320, 240).tolist() == [1, 0]
    centred, corner = [120, 80, 200, 160], [0, 0, 90, 90]  # the centre outweighs a little size
    assert query_order(np.array([corner, centred], float), 320, 240).tolist() == [1, 0]


def test_every_face_of_every_dev_photo_finds_itself(dev_index):
    engine, _ = dev_index
    photos = sorted(p for p in IMAGES.rglob("*") if p.is_file())
    checked = 0
    for photo in photos:
        try:
            q = engine.read_query(photo)
        except Exception:  # noqa: BLE001 - photos with no face have nothing to find
            continue
        for n in range(1, len(q.faces) + 1):
            scores = {i.path: i.score for i in engine.search(q, face=n, top=1000).images}
            assert scores.get(str(photo.resolve()), 0) >= SELF, f"{photo} face {n}: {scores}"
            checked += 1
    assert checked >= len(photos) - 5 and checked > 60


def test_the_faces_of_a_frame_of_every_dev_video_find_themselves(dev_index, tmp_path):
    engine, _ = dev_index
    opts = engine.sample_options
    catalog = engine.internals.catalog
    checked = 0
    for video in sorted(VIDEOS.rglob("*.mp4")):
        record = catalog.file(str(video.resolve()))
        assert record is not None
        if not record.faces:
            continue
        faces = catalog.file_faces(record.id)
        t = float(faces.times[len(faces.times) // 2])  # a sampled moment with a face
        frame = _decoded_frame(video, opts, t)
        still = tmp_path / f"{checked}.png"
        Image.fromarray(frame).save(still)  # the very pixels the index saw, losslessly
        q = engine.read_query(still)
        best = 0.0
        for n in range(1, len(q.faces) + 1):
            for hit in engine.search(q, face=n, top=1000).videos:
                if hit.path == record.path:
                    best = max([best, *(m.similarity for m in hit.matches if abs(m.t - t) < 1e-3)])
        assert best >= SELF, f"{video} at {t:.2f} s: {best:.3f}"
        checked += 1
    assert checked >= 15


def _decoded_frame(video: Path, opts: SampleOptions, t: float) -> np.ndarray:
    """The frame `ris index` decoded at `t` (its size and rotation), as RGB."""
    for part in read_video(video, opts):
        if isinstance(part, FrameChunk):
            hit = np.flatnonzero(np.abs(part.times - t) < 1e-6)
            if len(hit):
                return part.frames[hit[0]]
        else:
            assert isinstance(part, MediaInfo)
    raise AssertionError(f"no sample at {t} in {video}")


def test_ris_faces_gives_the_embeddings_behind_ris_search(tmp_path, ris_env):
    import json

    from tests.conftest import HAMILTON, LMM_PHOTO, copy_media, run_ris

    group = IMAGES / "multi_face" / "ageitgey_face_recognition" / "kit_with_rose.jpg"
    media = tmp_path / "media"
    copy_media(media, HAMILTON, LMM_PHOTO, group)
    data = tmp_path / "data"
    assert run_ris(ris_env, "index", media, "--data-dir", data).returncode == 0

    def faces(*paths: Path) -> dict[str, dict]:
        run = run_ris(ris_env, "faces", *paths, "--json", "--data-dir", data)
        assert run.returncode == 0, run.stderr
        docs = [json.loads(line) for line in run.stdout.splitlines()]
        return {Path(d["path"]).name: d for d in docs}

    library = faces(media)
    assert set(library) == {p.name for p in media.iterdir()}
    video = library[f"{HAMILTON.parent.name}_{HAMILTON.name}"]
    assert video["kind"] == "video" and (video["width"], video["height"]) == (640, 360)
    assert any(f["chosen"] for f in video["faces"]) and not all(f["chosen"] for f in video["faces"])

    for query, face in ((LMM_PHOTO, 1), (group, 1), (group, 2)):
        (doc,) = faces(query).values()
        found = json.loads(
            run_ris(
                ris_env, "search", query, "--face", str(face), "--json", "--data-dir", data
            ).stdout
        )
        candidates = found["query"]["candidates"]
        chosen = [f["bbox"] for f in doc["faces"] if f["chosen"]]
        assert chosen == [candidates[0]["bbox"]]  # `chosen` is the face a query searches first
        (wanted,) = [f for f in doc["faces"] if f["bbox"] == candidates[face - 1]["bbox"]]
        q = np.asarray(wanted["embedding"])
        compared = 0
        for hit in found["videos"]:
            listed = library[Path(hit["path"]).name]["faces"]
            for m in hit["matches"]:
                (f,) = [f for f in listed if f["t"] == m["t"] and f["bbox"] == m["bbox"]]
                assert abs(float(q @ np.asarray(f["embedding"])) - m["similarity"]) <= 1e-4
                compared += 1
        for hit in found["images"]:
            listed = library[Path(hit["path"]).name]["faces"]
            (f,) = [f for f in listed if f["bbox"] == hit["bbox"]]
            assert abs(float(q @ np.asarray(f["embedding"])) - hit["score"]) <= 1e-4
            compared += 1
        assert compared >= (10 if query == LMM_PHOTO else 1)
