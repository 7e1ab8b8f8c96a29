import os
import sqlite3

import numpy as np
import pytest
from conftest import media_info

from engine.errors import CatalogError
from engine.library.catalog import SCHEMA_VERSION, Catalog
from engine.models.faces import NewFace
from engine.vocabulary import FileStatus, MediaKind


def face(t, seed):
    v = np.random.default_rng(seed).normal(size=512).astype(np.float32)
    return NewFace(t, (1.0, 2.0, 30.0, 40.0), 0.99, v / np.linalg.norm(v))


def test_file_and_faces_roundtrip(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    file_id, removed, new = cat.save_indexed(
        "/v.mp4", 10, 5, media_info("video", 16, 8.0, 0.5), [face(0.0, 1), face(0.5, 2)]
    )
    assert len(removed) == 0 and len(new) == 2
    rec = cat.file("/v.mp4")
    assert rec.id == file_id and rec.status == FileStatus.INDEXED and rec.kind == MediaKind.VIDEO
    assert rec.faces == 2 and rec.duration == 8.0 and rec.samples == 16 and rec.step == 0.5
    rows = cat.faces(new)
    assert rows.times.tolist() == [0.0, 0.5] and rows.boxes[0].tolist() == [1, 2, 30, 40]
    np.testing.assert_array_equal(cat.vectors(new)[1], face(0.5, 2).vector)


def test_reindexing_a_file_replaces_its_faces_with_new_keys(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    _, _, first = cat.save_indexed("/v.mp4", 10, 5, media_info(), [face(0, 1), face(1, 2)])
    _, removed, second = cat.save_indexed("/v.mp4", 11, 6, media_info(), [face(0, 3)])
    assert sorted(removed.tolist()) == sorted(first.tolist())
    assert set(second.tolist()).isdisjoint(first.tolist())  # keys are never reused
    assert cat.face_count() == 1 and cat.face_ids().tolist() == second.tolist()


def test_failure_is_recorded_and_removal_forgets(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    _, _, keys = cat.save_indexed("/a.mp4", 1, 1, media_info(), [face(0, 1)])
    assert cat.save_failed("/a.mp4", MediaKind.VIDEO, 2, 2, "damaged").tolist() == keys.tolist()
    assert cat.file("/a.mp4").error == "damaged" and cat.face_count() == 0
    assert cat.files(FileStatus.FAILED)[0].status == "failed"  # stored as the plain string
    cat.remove(["/a.mp4"])
    assert cat.file("/a.mp4") is None


def test_every_change_bumps_the_version(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    v0 = cat.version
    cat.save_indexed("/a.jpg", 1, 1, media_info("image"), [face(0, 1)])
    cat.save_failed("/b.jpg", MediaKind.IMAGE, 1, 1, "bad")
    cat.remove(["/a.jpg"])
    assert cat.version == v0 + 3


def test_a_failed_transaction_leaves_nothing_behind(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    bad = NewFace(0.0, (1.0, 2.0, 3.0), 0.9, np.zeros(512, np.float32))  # box too short
    with pytest.raises(sqlite3.Error):
        cat.save_indexed("/a.mp4", 1, 1, media_info(), [face(0, 1), bad])
    assert cat.file("/a.mp4") is None and cat.face_count() == 0


def test_schema_is_versioned_and_newer_is_refused(tmp_path):
    path = tmp_path / "c.sqlite"
    Catalog(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(CatalogError, match="newer"):
        Catalog(path)


def test_a_file_that_is_not_sqlite_gives_a_clear_error(tmp_path):
    (tmp_path / "c.sqlite").write_text("not a database " * 100)
    with pytest.raises(CatalogError, match="is damaged") as caught:
        Catalog(tmp_path / "c.sqlite")
    assert "ris repair" in caught.value.hint and "afresh" not in caught.value.hint


def test_an_empty_catalog_file_is_an_error_not_a_new_library(tmp_path):
    (tmp_path / "c.sqlite").write_bytes(b"")
    with pytest.raises(CatalogError, match="empty"):
        Catalog(tmp_path / "c.sqlite")
    assert (tmp_path / "c.sqlite").stat().st_size == 0  # left as it was


def test_the_catalog_and_its_folder_are_private(tmp_path):
    Catalog(tmp_path / "lib" / "c.sqlite").close()
    assert (tmp_path / "lib").stat().st_mode & 0o777 == 0o700 & ~_umask()
    assert (tmp_path / "lib" / "c.sqlite").stat().st_mode & 0o777 == 0o600 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def schema_2_catalog(path, vectors):
    """A catalog as ris wrote it before vectors had checksums (schema 2)."""
    cat = Catalog(path)
    cat.save_indexed("/a.jpg", 1, 1, media_info("image"), [face(0, 1), face(0, 2)])
    cat.close()
    db = sqlite3.connect(path)
    with db:
        db.execute("ALTER TABLE faces DROP COLUMN vector_crc")
        db.execute("ALTER TABLE files DROP COLUMN fingerprint")
        db.execute("ALTER TABLE files DROP COLUMN cuts")  # schema 6's
        db.execute("DROP TABLE appearances")  # schema 5's
        db.execute("DROP TABLE people")
        for key, vector in vectors.items():
            db.execute("UPDATE faces SET vector = ? WHERE id = ?", (vector.tobytes(), key))
        db.execute("PRAGMA user_version = 2")
    db.close()


def test_schema_3_gives_every_stored_vector_its_checksum(tmp_path):
    path = tmp_path / "c.sqlite"
    big = face(0, 1).vector * np.float32(1e30)  # damaged before the upgrade: not unit length
    schema_2_catalog(path, {2: big})
    reader = Catalog(path, read_only=True)  # a reader of an old catalog checks norms alone
    assert not reader.vectors_have_checksums and reader.unsound_vectors().tolist() == [2]
    reader.close()
    cat = Catalog(path)  # its owner upgrades it: each row's checksum of the bytes it holds
    assert cat.vectors_have_checksums and cat.unsound_vectors().tolist() == [2]
    _, _, keys = cat.save_indexed("/b.jpg", 1, 1, media_info("image"), [face(0, 3)])
    assert cat.unsound_vectors().tolist() == [2]
    db = sqlite3.connect(path)
    (blob,) = db.execute("SELECT vector FROM faces WHERE id = ?", (int(keys[0]),)).fetchone()
    tiny = bytearray(blob)
    tiny[0] ^= 0x01  # the lowest bit of one value: still unit length, but not what was stored
    with db:
        db.execute("UPDATE faces SET vector = ? WHERE id = ?", (bytes(tiny), int(keys[0])))
    db.close()
    assert cat.unsound_vectors().tolist() == [2, int(keys[0])]
    cat.restore_vectors(np.asarray([2]), face(0, 1).vector[None])
    assert cat.unsound_vectors().tolist() == [int(keys[0])]
    assert cat.files_of_faces(np.asarray([int(keys[0])])) == ["/b.jpg"]


def test_a_videos_shot_cuts_are_kept_and_an_older_catalog_reads_as_having_none(tmp_path):
    """The cuts an index run read are kept with the file, replaced when it is indexed again;
    a catalog from before they were kept (schema 5) opened read-only answers with none, and
    its owner's ris upgrades it."""
    path = tmp_path / "c.sqlite"
    cat = Catalog(path)
    video, _, _ = cat.save_indexed(
        "/v.mp4", 1, 1, media_info("video", 20, 10.0, 0.5), [face(0, 1)], cuts=np.array([4.5])
    )
    photo, _, _ = cat.save_indexed("/p.jpg", 1, 1, media_info("image"), [face(0, 2)])
    assert {k: c.tolist() for k, c in cat.cuts([video, photo]).items()} == {video: [4.5]}
    cat.save_indexed("/v.mp4", 2, 2, media_info("video", 20, 10.0, 0.5), [face(0, 1)])
    assert cat.cuts([video]) == {}  # indexed again, by a run that read none
    cat.close()
    db = sqlite3.connect(path)
    with db:
        db.execute("ALTER TABLE files DROP COLUMN cuts")
        db.execute("PRAGMA user_version = 5")
    db.close()
    reader = Catalog(path, read_only=True)
    assert reader.cuts([video]) == {} and reader.file("/v.mp4") is not None
    reader.close()
    cat = Catalog(path)
    cat.save_indexed(
        "/v.mp4", 3, 3, media_info("video", 20, 10.0, 0.5), [face(0, 1)], cuts=np.array([1.0])
    )
    assert cat.cuts([video])[video].tolist() == [1.0]
    cat.close()
