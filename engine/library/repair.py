"""Integrity: checking a library's catalog and vectors, and salvaging a damaged catalog.

The catalog is the only copy of every embedding, so damage is never answered by starting
afresh. `check` runs SQLite's own integrity check and compares the vector store with the
catalog; `salvage` copies every row SQLite can still read into a new catalog, drops the files
that lost faces (the next index run embeds them again) and leaves the damaged file in place for
the caller to keep.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.library.catalog import (
    Catalog,
    has_vector_checksums,
    loaded_path,
    open_read_only,
    sound_vector,
    vector_crc,
)
from engine.library.stores.base import VectorStore, enrolled, follows_outbox
from engine.vocabulary import FileStatus, LibraryKey

VECTOR_SAMPLE = 512  # vectors compared with the catalog's by `check` (keys are compared all)
CHECK_SPAN = 1_000_000  # face ids whose keys `check` compares at once


@dataclass(frozen=True)
class VectorCheck:
    """How the vector store compares with the catalog."""

    store: str
    vectors: int  # held by the store
    faces: int  # in the catalog
    missing: int  # catalog faces the store lacks
    extra: int  # store keys the catalog does not have
    sampled: int
    differing: int  # sampled vectors that are not the catalog's
    damaged_file: bool  # the store's file did not match its checksum (opened empty)
    behind: bool  # the store records an older catalog version (an interrupted run)

    @property
    def healthy(self) -> bool:
        return not (self.missing or self.extra or self.differing or self.damaged_file)


@dataclass(frozen=True)
class CheckReport:
    catalog: str
    catalog_problems: tuple[str, ...]  # SQLite's integrity_check lines; empty when sound
    vectors: VectorCheck | None  # None when the catalog cannot be read far enough to compare
    damaged_vectors: int = 0  # catalog faces whose vector fails its checksum or is not unit
    damaged_files: tuple[str, ...] = ()  # the files those faces belong to

    @property
    def healthy(self) -> bool:
        return (
            not self.catalog_problems
            and not self.damaged_vectors
            and self.vectors is not None
            and self.vectors.healthy
        )

    def advice(self) -> str:
        if self.catalog_problems:
            return (
                "run `ris repair`: it recovers what SQLite can read into a new catalog, keeps "
                "the damaged one beside it, and the next `ris index` re-embeds what was lost"
            )
        if self.damaged_vectors:
            return (
                "run `ris repair`: it restores each damaged vector from the vector store's "
                "copy where that copy is sound, and the next `ris index` embeds again the "
                "files of the others"
            )
        if self.vectors is not None and not self.vectors.healthy:
            return (
                "run `ris repair` (or any `ris index` run) to rebuild the vectors from the "
                "catalog; nothing is lost, the catalog holds every vector"
            )
        return "nothing to do"


@dataclass
class Salvage:
    """What `salvage` recovered from a damaged catalog, and exactly what it lost."""

    files: int = 0  # files kept, with all their faces
    faces: int = 0
    lost_files: list[str] = field(default_factory=list)  # records lost (their paths, or "#id")
    lost_faces: int = 0  # faces lost, their files' own included
    to_reindex: list[str] = field(default_factory=list)  # files dropped for lost faces


@dataclass(frozen=True)
class VectorRepair:
    """What repair did with the catalog's damaged vectors."""

    damaged: int = 0
    restored: int = 0  # from the vector store's sound copy
    to_reindex: tuple[str, ...] = ()  # files whose damaged vectors had no sound copy: dropped


