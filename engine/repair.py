"""Integrity: checking a library's catalog and vectors, and salvaging a damaged catalog.

The catalog is the only copy of every embedding, so damage is never answered by starting
afresh. `check` runs SQLite's own integrity check and compares the vector store with the
catalog; `salvage` copies every row SQLite can still read into a new catalog, drops the files
that lost faces (the next index run embeds them again) and leaves the damaged file in place for
the caller to keep.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .catalog import Catalog, open_read_only
from .stores.base import VectorStore
from .vocabulary import FileStatus, LibraryKey

VECTOR_SAMPLE = 512  # vectors compared with the catalog's by `check` (keys are compared all)


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

    @property
    def healthy(self) -> bool:
        return not self.catalog_problems and self.vectors is not None and self.vectors.healthy

    def advice(self) -> str:
        if self.catalog_problems:
            return (
                "run `ris repair`: it recovers what SQLite can read into a new catalog, keeps "
                "the damaged one beside it, and the next `ris index` re-embeds what was lost"
            )
        if self.vectors is not None and not self.vectors.healthy:
            return (
                "run `ris repair` (or any `ris index` run) to rebuild the vectors from the "
                "catalog; nothing is lost, the catalog holds every vector"
            )
        return "nothing to do"


@dataclass
class Salvage:
    """What `salvage` recovered from a damaged catalog."""

    files: int = 0  # files kept, with all their faces
    faces: int = 0
    unreadable_files: int = 0  # file rows SQLite could not read
    unreadable_faces: int = 0
    to_reindex: list[str] = field(default_factory=list)  # files dropped for lost faces


def catalog_problems(catalog: Catalog) -> tuple[str, ...]:
    """SQLite's integrity check, with foreign keys: nothing when the catalog is sound."""
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
    store: VectorStore, catalog: Catalog, damaged_file: bool, sample: int = VECTOR_SAMPLE
) -> VectorCheck:
    """Compare every key and a random sample of vectors with the catalog's, as stored (no
    catching up first: a store behind the catalog is reported, not fixed)."""
    want = catalog.face_ids()
    have = store.keys()
    both = np.intersect1d(want, have)
    rng = np.random.default_rng(0)
    picked = np.sort(rng.choice(both, min(sample, len(both)), replace=False)) if len(both) else both
    differing = 0
    if len(picked):
        ours = catalog.vectors(picked)
        theirs = store.get(picked)
        differing = int(np.sum(np.max(np.abs(ours - theirs), axis=1) > 1e-4))
    return VectorCheck(
        store=store.describe(),
        vectors=len(have),
        faces=len(want),
        missing=len(np.setdiff1d(want, have)),
        extra=len(np.setdiff1d(have, want)),
        sampled=len(picked),
        differing=differing,
        damaged_file=damaged_file,
        behind=store.version != catalog.version,
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


def salvage(
    damaged: Path, into: Path, progress: Callable[[str], None] = lambda text: None
) -> Salvage:
    """Copy what can be read of the catalog at `damaged` into a new catalog at `into`.

    A file keeps its record only with every one of its faces; a file that lost any is left out,
    so the next index run finds it new and embeds it again. Faces of unreadable files go too.
    """
    src = open_read_only(damaged)
    out = Salvage()
    try:
        meta: list[tuple] = []
        try:
            meta = src.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.DatabaseError:
            progress("the library's settings could not be read; they are recorded anew")
        files, out.unreadable_files = _readable_rows(
            src, "files", FILE_COLUMNS, _top_id(src, "files")
        )
        progress(f"{len(files)} file records read, {out.unreadable_files} unreadable")
        faces, out.unreadable_faces = _readable_rows(
            src, "faces", FACE_COLUMNS, _top_id(src, "faces")
        )
        progress(f"{len(faces)} faces read, {out.unreadable_faces} unreadable")
    finally:
        src.close()

    by_file: dict[int, list[tuple]] = {}
    for face in faces:
        by_file.setdefault(face[1], []).append(face)
    kept_files, kept_faces = [], []
    for row in files:
        file_id, path, status, count = row[0], row[1], row[5], row[13]
        got = by_file.get(file_id, [])
        if status == FileStatus.INDEXED and len(got) != count:
            out.to_reindex.append(os.fsdecode(path) if isinstance(path, bytes) else path)
            continue
        kept_files.append(row)
        kept_faces += got
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
                f"INSERT INTO faces ({FACE_COLUMNS}) VALUES ({','.join('?' * 10)})", kept_faces
            )
            old_version = max((int(v) for k, v in meta if k == LibraryKey.FACES_VERSION), default=0)
            catalog.db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                (LibraryKey.FACES_VERSION, str(old_version + 1)),
            )
    finally:
        catalog.close()
    out.files, out.faces = len(kept_files), len(kept_faces)
    return out


@dataclass(frozen=True)
class RepairReport:
    problems: tuple[str, ...]  # what was wrong with the catalog; empty if only vectors were
    salvage: Salvage | None  # None when the catalog was sound
    kept: str | None  # where the damaged catalog now is
    vectors: int  # vectors in the rebuilt store
