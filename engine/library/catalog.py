"""The catalog: an SQLite file of every file and every face, the durable source of truth.

Each file's faces, with their vectors, are written in one transaction, so a crash leaves every
file either fully indexed or not at all; the vector index is rebuilt from here when it lags.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import numpy as np

from engine.errors import CatalogError
from engine.library.private_files import create_private, private_dir, writable
from engine.media.sampling import MediaInfo
from engine.models.faces import NewFace
from engine.vocabulary import EMBEDDING_DIM, FileStatus, LibraryKey, MediaKind

T = TypeVar("T")
SCHEMA_VERSION = 6
_MIGRATIONS = {
    1: """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,              -- MediaKind: video | image | unknown
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        status TEXT NOT NULL,            -- FileStatus: indexed | failed
        error TEXT,
        duration REAL, fps REAL, width INTEGER, height INTEGER,
        samples INTEGER NOT NULL DEFAULT 0,
        step REAL,
        faces INTEGER NOT NULL DEFAULT 0,
        indexed_at REAL NOT NULL
    );
    CREATE TABLE faces (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- the vector's key; never reused
        file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        t REAL NOT NULL,
        track INTEGER NOT NULL DEFAULT 0,      -- appearance within the file (see tracking.py)
        x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
        prob REAL NOT NULL,
        vector BLOB NOT NULL                   -- float32 x EMBEDDING_DIM, unit length
    );
    CREATE INDEX faces_by_file ON faces(file_id);
    """,
    # each face of a photo is an appearance of its own: before, a photo's faces shared track 0,
    # so matching averaged the people of a group photo into one vector
    2: """
    UPDATE faces SET track = (
        SELECT count(*) FROM faces AS earlier
        WHERE earlier.file_id = faces.file_id AND earlier.id < faces.id
    ) WHERE file_id IN (SELECT id FROM files WHERE kind = 'image');
    """,
    # each vector checkable on its own: SQLite's checks pass over a flipped byte inside a BLOB
    3: """
    ALTER TABLE faces ADD COLUMN vector_crc INTEGER;  -- CRC-32 of vector's bytes
    UPDATE faces SET vector_crc = ris_crc32(vector);
    """,
    # what recognises a moved or renamed file (media/fingerprint.py); none for files before
    4: """
    ALTER TABLE files ADD COLUMN fingerprint BLOB;
    """,
    # people across the library (engine/people/, library/people_records.py): each appearance
    # summed up once, the person it was put in, and the user's corrections
    5: """
    CREATE TABLE people (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a removed person's id stays gone
        name TEXT,                             -- given by the user; NULL: none yet
        template BLOB                          -- float32 unit mean of its appearances
    );
    CREATE TABLE appearances (
        file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        track INTEGER NOT NULL,
        best_face INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,  -- gone when re-indexed
        t_start REAL NOT NULL, t_end REAL NOT NULL,
        faces INTEGER NOT NULL,
        vector BLOB NOT NULL,                  -- float32 quality-weighted unit mean of its faces
        person_id INTEGER REFERENCES people(id) ON DELETE SET NULL,  -- NULL: unsorted
        pinned INTEGER NOT NULL DEFAULT 0,     -- placed by the user: an update never moves it
        refused INTEGER,                       -- a person the user took it out of
        PRIMARY KEY (file_id, track)
    );
    CREATE INDEX appearances_by_person ON appearances(person_id);
    CREATE INDEX appearances_by_face ON appearances(best_face);
    """,
    # a video's shot cuts (appearances/frame_sketches.py), boundaries no segment crosses:
    # float32 times of the first sample of each new shot; NULL: indexed before they were kept
    6: """
    ALTER TABLE files ADD COLUMN cuts BLOB;
    """,
}
# migrations a read-only catalog may go without: its answers are the older ones (2), or what
# it lacks is asked for only by `ris check`, which then checks the vectors by their norm (3),
# or only by an index run (4), or what it lacks is read as none (5: no people; 6: no cuts)
_READERS_MAY_SKIP = {2, 3, 4, 5, 6}


@dataclass(frozen=True)
class FileRecord:
    id: int
    path: str
    kind: MediaKind
    size: int
    mtime_ns: int
    status: FileStatus
    error: str | None
    duration: float | None
    fps: float | None
    width: int | None
    height: int | None
    samples: int
    step: float | None
    faces: int


@dataclass(frozen=True)
class FaceRows:
    """Faces as parallel arrays."""

    ids: np.ndarray
    file_ids: np.ndarray
    tracks: np.ndarray
    times: np.ndarray
    boxes: np.ndarray  # (N, 4)
    vectors: np.ndarray | None = None  # (N, EMBEDDING_DIM) when asked for


_FILE_COLUMNS = ", ".join(FileRecord.__dataclass_fields__)


@dataclass(frozen=True)
class Fence:
    """The claim a commit is made under, where indexers share the work (a PostgreSQL catalog,
    engine/library/claims.py): the commit happens only while the claim is still this
    holder's, and ends it. A SQLite catalog has one writer at a time and needs none."""

    owner: str  # host:pid
    token: int


