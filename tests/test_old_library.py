"""A library written by an earlier ris (e3fb765: before engine/stores/ and the vocabulary enums)
opens, searches with the same answer and re-indexes incrementally today.

The fixture (tests/fixtures/library_e3fb765, see its README) holds that ris's catalog and
usearch file for three dev files. The test lays the same files out again as a moved library:
the same bytes with the modification times the catalog recorded, its paths pointed at them.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import AOC_CLIPS, DEV
from conftest import run_ris as ris

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).parent / "fixtures" / "library_e3fb765"


@pytest.fixture
def old_library(tmp_path: Path) -> tuple[Path, Path]:
    """(data dir, media folder) of the old library, moved under tmp_path."""
    about = json.loads((FIXTURE / "library.json").read_text())
    data, media = tmp_path / "data", tmp_path / "media"
    shutil.copytree(FIXTURE / "data", data)
    media.mkdir()
    db = sqlite3.connect(data / "catalog.sqlite")
    with db:
        db.execute("UPDATE files SET path = replace(path, ?, ?)", (about["media_root"], str(media)))
    recorded = dict(db.execute("SELECT path, mtime_ns FROM files").fetchall())
    db.close()
    for name, source in about["media"].items():
        target = media / name
        shutil.copyfile(DEV / source, target)
        os.utime(target, ns=(recorded[str(target)], recorded[str(target)]))
    return data, media


def test_a_library_from_e3fb765_opens_searches_alike_and_reindexes_incrementally(
    old_library: tuple[Path, Path], ris_env: dict[str, str]
):
    data, media = old_library
    about = json.loads((FIXTURE / "library.json").read_text())
    query = DEV / about["query"]

    status = ris(ris_env, "status", "--json", "--data-dir", str(data))
    assert status.returncode == 0, status.stderr
    st = json.loads(status.stdout)
    assert (st["videos"], st["images"], st["faces"]) == (2, 1, 14) and not st["failed"]
    assert st["store"].startswith("usearch ")
    assert {status for _, status, _ in st["files"]} == {"indexed"}

    # the same matches as the ris that wrote it, paths aside; it knew no possible matches, so
    # they are left out here and its documents lack the fields that mark them
    found = ris(
        ris_env, "search", str(query), "--json", "--possible-margin", "0", "--data-dir", str(data)
    )
    assert found.returncode == 0, found.stderr
    then = json.loads((FIXTURE / "search_ref_jpg.json").read_text())
    now = json.loads(found.stdout)
    for video in then["videos"]:
        video["path"] = video["path"].replace(about["media_root"], str(media))
        video["possible"] = False
        for segment in video["segments"]:
            segment["possible"] = False  # (a field added since)
    for image in then["images"]:
        image["path"] = image["path"].replace(about["media_root"], str(media))
        image["possible"] = False
    then["query"]["path"] = now["query"]["path"]
    then["query"]["possible"] = None
    assert now["videos"] and now["videos"][0]["path"] == str(media / "aoc_gt.mp4")
    assert now == then

    # the vectors written then are trusted as they are: nothing to rebuild
    from engine.library.catalog import Catalog
    from engine.library.stores.usearch import UsearchStore
    from engine.vocabulary import LibraryKey

    catalog, store = Catalog(data / "catalog.sqlite"), UsearchStore(data / "faces.usearch")
    assert store.version == catalog.version and len(store) == catalog.face_count() == 14
    catalog.close()

    # a rerun re-embeds nothing; a new file is the only one indexed
    again = ris(ris_env, "index", str(media), "--data-dir", str(data))
    assert again.returncode == 0, again.stderr
    assert "3 files found: 0 to index, 3 unchanged" in again.stderr
    shutil.copyfile(AOC_CLIPS[1], media / "aoc_3.mp4")
    more = ris(ris_env, "index", str(media), "--data-dir", str(data))
    assert more.returncode == 0, more.stderr
    assert "4 files found: 1 to index, 3 unchanged" in more.stderr
    # its small faces were enlarged by area, and the new file's are too: one way per library
    catalog = Catalog(data / "catalog.sqlite")
    assert catalog.meta(LibraryKey.FACE_UPSCALE) == "area"
    catalog.close()
    after = ris(ris_env, "search", str(query), "--json", "--data-dir", str(data))
    paths = [v["path"] for v in json.loads(after.stdout)["videos"]]
    assert set(paths[:2]) == {str(media / "aoc_gt.mp4"), str(media / "aoc_3.mp4")}