def catalog_problems(catalog: Catalog) -> tuple[str, ...]:
    """SQLite's integrity check, with foreign keys: nothing when the catalog is sound. (A
    PostgreSQL server checks its own pages and keys: nothing for ris to add.)"""
    from engine.library.postgres_catalog import PostgresCatalog

    if isinstance(catalog, PostgresCatalog):
        return ()
    try:
        lines = [r[0] for r in catalog.db.execute("PRAGMA integrity_check(100)")]
        orphans = catalog.db.execute("PRAGMA foreign_key_check").fetchall()
    except sqlite3.DatabaseError as err:
        return (f"the catalog cannot be read: {err}",)
    problems = [line for line in lines if line != "ok"]
    if orphans:
        problems.append(f"{len(orphans)} faces belong to no file")
    return tuple(problems)


def check_vectors(
    store: VectorStore,
    catalog: Catalog,
    damaged_file: bool,
    sample: int = VECTOR_SAMPLE,
    span: int = CHECK_SPAN,
) -> VectorCheck:
    """Compare every key and a random sample of vectors with the catalog's, as stored (no
    catching up first: a store behind the catalog is reported, not fixed). A store fed by the
    outbox is behind while changes are queued for it; those faces are in flight, not missing
    or extra.

    Keys are compared a range of `span` ids at a time (the last range open-ended, for keys
    past the catalog's), so memory stays bounded however large the library."""
    queued = np.zeros(0, np.int64)
    if follows_outbox(store, catalog):
        queued = catalog.pending()
        behind = bool(len(queued)) or not enrolled(store, catalog)
    else:
        behind = store.version != catalog.version
    top = catalog.top_face_id()
    rate = sample / max(1, catalog.face_count())
    rng = np.random.default_rng(0)
    held = faces = missing = extra = sampled = differing = 0
    starts = range(0, top + 1, max(1, span))
    for lo in starts:
        hi = lo + span if lo + span <= top else None  # the last: everything from lo on
        want = np.setdiff1d(catalog.face_ids(lo, hi), queued)
        have = np.setdiff1d(store.keys(lo, hi), queued)
        held, faces = held + len(have), faces + len(want)
        missing += len(np.setdiff1d(want, have))
        extra += len(np.setdiff1d(have, want))
        both = np.intersect1d(want, have)
        take = min(len(both), int(np.ceil(rate * len(both))), sample - sampled)
        if take > 0:
            picked = np.sort(rng.choice(both, take, replace=False))
            ours, theirs = catalog.vectors(picked), store.get(picked)
            differing += int(np.sum(np.max(np.abs(ours - theirs), axis=1) > 1e-4))
            sampled += take
        if hi is None:
            break
    return VectorCheck(
        store=store.describe(),
        vectors=held,
        faces=faces,
        missing=missing,
        extra=extra,
        sampled=sampled,
        differing=differing,
        damaged_file=damaged_file,
        behind=behind,
    )


def _readable_rows(
    db: sqlite3.Connection, table: str, columns: str, top: int
) -> tuple[list[tuple], int]:
    """Every row of `table` with ids 1..top that SQLite can read, and how many ids could not
    be read. Reads ranges of ids and halves a range that fails until the bad ids are found."""
    rows: list[tuple] = []
    unreadable = 0
    pending = [(1, top)] if top > 0 else []
    while pending:
        lo, hi = pending.pop()
        try:
            rows += db.execute(
                f"SELECT {columns} FROM {table} WHERE id BETWEEN ? AND ?", (lo, hi)
            ).fetchall()
        except sqlite3.DatabaseError:
            if lo == hi:
                unreadable += 1
            else:
                mid = (lo + hi) // 2
                pending += [(mid + 1, hi), (lo, mid)]
    return rows, unreadable


def _top_id(db: sqlite3.Connection, table: str) -> int:
    """The largest id of `table` as far as SQLite can tell, through whatever still reads."""
    queries: Sequence[str] = (
        f"SELECT max(id) FROM {table}",
        f"SELECT seq FROM sqlite_sequence WHERE name = '{table}'",
        f"SELECT count(*) FROM {table}",
    )
    for sql in queries:
        try:
            row = db.execute(sql).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row and row[0]:
            return int(row[0])
    return 0


