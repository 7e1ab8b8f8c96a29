"""File identity across machines (engine/library/roots.py): a PostgreSQL library keeps a file
under a named root as the root and its path under it, so one archive mounted at different
places on different machines is one library; a root not mounted here is listed as such and
never taken for deleted, nor is an empty mount point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import AOC_PHOTO, LMM_PHOTO, run_ris

from engine.errors import UserError
from engine.library.postgres_catalog import SCHEMA
from engine.library.roots import Roots


def test_roots_name_paths_under_them_and_find_them_where_mounted(tmp_path: Path):
    nas, photos = tmp_path / "nas", tmp_path / "nas" / "photos"
    roots = Roots.parse(f"archive={nas}, pics={photos}")
    assert roots.key(f"{nas}/2024/a.mp4") == "archive:2024/a.mp4"
    assert roots.key(f"{photos}/b.jpg") == "pics:b.jpg"  # the deeper root wins
    assert roots.key(f"{tmp_path}/nasty/c.jpg") == f"{tmp_path}/nasty/c.jpg"  # not a prefix
    assert roots.local("archive:2024/a.mp4") == f"{nas}/2024/a.mp4"
    assert roots.local(f"{tmp_path}/x.jpg") == f"{tmp_path}/x.jpg"
    assert Roots().local("archive:2024/a.mp4") == "archive:2024/a.mp4"  # not mounted here
    odd = "archive:über/\udcff.mp4"  # any name: bytes that are not UTF-8 included
    assert roots.key(roots.local(odd)) == odd
    for bad in ("archive", "=/x", "a b=/x", "a=/x,a=/y", "a=", "a:b=/x"):
        with pytest.raises(UserError, match="--roots"):
            Roots.parse(bad)


def _rows(uri: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as db:
        return db.execute(sql).fetchall()  # type: ignore[arg-type]


def _photos(result: str) -> list[dict]:
    return json.loads(result)["images"]


@pytest.mark.slow
def test_one_archive_mounted_at_different_places_is_one_library(tmp_path: Path, pg_uri, ris_env):
    share_a = tmp_path / "machine-a" / "mnt" / "nas"
    (share_a / "people").mkdir(parents=True)
    for photo in (AOC_PHOTO, LMM_PHOTO):
        shutil.copy2(photo, share_a / "people" / f"{photo.parent.parent.name}{photo.suffix}")
    env = {**ris_env, "RIS_CATALOG": pg_uri}
    a = {**env, "RIS_ROOTS": f"archive={share_a}"}
    done = run_ris(a, "index", str(share_a), "--data-dir", str(tmp_path / "a"))
    assert done.returncode == 0, done.stderr
    stored = sorted(bytes(r[0]) for r in _rows(pg_uri, f"SELECT path FROM {SCHEMA}.files"))
    assert stored == [
        b"archive:people/Alexandria_Ocasio-Cortez.jpg",
        b"archive:people/Lin-Manuel_Miranda.png",
    ]

    # machine B mounts the same share elsewhere: the same files, nothing embedded again
    share_b = tmp_path / "machine-b" / "Volumes" / "nas"
    shutil.copytree(share_a, share_b)  # (copy2: the same sizes and times, as one share)
    b = {**env, "RIS_ROOTS": f"archive={share_b}"}
    again = run_ris(b, "index", str(share_b), "--data-dir", str(tmp_path / "b"))
    assert again.returncode == 0 and "nothing to re-embed" in again.stderr, again.stderr
    found = run_ris(b, "search", str(AOC_PHOTO), "--json", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    first = _photos(found.stdout)[0]
    assert first["path"] == str(share_b / "people" / "Alexandria_Ocasio-Cortez.jpg")
    assert "reachable" not in first

    # a searcher where the share is not mounted: listed by root, marked, never dropped
    elsewhere = run_ris(env, "search", str(AOC_PHOTO), "--json", cwd=tmp_path)
    assert elsewhere.returncode == 0, elsewhere.stderr
    photos = _photos(elsewhere.stdout)
    assert photos[0]["path"] == "archive:people/Alexandria_Ocasio-Cortez.jpg"
    assert photos[0]["reachable"] is False
    text = run_ris(env, "search", str(AOC_PHOTO), cwd=tmp_path)
    assert "archive:people/Alexandria_Ocasio-Cortez.jpg  [not reachable here]" in text.stdout

    # indexing elsewhere with no roots, or an empty mount point, deletes nothing of it
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy2(AOC_PHOTO, other / "aoc.jpg")
    assert run_ris(env, "index", str(other), "--data-dir", str(tmp_path / "c")).returncode == 0
    share_b.rename(share_b.with_name("away"))
    share_b.mkdir()  # the share unmounted: its mount point is an empty folder
    unmounted = run_ris(b, "index", str(share_b), "--data-dir", str(tmp_path / "b"))
    assert "is its share or disk mounted?" in unmounted.stderr, unmounted.stderr
    assert "Traceback" not in unmounted.stderr
    statuses = dict(
        (bytes(r[0]), r[1]) for r in _rows(pg_uri, f"SELECT path, status FROM {SCHEMA}.files")
    )
    assert statuses == {
        b"archive:people/Alexandria_Ocasio-Cortez.jpg": "indexed",
        b"archive:people/Lin-Manuel_Miranda.png": "indexed",
        str(other / "aoc.jpg").encode(): "indexed",
    }

    # the share back, a file renamed on it: the same record under its new name, not embedded
    share_b.rmdir()
    share_b.with_name("away").rename(share_b)
    ids = {bytes(r[0]): r[1] for r in _rows(pg_uri, f"SELECT path, id FROM {SCHEMA}.files")}
    (share_b / "people" / "Lin-Manuel_Miranda.png").rename(share_b / "people" / "lmm.png")
    renamed = run_ris(b, "index", str(share_b), "--data-dir", str(tmp_path / "b"))
    assert "1 moved or renamed" in renamed.stderr and "nothing to re-embed" in renamed.stderr
    now = {bytes(r[0]): r[1] for r in _rows(pg_uri, f"SELECT path, id FROM {SCHEMA}.files")}
    assert now[b"archive:people/lmm.png"] == ids[b"archive:people/Lin-Manuel_Miranda.png"]
    assert b"archive:people/Lin-Manuel_Miranda.png" not in now
