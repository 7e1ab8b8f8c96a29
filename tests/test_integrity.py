"""Damage inside the data files is found, reported with what to do, and repaired without
throwing anything away: a vector file overwritten in place, a damaged catalog page, through
`ris check`, `ris search`, `ris repair` and `ris index` as a user runs them."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from tests.conftest import AOC_PHOTO, HAMILTON, LMM_PHOTO, copy_media, run_ris

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, ris_env):
    """A small library and the answers it gives before any damage."""
    root = tmp_path_factory.mktemp("integrity")
    copy_media(root / "media", HAMILTON, LMM_PHOTO, AOC_PHOTO)
    data = root / "data"
    run = run_ris(ris_env, "index", root / "media", "--data-dir", data)
    assert run.returncode == 0, run.stderr
    answers = {
        q: json.loads(run_ris(ris_env, "search", q, "--json", "--data-dir", data).stdout)
        for q in (LMM_PHOTO, AOC_PHOTO)
    }
    return root, answers


def fresh_copy(indexed, tmp_path):
    root, answers = indexed
    shutil.copytree(root / "data", tmp_path / "data")
    return tmp_path / "data", root / "media", answers


def search_all(env, data, answers):
    return {
        q: json.loads(run_ris(env, "search", q, "--json", "--data-dir", data).stdout)
        for q in answers
    }


def test_a_vector_file_overwritten_in_place_is_detected_and_never_trusted(
    indexed, tmp_path, ris_env
):
    data, _, answers = fresh_copy(indexed, tmp_path)
    vectors = data / "faces.usearch"
    size = vectors.stat().st_size
    with open(vectors, "r+b") as f:  # 20 KB of zeros in the middle: same size, same sidecar
        f.seek(size // 3)
        f.write(bytes(min(20_000, size // 3)))
    assert vectors.stat().st_size == size

    run = run_ris(ris_env, "check", "--data-dir", data)
    assert run.returncode == 1
    assert "does not match its checksum" in run.stdout and "ris repair" in run.stdout

    assert search_all(ris_env, data, answers) == answers  # rebuilt from the catalog, not trusted

    run = run_ris(ris_env, "repair", "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert "catalog was sound" in run.stderr
    assert run_ris(ris_env, "check", "--data-dir", data).returncode == 0
    assert search_all(ris_env, data, answers) == answers


def test_a_damaged_catalog_page_is_reported_then_repaired_and_reindexed(indexed, tmp_path, ris_env):
    data, media, answers = fresh_copy(indexed, tmp_path)
    catalog = data / "catalog.sqlite"
    db = sqlite3.connect(catalog)
    (blob,) = db.execute(
        "SELECT vector FROM faces JOIN files ON files.id = faces.file_id "
        "WHERE files.path LIKE '%hamilton%' ORDER BY faces.id LIMIT 1 OFFSET 5"
    ).fetchone()
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    raw = catalog.read_bytes()
    page = raw.index(blob) // page_size  # the page holding one of the video's faces
    with open(catalog, "r+b") as f:
        f.seek(page * page_size)
        f.write(bytes(range(256)) * (page_size // 256))

    run = run_ris(ris_env, "check", "--data-dir", data)
    assert run.returncode == 1
    assert "DAMAGED" in run.stdout and "ris repair" in run.stdout

    run = run_ris(ris_env, "search", LMM_PHOTO, "--data-dir", data)
    if run.returncode != 0:  # whatever fails on the damage says so in one line, and what to do
        assert "Traceback" not in run.stderr and "ris repair" in run.stderr

    run = run_ris(ris_env, "repair", "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert "recovered 2 files" in run.stderr
    assert "hamilton" in run.stderr.split("embedded again")[1]
    kept = [
        p for p in data.glob("catalog.sqlite.damaged-*") if not p.name.endswith(("-wal", "-shm"))
    ]
    assert len(kept) == 1 and kept[0].read_bytes()[: page_size * page] == raw[: page_size * page]
    assert run_ris(ris_env, "check", "--data-dir", data).returncode == 0

    run = run_ris(ris_env, "index", media, "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert "1 to index, 2 unchanged" in run.stderr
    assert search_all(ris_env, data, answers) == answers
