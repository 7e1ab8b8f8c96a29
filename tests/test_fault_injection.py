"""Fault injection: `ris index` killed with SIGKILL at 10 random moments, and its decoding
worker killed at 10 random moments (RIS_TEST_KILLS=N for more), over runs on real media. After every kill the library must
be sound: SQLite's integrity check passes, every indexed file holds exactly the faces and
vectors an uninterrupted run gives it, the vectors (caught up as a search catches them up)
equal the catalog's, and no process is left. Resumed to the end, the search answers are those
of an uninterrupted run, byte for byte.

The killed runs use the parallel pipeline (two decoders with files interleaved, batches of
several files detected in two threads); the reference is one decoder, one thread, so the
parallel run is held to the plain one's faces too.

The moments come from a seeded generator (printed on failure), so a failure can be replayed.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.library.catalog import Catalog
from engine.library.stores.base import reconcile
from engine.library.stores.usearch import UsearchStore
from tests.conftest import AOC_CLIPS, AOC_PHOTO, HAMILTON, LMM_PHOTO, copy_media, kills, run_ris
from tests.test_decoder_faults import wait_for, workers_of

pytestmark = pytest.mark.slow

SEED = 20261125
KILLS = kills(10)
QUERIES = (LMM_PHOTO, AOC_PHOTO)


def index_cmd(media: Path, data: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "engine.frontends.cli",
        "index",
        str(media),
        "--data-dir",
        str(data),
        *extra,
    ]


def faces_by_file(data: Path) -> dict[str, tuple[str, np.ndarray]]:
    """Each file's status and its faces' vectors, in the order they appear (time, then box)."""
    db = sqlite3.connect(f"file:{data / 'catalog.sqlite'}?mode=ro", uri=True)
    out = {}
    for file_id, path, status in db.execute("SELECT id, path, status FROM files"):
        rows = db.execute(
            "SELECT vector FROM faces WHERE file_id = ? ORDER BY t, x1, y1", (file_id,)
        ).fetchall()
        vectors = (
            np.stack([np.frombuffer(r[0], np.float32) for r in rows])
            if rows
            else np.zeros((0, 512))
        )
        out[path] = (status, vectors)
    db.close()
    return out


def parallel(env: dict[str, str]) -> dict[str, str]:
    return {**env, "RIS_DECODE_WORKERS": "2", "RIS_DETECT_THREADS": "2", "RIS_FRAME_BATCH": "32"}


def answers(env: dict[str, str], data: Path) -> dict[str, str]:
    return {str(q): run_ris(env, "search", q, "--json", "--data-dir", data).stdout for q in QUERIES}


def assert_sound(
    data: Path, reference: dict[str, tuple[str, np.ndarray]], pid: int, note: str
) -> None:
    assert wait_for(lambda: not workers_of(pid), 10), f"{note}: a decoder outlived its run"
    if not (data / "catalog.sqlite").exists():
        return  # killed before the catalog was made: nothing to check
    db = sqlite3.connect(f"file:{data / 'catalog.sqlite'}?mode=ro", uri=True)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", note
    db.close()
    for path, (status, vectors) in faces_by_file(data).items():
        if status == "indexed":  # all or nothing: exactly what an uninterrupted run holds
            ref_status, ref_vectors = reference[path]
            assert ref_status == "indexed", f"{note}: {path}"
            assert vectors.shape == ref_vectors.shape, f"{note}: {path}"
            np.testing.assert_allclose(vectors, ref_vectors, atol=1e-5, err_msg=f"{note}: {path}")
        else:
            assert len(vectors) == 0, f"{note}: a failed file holds faces: {path}"
    catalog = Catalog(data / "catalog.sqlite", read_only=True)
    try:
        store = UsearchStore(data / "faces.usearch")
        assert store.version <= catalog.version, note  # never ahead of the catalog
        reconcile(store, catalog)  # what a search does first
        ids = catalog.face_ids()
        assert sorted(store.keys().tolist()) == ids.tolist(), note
        if len(ids):
            np.testing.assert_allclose(store.get(ids), catalog.vectors(ids), atol=1e-6)
    finally:
        catalog.close()


def touch_all(media: Path, step: int) -> None:
    """Change every file's modification time, so the next run has every file to do again."""
    for f in media.iterdir():
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + step * 1_000_000_000))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, ris_env):
    root = tmp_path_factory.mktemp("faults")
    ris_env = {**ris_env, "RIS_DECODE_WORKERS": "1", "RIS_DETECT_THREADS": "1"}
    media = root / "media"
    copy_media(media, AOC_CLIPS[1], AOC_CLIPS[2], HAMILTON, LMM_PHOTO, AOC_PHOTO)
    started = time.monotonic()
    run = subprocess.run(
        index_cmd(media, root / "ref"), env=ris_env, capture_output=True, text=True
    )
    seconds = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    by_file = faces_by_file(root / "ref")
    assert all(status == "indexed" for status, _ in by_file.values())
    return media, by_file, answers(ris_env, root / "ref"), seconds


def test_ris_index_killed_at_random_moments(reference, tmp_path, ris_env):
    media, by_file, expected, seconds = reference
    ris_env = parallel(ris_env)
    rng = random.Random(SEED)
    data = tmp_path / "data"
    completed = 0
    for kill in range(KILLS):
        at = rng.uniform(0.3, seconds)
        note = f"kill {kill + 1} at {at:.2f} s (seed {SEED})"
        proc = subprocess.Popen(
            index_cmd(media, data), env=ris_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            proc.wait(timeout=at)
            completed += 1  # it finished first: give the next run everything to do again
            assert proc.returncode == 0, proc.stderr.read() if proc.stderr else note
            touch_all(media, kill + 1)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert_sound(data, by_file, proc.pid, note)
    assert completed < KILLS // 2, "most kills came after the run ended: nothing was tested"

    run = run_ris(ris_env, "index", media, "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert faces_by_file(data).keys() == by_file.keys()
    assert answers(ris_env, data) == expected


def test_its_decoder_killed_at_random_moments(reference, tmp_path, ris_env):
    media, by_file, expected, _ = reference
    ris_env = parallel(ris_env)
    rng = random.Random(SEED + 1)
    data = tmp_path / "data"
    assert run_ris(ris_env, "index", media, "--data-dir", data).returncode == 0
    killed = rounds = 0
    while killed < KILLS:  # runs over every file again, killing decoders, until KILLS are killed
        rounds += 1
        assert rounds <= 2 * KILLS, f"only {killed} decoders could be killed"
        touch_all(media, rounds)
        proc = subprocess.Popen(
            index_cmd(media, data, "--retry-failed"),
            env=ris_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        while proc.poll() is None and killed < KILLS:
            if not workers_of(proc.pid):
                time.sleep(0.05)
                continue
            # a random moment of the decoding, which runs ahead of detection: a second or two
            time.sleep(rng.uniform(0.0, 0.5))
            workers = workers_of(proc.pid)
            if workers and proc.poll() is None:
                os.kill(rng.choice(workers), signal.SIGKILL)
                killed += 1
                time.sleep(0.2)  # a fresh worker takes the next file
        _, err = proc.communicate(timeout=600)
        note = f"round {rounds} (seed {SEED + 1})"
        assert proc.returncode == 0, f"{note}: {err}"  # the run finishes whatever its decoder does
        assert_sound(data, by_file, proc.pid, note)

    run = run_ris(ris_env, "index", media, "--retry-failed", "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert all(status == "indexed" for status, _ in faces_by_file(data).values())
    assert answers(ris_env, data) == expected