FILE_COLUMNS = (
    "id, path, kind, size, mtime_ns, status, error, duration, fps, width, height, samples, "
    "step, faces, indexed_at"
)
FACE_COLUMNS = "id, file_id, t, track, x1, y1, x2, y2, prob, vector"


def _index_rows(db: sqlite3.Connection, sql: str) -> list[tuple]:
    """The rows a query over an index gives before the first damaged page (all, if none)."""
    rows: list[tuple] = []
    try:
        for row in db.execute(sql):
            rows.append(row)
    except sqlite3.DatabaseError:
        pass
    return rows


def _known_rows(db: sqlite3.Connection) -> tuple[dict[int, object], set[int]]:
    """Every file id (with its path) and face id the catalog's indexes still name: a table page
    may be lost while the indexes over it (files by path, faces by file) are whole, and rows of
    a damaged page can vanish from a scan without an error. Face rows name their files too."""
    files: dict[int, object] = dict(
        _index_rows(db, "SELECT id, path FROM files INDEXED BY sqlite_autoindex_files_1")
    )
    faces: set[int] = set()
    for face_id, file_id in _index_rows(
        db, "SELECT id, file_id FROM faces INDEXED BY faces_by_file ORDER BY file_id"
    ):
        faces.add(face_id)
        files.setdefault(file_id, None)
    return files, faces


_PEOPLE_COLUMNS = "id, name, template"
_APPEARANCE_COLUMNS = (
    "file_id, track, best_face, t_start, t_end, faces, vector, person_id, pinned, refused"
)


def _people_rows(
    src: sqlite3.Connection, progress: Callable[[str], None]
) -> tuple[list[tuple], list[tuple]]:
    """The people and their appearances, as far as they can be read (none before schema 5)."""
    try:
        have = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "people" not in have:
            return [], []
        people = src.execute(f"SELECT {_PEOPLE_COLUMNS} FROM people").fetchall()
        appearances = src.execute(f"SELECT {_APPEARANCE_COLUMNS} FROM appearances").fetchall()
    except sqlite3.DatabaseError:
        progress("the people could not be read: `ris people` finds them anew, without names")
        return [], []
    return people, appearances