def stored_path(path: str) -> str | bytes:
    """A path as the catalog keeps it: text, or the raw bytes of a name that is not UTF-8.

    File names are bytes on Linux; Python carries undecodable ones as lone surrogates, which
    SQLite text cannot hold. Those are stored as a BLOB in the same column (SQLite keeps the
    type per value), so every name round-trips exactly and ordinary names stay readable text.
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def loaded_path(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def cuts_blob(cuts: np.ndarray | None) -> bytes | None:
    """Shot cuts as the catalog keeps them: float32 seconds; None where none were read."""
    return None if cuts is None else np.asarray(cuts, dtype="<f4").tobytes()


def loaded_cuts(blob: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(blob), dtype="<f4").astype(np.float64)


def _file_record(row: Sequence) -> FileRecord:
    """A files row (in `_FILE_COLUMNS` order) as a record, its kind and status as enums."""
    key, path, kind, size, mtime_ns, status, *rest = row
    return FileRecord(
        key, loaded_path(path), MediaKind(kind), size, mtime_ns, FileStatus(status), *rest
    )


class Catalog:
    """The library's catalog. Opened read-only when this process may not write it (a library
    shared read-only), or when asked; writes then fail with CatalogError."""

    def __init__(self, path: Path, read_only: bool | None = None) -> None:
        self.path = path
        self.read_only = not writable(path) if read_only is None else read_only
        if path.exists() and path.stat().st_size == 0:
            raise CatalogError(
                f"the catalog {path} is empty (0 bytes): it was truncated or never written",
                "restore it from a backup; if this data directory is new and holds nothing "
                "else, delete the empty file",
            )
        try:
            if self.read_only:
                self.db = open_read_only(path)
            else:
                private_dir(path.parent)
                create_private(path)
                self.db = sqlite3.connect(path, timeout=30, check_same_thread=False)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.create_function("ris_crc32", 1, vector_crc, deterministic=True)
            self._migrate()
        except sqlite3.DatabaseError as err:
            raise catalog_error(path, err) from err
        except OSError as err:
            raise CatalogError(f"cannot open the catalog {path}: {err.strerror}") from err

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"the catalog {self.path} has schema {version}, newer than this "
                f"ris ({SCHEMA_VERSION})",
                "upgrade ris",
            )
        if self.read_only and all(
            step in _READERS_MAY_SKIP for step in range(version + 1, SCHEMA_VERSION + 1)
        ):
            return
        if version < SCHEMA_VERSION and self.read_only:
            raise CatalogError(
                f"the catalog {self.path} needs an upgrade, and this process may not write it",
                "run ris once as its owner (any command) to upgrade it",
            )
        for step in range(version + 1, SCHEMA_VERSION + 1):
            with self.db:
                self.db.executescript(_MIGRATIONS[step])
                self.db.execute(f"PRAGMA user_version = {step}")

    def close(self) -> None:
        self.db.close()

    # meta ---------------------------------------------------------------------------------
    def meta(self, key: LibraryKey) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: LibraryKey, value: str) -> None:
        with self.db:
            self._put_meta(key, value)

    def _put_meta(self, key: LibraryKey, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def library_id(self) -> str:
        """A random id naming this library, so a shared vector store can tell libraries apart."""
        value = self.meta(LibraryKey.LIBRARY_ID)
        if value is None:
            value = uuid.uuid4().hex
            self.set_meta(LibraryKey.LIBRARY_ID, value)
        return value

    @property
    def version(self) -> int:
        """Bumped by every change to the faces; the vector index records the one it matches."""
        return int(self.meta(LibraryKey.FACES_VERSION) or 0)

    def _bump(self) -> None:
        self._put_meta(LibraryKey.FACES_VERSION, str(self.version + 1))

    # the outbox: changes queued for a store many indexers write (stores/base.py) -----------
    keeps_outbox = False
    """Whether commits queue their changes for a shared store. A SQLite library has one
    writer at a time: its stores follow `version`."""

    def outbox_token(self) -> int | None:
        """The token of the store the outbox feeds (None: none is fed)."""
        return None

    @contextmanager
    def enrolling(self) -> Iterator[None]:
        """Held while a store is enrolled in the outbox: one process at a time."""
        yield

    def set_outbox_token(self, token: int) -> None:
        """Feed the outbox to the store holding `token`; every commit from now queues."""
        raise NotImplementedError("a SQLite catalog keeps no outbox")

    def pending(self) -> np.ndarray:
        """The face ids queued for the store and not yet carried into it."""
        return np.zeros(0, np.int64)

    def drain_outbox(self, carry: Callable[[np.ndarray, np.ndarray], None], batch: int) -> int:
        """Hand queued ids to `carry(present, gone)` and take them off the queue in the same
        transaction; how many were carried."""
        return 0

    # files --------------------------------------------------------------------------------
    def file(self, path: str) -> FileRecord | None:
        row = self.db.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE path = ?", (stored_path(path),)
        ).fetchone()
        return _file_record(row) if row else None

    def files(self, status: FileStatus | None = None) -> list[FileRecord]:
        sql = f"SELECT {_FILE_COLUMNS} FROM files"
        rows = self.db.execute(
            sql + " WHERE status = ? ORDER BY path" if status else sql + " ORDER BY path",
            (status,) if status else (),
        )
        return [_file_record(r) for r in rows]

    def files_by_id(self, ids: Iterable[int]) -> dict[int, FileRecord]:
        out: dict[int, FileRecord] = {}
        for chunk in _chunks(sorted(set(int(i) for i in ids))):
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                f"SELECT {_FILE_COLUMNS} FROM files WHERE id IN ({marks})", chunk
            ):
                out[row[0]] = _file_record(row)
        return out

    def save_indexed(
        self,
        path: str,
        size: int,
        mtime_ns: int,
        info: MediaInfo,
        faces: Sequence[NewFace],
        fence: Fence | None = None,
        fingerprint: bytes | None = None,
        cuts: np.ndarray | None = None,
    ) -> tuple[int, np.ndarray, np.ndarray]:
        """Record a file and its faces in one transaction; (file id, removed keys, new keys).
        `cuts`: a video's shot cuts (seconds), where they were read."""
        with self.db:
            removed = self._drop_faces(path)
            file_id = self._upsert(
                path, info.kind, size, mtime_ns, FileStatus.INDEXED, None, info, len(faces)
            )
            self.db.execute(
                "UPDATE files SET fingerprint = ?, cuts = ? WHERE id = ?",
                (fingerprint, cuts_blob(cuts), file_id),
            )
            new = [
                self.db.execute(
                    "INSERT INTO faces (file_id, t, track, x1, y1, x2, y2, prob, vector, "
                    "vector_crc) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        file_id,
                        f.t,
                        f.track,
                        *f.box,
                        f.prob,
                        blob := np.asarray(f.vector, np.float32).tobytes(),
                        vector_crc(blob),
                    ),
                ).lastrowid
                for f in faces
            ]
            self._bump()
        return file_id, removed, np.asarray(new, dtype=np.int64)

    def cuts(self, file_ids: Iterable[int]) -> dict[int, np.ndarray]:
        """The shot cuts (seconds, ascending) of those files that have them recorded: none
        for a photo, a video indexed before they were kept, or a catalog that predates them
        opened read-only."""
        if not self._has_column("files", "cuts"):
            return {}
        out: dict[int, np.ndarray] = {}
        for chunk in _chunks(sorted(set(int(i) for i in file_ids))):
            marks = ",".join("?" * len(chunk))
            for key, blob in self.db.execute(
                f"SELECT id, cuts FROM files WHERE id IN ({marks}) AND cuts IS NOT NULL", chunk
            ):
                out[int(key)] = loaded_cuts(blob)
        return out

    def _has_column(self, table: str, column: str) -> bool:
        return any(row[1] == column for row in self.db.execute(f"PRAGMA table_info({table})"))

    def fingerprints(self, paths: Iterable[str]) -> dict[str, bytes]:
        """The fingerprints of those indexed files that have one (media/fingerprint.py)."""
        out: dict[str, bytes] = {}
        for chunk in _chunks([stored_path(p) for p in paths]):
            marks = ",".join("?" * len(chunk))
            for path, print_ in self.db.execute(
                f"SELECT path, fingerprint FROM files WHERE path IN ({marks}) "
                "AND status = 'indexed' AND fingerprint IS NOT NULL",
                chunk,
            ):
                out[loaded_path(path)] = bytes(print_)
        return out

    def move(self, old: str, new: str, mtime_ns: int) -> bool:
        """A file moved or renamed: its record (faces and all) now at `new`. False, changing
        nothing, where `old` is gone or `new` is already recorded."""
        with self.db:
            cur = self.db.execute(
                "UPDATE files SET path = ?, mtime_ns = ? WHERE path = ? "
                "AND NOT EXISTS (SELECT 1 FROM files WHERE path = ?)",
                (stored_path(new), mtime_ns, stored_path(old), stored_path(new)),
            )
        return cur.rowcount == 1

    def save_failed(
        self,
        path: str,
        kind: MediaKind,
        size: int,
        mtime_ns: int,
        reason: str,
        fence: Fence | None = None,
    ) -> np.ndarray:
        with self.db:
            removed = self._drop_faces(path)
            self._upsert(path, kind, size, mtime_ns, FileStatus.FAILED, reason, None, 0)
            self._bump()
        return removed

    def remove(self, paths: Iterable[str]) -> np.ndarray:
        """Forget files (gone from disk); returns the keys of their faces."""
        removed = []
        with self.db:
            for path in paths:
                removed.append(self._drop_faces(path))
                self.db.execute("DELETE FROM files WHERE path = ?", (stored_path(path),))
            self._bump()
        return np.concatenate(removed) if removed else np.zeros(0, np.int64)

    def _drop_faces(self, path: str) -> np.ndarray:
        key = stored_path(path)
        rows = self.db.execute(
            "SELECT faces.id FROM faces JOIN files ON files.id = faces.file_id WHERE files.path = ?",
            (key,),
        ).fetchall()
        if rows:
            self.db.execute(
                "DELETE FROM faces WHERE file_id = (SELECT id FROM files WHERE path = ?)", (key,)
            )
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def _upsert(
        self,
        path: str,
        kind: MediaKind,
        size: int,
        mtime_ns: int,
        status: FileStatus,
        error: str | None,
        info: MediaInfo | None,
        faces: int,
    ) -> int:
        values = (
            str(kind),
            size,
            mtime_ns,
            str(status),
            error,
            info.duration if info else None,
            info.fps if info else None,
            info.width if info else None,
            info.height if info else None,
            info.samples if info else 0,
            info.step if info else None,
            faces,
            time.time(),
        )
        self.db.execute(
            "INSERT INTO files (path, kind, size, mtime_ns, status, error, duration, fps, width, "
            "height, samples, step, faces, indexed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(path) DO UPDATE SET kind=excluded.kind, size=excluded.size, "
            "mtime_ns=excluded.mtime_ns, status=excluded.status, error=excluded.error, "
            "duration=excluded.duration, fps=excluded.fps, width=excluded.width, "
            "height=excluded.height, samples=excluded.samples, step=excluded.step, "
            "faces=excluded.faces, indexed_at=excluded.indexed_at",
            (key := stored_path(path), *values),
        )
        return self.db.execute("SELECT id FROM files WHERE path = ?", (key,)).fetchone()[0]

    # faces --------------------------------------------------------------------------------
    def face_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM faces").fetchone()[0]

    def has_faces(self) -> bool:
        """Whether any face is held (what a search asks: cheaper than counting them)."""
        return bool(self.db.execute("SELECT EXISTS (SELECT 1 FROM faces)").fetchone()[0])

    def top_face_id(self) -> int:
        """The highest face id held (0: none)."""
        return int(self.db.execute("SELECT max(id) FROM faces").fetchone()[0] or 0)

    def face_ids(self, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """The face ids from `lo` up to `hi` (excluded; None: no end), in order."""
        rows = self.db.execute(
            "SELECT id FROM faces WHERE id >= ? AND id < ? ORDER BY id", (lo, id_bound(hi))
        )
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def vectors(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        out = np.zeros((len(ids), EMBEDDING_DIM), dtype=np.float32)
        where = {int(k): i for i, k in enumerate(ids)}
        for chunk in _chunks(list(where)):
            marks = ",".join("?" * len(chunk))
            for key, blob in self.db.execute(
                f"SELECT id, vector FROM faces WHERE id IN ({marks})", chunk
            ):
                out[where[key]] = np.frombuffer(blob, dtype=np.float32)
        return out

    def faces(self, ids: Sequence[int] | np.ndarray) -> FaceRows:
        rows = []
        for chunk in _chunks([int(i) for i in ids]):
            marks = ",".join("?" * len(chunk))
            rows += self.db.execute(
                f"SELECT id, file_id, track, t, x1, y1, x2, y2 FROM faces WHERE id IN ({marks})",
                chunk,
            ).fetchall()
        return _face_rows(rows)

    def file_faces(self, file_id: int) -> FaceRows:
        """Every face of a file, with vectors, in time order."""
        return self._faces_with_vectors("WHERE file_id = ?", (file_id,))

    def tracks_faces(self, tracks: Iterable[tuple[int, int]]) -> FaceRows:
        """Every face of some (file id, track) appearances, with vectors, by file then time:
        one query per 900 files, however many appearances."""
        wanted = {(int(f), int(t)) for f, t in tracks}
        rows: list = []
        for chunk in _chunks(sorted({f for f, _ in wanted})):
            marks = ",".join("?" * len(chunk))
            rows += [
                r
                for r in self.db.execute(
                    "SELECT id, file_id, track, t, x1, y1, x2, y2, vector FROM faces "
                    f"WHERE file_id IN ({marks}) ORDER BY file_id, t, id",
                    chunk,
                )
                if (r[1], r[2]) in wanted
            ]
        return _with_vectors(rows)

    # each vector on its own ------------------------------------------------------------------
    @property
    def vectors_have_checksums(self) -> bool:
        """Whether each face records its vector's CRC-32 (schema 3; an older catalog opened
        read-only does not)."""
        return has_vector_checksums(self.db)

    def unsound_vectors(self) -> np.ndarray:
        """The ids of the faces whose stored vector is damaged: its bytes do not match their
        checksum, or it is not a finite unit vector (every vector ris stores is one)."""
        crc = "vector_crc" if self.vectors_have_checksums else "NULL"
        bad: list[int] = []
        rows = self.db.execute(f"SELECT id, vector, {crc} FROM faces")
        while chunk := rows.fetchmany(4096):
            for key, blob, recorded in chunk:
                if (recorded is not None and vector_crc(blob) != recorded) or not sound_vector(
                    blob
                ):
                    bad.append(key)
        return np.asarray(bad, dtype=np.int64)

    def restore_vectors(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Write sound copies of damaged vectors back, with their checksums, in one transaction."""
        with self.db:
            for key, vector in zip(ids.tolist(), vectors, strict=True):
                blob = np.asarray(vector, np.float32).tobytes()
                self.db.execute(
                    "UPDATE faces SET vector = ?, vector_crc = ? WHERE id = ?",
                    (blob, vector_crc(blob), key),
                )
            self._bump()

    def files_of_faces(self, ids: np.ndarray) -> list[str]:
        """The paths of the files some faces belong to, sorted."""
        paths: set[str] = set()
        for chunk in _chunks(sorted({int(i) for i in ids})):
            marks = ",".join("?" * len(chunk))
            paths.update(
                loaded_path(r[0])
                for r in self.db.execute(
                    "SELECT DISTINCT files.path FROM faces JOIN files ON files.id = faces.file_id "
                    f"WHERE faces.id IN ({marks})",
                    chunk,
                )
            )
        return sorted(paths)

    def _faces_with_vectors(self, where: str, args: Sequence[object]) -> FaceRows:
        rows = self.db.execute(
            f"SELECT id, file_id, track, t, x1, y1, x2, y2, vector FROM faces {where} "
            "ORDER BY t, id",
            args,
        ).fetchall()
        return _with_vectors(rows)


def _with_vectors(rows: Sequence[Sequence]) -> FaceRows:
    """FaceRows of (id, file_id, track, t, x1, y1, x2, y2, vector blob) rows."""
    vectors = (
        np.stack([np.frombuffer(r[8], np.float32) for r in rows])
        if rows
        else np.zeros((0, EMBEDDING_DIM), np.float32)
    )
    return _face_rows([r[:8] for r in rows], vectors)


def has_vector_checksums(db: sqlite3.Connection) -> bool:
    """Whether the faces table of a catalog has the vectors' checksums column (schema 3)."""
    return any(r[1] == "vector_crc" for r in db.execute("PRAGMA table_info(faces)"))


def vector_crc(blob: bytes | None) -> int | None:
    """The checksum a face row keeps of its vector's bytes."""
    return None if blob is None else zlib.crc32(blob)


def sound_vector(blob: bytes | np.ndarray, tolerance: float = 1e-3) -> bool:
    """Whether a stored vector is what ris stores: EMBEDDING_DIM finite float32 values of unit
    length. A vector damaged on disk rarely stays one (a flipped exponent bit gives 1e36)."""
    if isinstance(blob, bytes) and len(blob) != EMBEDDING_DIM * 4:
        return False
    vector = (
        np.frombuffer(blob, np.float32)
        if isinstance(blob, bytes)
        else np.asarray(blob, np.float32).ravel()
    )
    if vector.shape != (EMBEDDING_DIM,) or not np.isfinite(vector).all():
        return False
    if np.abs(vector).max(initial=0.0) > 1.0:  # no value of a unit vector exceeds 1
        return False
    return abs(float(np.dot(vector, vector)) - 1.0) < tolerance


def open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that never writes. A WAL catalog whose shared-memory file is missing
    cannot be opened read-only the usual way; it is then read as immutable (nobody who may not
    write it can change it under us, and its owner's writes are seen at the next open)."""
    uri = "file:" + quote(os.fsencode(path)) + "?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        db.close()
        db = sqlite3.connect(uri + "&immutable=1", uri=True, check_same_thread=False)
    return db


def catalog_error(path: Path, err: sqlite3.DatabaseError) -> CatalogError:
    """What SQLite's complaint means for the user, and what to do; never "start afresh"."""
    text = str(err)
    if any(w in text for w in ("malformed", "not a database", "disk image", "corrupt")):
        return CatalogError(
            f"the catalog {path} is damaged ({text})",
            "`ris check` says what is wrong; `ris repair` recovers what it can into a new "
            "catalog and keeps the damaged one beside it",
        )
    if "readonly" in text or "read-only" in text:
        return CatalogError(
            f"the catalog {path} is read-only for this process ({text})",
            "searches work; indexing needs write access to the data directory",
        )
    if "disk is full" in text or "disk I/O error" in text:
        return CatalogError(
            f"cannot write the catalog {path}: {text} (is the disk full?)",
            "free some space and run again: every file committed so far is kept",
        )
    return CatalogError(f"the catalog {path}: {text}")


@contextmanager
def reported(path: Path) -> Iterator[None]:
    """Turn SQLite's errors inside the block into a CatalogError naming the catalog."""
    try:
        yield
    except sqlite3.DatabaseError as err:
        raise catalog_error(path, err) from err


def _face_rows(rows: list, vectors: np.ndarray | None = None) -> FaceRows:
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 8)
    ints = arr[:, :3].astype(np.int64)
    return FaceRows(ints[:, 0], ints[:, 1], ints[:, 2], arr[:, 3], arr[:, 4:8], vectors)


def id_bound(hi: int | None) -> int:
    """An exclusive upper bound on ids for SQL: None is past every id."""
    return 2**63 - 1 if hi is None else hi


def _chunks(items: list[T], size: int = 900) -> Iterable[list[T]]:
    for lo in range(0, len(items), size):
        yield items[lo : lo + size]
