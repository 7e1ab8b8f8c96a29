"""A run killed with SIGKILL midway, then run again, equals an uninterrupted run."""

import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from engine.library.catalog import Catalog
from engine.library.stores.usearch import UsearchStore
from tests.conftest import AOC_CLIPS, IMAGES, VIDEOS, copy_media

pytestmark = pytest.mark.slow
FILES = [
    VIDEOS
    / "unlabeled"
    / "HDTF_RD_Radio10"
    / "tencent-ailab_V-Express"
    / "RD_Radio10_0_clip_0.mp4",
    AOC_CLIPS[2],
    VIDEOS / "unlabeled" / "KwaiVGI_LivePortrait" / "driving" / "d5.mp4",
    VIDEOS / "edge_cases" / "justadudewhohacks_face-api.js" / "video.mp4",
    IMAGES / "Paul_Rudd" / "timesler_facenet-pytorch" / "1.jpg",
    IMAGES / "Rose_Leslie" / "ageitgey_face_recognition" / "img2.jpg",
]


def index_cmd(media, data):
    return [
        sys.executable,
        "-m",
        "engine.frontends.cli",
        "index",
        str(media),
        "--data-dir",
        str(data),
    ]


def indexed_count(data):
    try:
        db = sqlite3.connect(f"file:{data / 'catalog.sqlite'}?mode=ro", uri=True, timeout=1)
        return db.execute("SELECT COUNT(*) FROM files WHERE status = 'indexed'").fetchone()[0]
    except sqlite3.Error:
        return 0


def snapshot(data):
    cat = Catalog(data / "catalog.sqlite")
    files = sorted((f.path, f.status, f.faces, f.samples) for f in cat.files())
    ids = cat.face_ids()
    vectors = UsearchStore(data / "faces.usearch")
    fresh = vectors.version == cat.version
    keys = np.asarray(vectors.index.keys, dtype=np.int64)
    return files, ids, keys, fresh, cat


def test_sigkill_midway_then_rerun_equals_an_uninterrupted_run(tmp_path, ris_env):
    media = tmp_path / "media"
    copy_media(media, *FILES)
    ref = subprocess.run(
        index_cmd(media, tmp_path / "ref"), env=ris_env, capture_output=True, text=True
    )
    assert ref.returncode == 0, ref.stderr

    data = tmp_path / "crash"
    # one chunk per detection batch: these short files then commit one by one (with the
    # default, a batch or two holds them all), and the kill lands between commits
    small = {**ris_env, "RIS_FRAME_BATCH": "1"}
    proc = subprocess.Popen(index_cmd(media, data), env=small, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while indexed_count(data) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed midway"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = indexed_count(data)
    assert 2 <= killed_at < len(FILES)

    again = subprocess.run(index_cmd(media, data), env=ris_env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"{killed_at} unchanged" in again.stderr  # finished files were kept, not redone

    ref_files, ref_ids, _, _, _ = snapshot(tmp_path / "ref")
    files, ids, keys, fresh, cat = snapshot(data)
    assert files == ref_files  # same files, same statuses, same faces per file
    assert len(ids) == len(ref_ids)
    assert len(np.unique(keys)) == len(keys) == len(ids)  # no duplicate vectors
    assert sorted(keys.tolist()) == ids.tolist() and fresh
    stored = cat.vectors(ids[:5])
    np.testing.assert_allclose(np.linalg.norm(stored, axis=1), 1.0, atol=1e-5)