def salvage(
    damaged: Path, into: Path, progress: Callable[[str], None] = lambda text: None
) -> Salvage:
    """Copy what can be read of the catalog at `damaged` into a new catalog at `into`.

    A file keeps its record only with every one of its faces; a file that lost any is left out,
    so the next index run finds it new and embeds it again. Faces of unreadable files go too.
    What was lost is counted exactly: the ids the tables and their indexes name, less those read.
    """
    src = open_read_only(damaged)
    out = Salvage()
    try:
        meta: list[tuple] = []
        try:
            meta = src.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.DatabaseError:
            progress("the library's settings could not be read; they are recorded anew")
        known_files, known_faces = _known_rows(src)
        top_file = max(_top_id(src, "files"), max(known_files, default=0))
        files, _ = _readable_rows(src, "files", FILE_COLUMNS, top_file)
        top_face = max(_top_id(src, "faces"), max(known_faces, default=0))
        columns = FACE_COLUMNS + (", vector_crc" if _has_crc(src) else ", NULL")
        faces, unreadable_faces = _readable_rows(src, "faces", columns, top_face)
        people, appearances = _people_rows(src, progress)
    finally:
        src.close()
    read_files = {row[0] for row in files}
    read_faces = {row[0] for row in faces}
    for row in faces:
        known_files.setdefault(row[1], None)
    out.lost_files = sorted(
        loaded_path(path) if isinstance(path, str | bytes) else f"#{key} (its path is lost too)"
        for key, path in known_files.items()
        if key not in read_files
    )
    unread_faces = max(len(known_faces - read_faces), unreadable_faces)
    progress(f"{len(files)} file records read, {len(out.lost_files)} lost")
    progress(f"{len(faces)} faces read, {unread_faces} unreadable")

    by_file: dict[int, list[tuple]] = {}
    for face in faces:
        by_file.setdefault(face[1], []).append(face)
    kept_files, kept_faces = [], []
    for row in files:
        file_id, path, status, count = row[0], row[1], row[5], row[13]
        got = by_file.get(file_id, [])
        if status == FileStatus.INDEXED and len(got) != count:
            out.to_reindex.append(loaded_path(path))
            continue
        kept_files.append(row)
        kept_faces += [
            (*face[:10], face[10] if face[10] is not None else vector_crc(face[9])) for face in got
        ]
    catalog = Catalog(into)
    try:
        with catalog.db:
            for key, value in meta:
                if key != LibraryKey.FACES_VERSION:
                    catalog.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            catalog.db.executemany(
                f"INSERT INTO files ({FILE_COLUMNS}) VALUES ({','.join('?' * 15)})",
                kept_files,  # paths as stored: text, or the bytes of a name that is not UTF-8
            )
            catalog.db.executemany(
                f"INSERT INTO faces ({FACE_COLUMNS}, vector_crc) VALUES ({','.join('?' * 11)})",
                kept_faces,
            )
            # people and the user's corrections: every person, and the appearances whose
            # faces were kept (the others are summed up anew by the next `ris people`)
            catalog.db.executemany(
                f"INSERT INTO people ({_PEOPLE_COLUMNS}) VALUES (?, ?, ?)", people
            )
            kept = {face[0] for face in kept_faces}
            catalog.db.executemany(
                f"INSERT INTO appearances ({_APPEARANCE_COLUMNS}) VALUES ({','.join('?' * 10)})",
                [a for a in appearances if a[2] in kept],
            )
            old_version = max((int(v) for k, v in meta if k == LibraryKey.FACES_VERSION), default=0)
            catalog.db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                (LibraryKey.FACES_VERSION, str(old_version + 1)),
            )
    finally:
        catalog.close()
    out.files, out.faces = len(kept_files), len(kept_faces)
    out.lost_faces = unread_faces + len(faces) - len(kept_faces)  # with their files, or unread
    return out


def _has_crc(db: sqlite3.Connection) -> bool:
    """Whether a damaged catalog's faces have checksums, as far as it can be read."""
    try:
        return has_vector_checksums(db)
    except sqlite3.DatabaseError:
        return False


def repair_vectors(
    catalog: Catalog, store: VectorStore, progress: Callable[[str], None] = lambda text: None
) -> VectorRepair:
    """Mend the catalog's damaged vectors before the store is rebuilt from it: each from the
    store's copy when that copy is sound (a finite unit vector), else by dropping its file's
    record so that the next `ris index` embeds the file again. Never copies damage across."""
    damaged = catalog.unsound_vectors()
    if not len(damaged):
        return VectorRepair()
    progress(f"{len(damaged)} vectors in the catalog are damaged")
    held = np.intersect1d(damaged, store.keys())
    copies = store.get(held) if len(held) else np.zeros((0, 0), np.float32)
    good = np.asarray([sound_vector(v) for v in copies], dtype=bool)
    if good.any():
        catalog.restore_vectors(held[good], copies[good])
        progress(f"{int(good.sum())} restored from {store.describe()}")
    lost = np.setdiff1d(damaged, held[good])
    paths = catalog.files_of_faces(lost)
    if paths:
        catalog.remove(paths)
    return VectorRepair(len(damaged), int(good.sum()), tuple(paths))


@dataclass(frozen=True)
class RepairReport:
    problems: tuple[str, ...]  # what was wrong with the catalog; empty if only vectors were
    salvage: Salvage | None  # None when the catalog was sound
    kept: str | None  # where the damaged catalog now is
    vectors: int  # vectors in the rebuilt store
    mended: VectorRepair = VectorRepair()  # the catalog's damaged vectors and what became of them
