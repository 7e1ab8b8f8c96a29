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
    assert "0 file records and" in run.stderr  # the page held faces: no record lost
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


def flip_in_a_vector(catalog, path_like: str) -> int:
    """Flip one exponent bit inside the stored vector of a face of the file named like
    `path_like`, as a bad disk sector or a stray write would: SQLite's own check still passes.
    Returns the face's id."""
    db = sqlite3.connect(catalog)
    face, blob = db.execute(
        "SELECT faces.id, vector FROM faces JOIN files ON files.id = faces.file_id "
        "WHERE files.path LIKE ? ORDER BY faces.id LIMIT 1",
        (f"%{path_like}%",),
    ).fetchone()
    db.close()
    raw = bytearray(catalog.read_bytes())
    at = raw.index(blob) + 4 * 7 + 3  # the high byte (sign, exponent) of the 8th value
    raw[at] ^= 0x40
    catalog.write_bytes(bytes(raw))
    db = sqlite3.connect(catalog)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    return face


def test_a_damaged_vector_in_the_catalog_is_blamed_and_restored_from_the_sound_copy(
    indexed, tmp_path, ris_env
):
    """Issue 26: a flipped byte inside a catalog vector was blamed on the vector file, and
    `ris repair` copied the damaged vector (norm 6.8e36) over the good copy."""
    data, _, answers = fresh_copy(indexed, tmp_path)
    flip_in_a_vector(data / "catalog.sqlite", "lin-manuel")

    run = run_ris(ris_env, "check", "--data-dir", data)
    assert run.returncode == 1
    assert "1 face vectors fail their checksum" in run.stdout, run.stdout
    assert "lin-manuel-miranda.png" in run.stdout.split("fail their checksum")[1]

    run = run_ris(ris_env, "repair", "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert "1 damaged vectors in the catalog: 1 restored" in run.stderr
    check = run_ris(ris_env, "check", "--data-dir", data, "--json")
    assert check.returncode == 0, check.stdout
    assert json.loads(check.stdout)["damaged_vectors"] == 0
    assert search_all(ris_env, data, answers) == answers  # the photo finds itself again


def test_a_damaged_vector_without_a_sound_copy_has_its_file_embedded_again(
    indexed, tmp_path, ris_env
):
    data, media, answers = fresh_copy(indexed, tmp_path)
    flip_in_a_vector(data / "catalog.sqlite", "lin-manuel")
    (data / "faces.usearch").write_bytes(b"\0" * 64)  # the other copy is gone too

    run = run_ris(ris_env, "repair", "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert "0 restored" in run.stderr
    assert "lin-manuel-miranda.png" in run.stderr.split("embedded again")[1]
    assert run_ris(ris_env, "check", "--data-dir", data).returncode == 0

    run = run_ris(ris_env, "index", media, "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert "1 to index, 2 unchanged" in run.stderr
    assert search_all(ris_env, data, answers) == answers


def test_a_lost_files_page_is_reported_exactly_and_the_files_indexed_again(
    indexed, tmp_path, ris_env
):
    """Issue 26: repair of a damaged files page said "1 file records and 0 faces were
    unreadable" where 3 records and 3 faces were lost."""
    data, media, answers = fresh_copy(indexed, tmp_path)
    catalog = data / "catalog.sqlite"
    db = sqlite3.connect(catalog)
    (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'files'").fetchone()
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    paths = sorted(p for (p,) in db.execute("SELECT path FROM files"))
    (faces,) = db.execute("SELECT count(*) FROM faces").fetchone()
    db.close()
    assert root > 1 and len(paths) == 3
    with open(catalog, "r+b") as f:  # the files table's only page: every record is lost
        f.seek((root - 1) * page_size)
        f.write(bytes(range(256)) * (page_size // 256))

    run = run_ris(ris_env, "search", LMM_PHOTO, "--data-dir", data)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "ris repair" in run.stderr

    run = run_ris(ris_env, "repair", "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert f"3 file records and {faces} faces were lost" in run.stderr, run.stderr
    listed = run.stderr.split("file records were lost")[1].split("\nris: ")[0]
    assert all(path in listed for path in paths), listed
    assert run_ris(ris_env, "check", "--data-dir", data).returncode == 0

    run = run_ris(ris_env, "index", media, "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert "3 to index, 0 unchanged" in run.stderr
    assert search_all(ris_env, data, answers) == answers
