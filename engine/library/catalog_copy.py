"""`ris migrate --catalog postgresql://...`: a SQLite library's catalog copied into PostgreSQL
as it is (every file, face, vector and key, with their ids, so the vector store stays valid
and nothing is embedded again), in one transaction, then compared row by row."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from engine.errors import UserError
from engine.library.catalog import Catalog, loaded_path, vector_crc
from engine.library.postgres_catalog import (
    LOCK_SCHEMA,
    SCHEMA,
    AdvisoryLock,
    PostgresCatalog,
    masked,
)
from engine.library.roots import Roots
from engine.vocabulary import LibraryKey

_FILE_COLUMNS = (
    "id, path, kind, size, mtime_ns, status, error, duration, fps, width, height, samples, step, "
    "faces, indexed_at"
)
_FACE_COLUMNS = "id, file_id, t, track, x1, y1, x2, y2, prob, vector"
# people (schema 5): who is who, and the user's corrections, carried as they are
_PEOPLE_TABLES = {
    "people": ("id, name, template", "id"),
    "appearances": (
        "file_id, track, best_face, t_start, t_end, faces, vector, person_id, pinned, refused",
        "file_id, track",
    ),
}
_BATCH = 2000


@dataclass(frozen=True)
class CatalogCopy:
    files: int
    faces: int
    meta: int


def copy_catalog(
    source: Catalog,
    uri: str,
    progress: Callable[[int, int], None] = lambda done, total: None,
    roots: Roots | None = None,
) -> CatalogCopy:
    """Copy `source` (a SQLite catalog) into the empty PostgreSQL catalog at `uri` and verify
    the copy; the source is only read. A file under one of `roots` (this machine's mount
    points) is copied as that root's; raises UserError where the target already holds files."""
    target = PostgresCatalog(uri, roots=roots)
    try:
        if target.read_only:
            raise UserError(
                f"the catalog {masked(uri)} is read-only for this role",
                "migrate with a role that may create tables in that database",
            )
        with AdvisoryLock(uri, LOCK_SCHEMA, "another ris is migrating into this catalog"):
            held = target._q(f"SELECT count(*) FROM {SCHEMA}.files").fetchone()[0]
            if held:
                raise UserError(
                    f"the catalog {masked(uri)} already holds a library ({held} files)",
                    "migrate into an empty database (ris never merges two libraries)",
                )
            total = source.face_count()
            with target.pg.transaction():  # all or nothing: a failure leaves the target empty
                counts = _copy(source, target, total, progress)
                _verify(source, target, counts)  # a difference undoes the copy
        return counts
    finally:
        target.close()


def _copy(
    source: Catalog,
    target: PostgresCatalog,
    total: int,
    progress: Callable[[int, int], None],
) -> CatalogCopy:
    db, src = target.pg, source.db
    meta = src.execute("SELECT key, value FROM meta").fetchall()
    # a fresh catalog's library id, if any, gives way; its outbox row stays (none is fed yet)
    db.execute(f"DELETE FROM {SCHEMA}.meta WHERE key <> %s", (str(LibraryKey.OUTBOX_TOKEN),))
    meta = [(k, v) for k, v in meta if k != LibraryKey.OUTBOX_TOKEN]
    with db.cursor() as cur:
        cur.executemany(f"INSERT INTO {SCHEMA}.meta VALUES (%s, %s)", meta)
        files = 0
        columns = _file_columns(source)
        with cur.copy(f"COPY {SCHEMA}.files ({columns}) FROM STDIN") as copy:
            for row in src.execute(f"SELECT {columns} FROM files ORDER BY id"):
                copy.write_row((row[0], target.roots.stored(loaded_path(row[1])), *row[2:]))
                files += 1
        faces = 0
        with cur.copy(f"COPY {SCHEMA}.faces ({_FACE_COLUMNS}, vector_crc) FROM STDIN") as copy:
            rows = src.execute(f"SELECT {_FACE_COLUMNS} FROM faces ORDER BY id")
            while chunk := rows.fetchmany(_BATCH):
                for row in chunk:
                    copy.write_row((*row, vector_crc(row[9])))
                faces += len(chunk)
                progress(faces, total)
        for table, (cols, order) in _PEOPLE_TABLES.items():
            if _has_table(source, table):
                with cur.copy(f"COPY {SCHEMA}.{table} ({cols}) FROM STDIN") as copy:
                    for row in src.execute(f"SELECT {cols} FROM {table} ORDER BY {order}"):
                        copy.write_row(row)
        # ids are never reused: the identities go on from where SQLite's did
        for table, last in (
            ("files", _last_id(source, "files")),
            ("faces", _last_id(source, "faces")),
            ("people", _last_id(source, "people") if _has_table(source, "people") else 0),
        ):
            if last:
                cur.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)",
                    (f"{SCHEMA}.{table}", last),
                )
    return CatalogCopy(files, faces, len(meta))


def _last_id(source: Catalog, table: str) -> int:
    """The highest id the table ever gave (SQLite's AUTOINCREMENT remembers deleted ones)."""
    top = source.db.execute(f"SELECT max(id) FROM {table}").fetchone()[0] or 0
    try:
        row = source.db.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)
        ).fetchone()
    except Exception:  # no AUTOINCREMENT table yet
        row = None
    return max(int(top), int(row[0]) if row else 0)


def _has_table(source: Catalog, table: str) -> bool:
    """Whether the source has this table (a catalog opened read-only may predate it)."""
    found = source.db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    return found is not None


def _file_columns(source: Catalog) -> str:
    """The files' columns to copy: with their fingerprints and shot cuts where the source
    keeps them (a catalog opened read-only may predate them)."""
    have = {row[1] for row in source.db.execute("PRAGMA table_info(files)")}
    return _FILE_COLUMNS + "".join(f", {c}" for c in ("fingerprint", "cuts") if c in have)


def _verify(source: Catalog, target: PostgresCatalog, counts: CatalogCopy) -> None:
    """Every row of the copy equal to its source row, vectors byte for byte."""

    def pairs(sql_src: str, sql_dst: str) -> Iterator[tuple[tuple, tuple]]:
        theirs = target.pg.cursor()
        theirs.execute(sql_dst)  # type: ignore[arg-type]
        ours = source.db.execute(sql_src)
        while chunk := ours.fetchmany(_BATCH):
            other = theirs.fetchmany(len(chunk))
            if len(other) != len(chunk):
                raise UserError("the copy has fewer rows than the source: nothing was copied")
            yield from zip(chunk, other, strict=True)
        if theirs.fetchone() is not None:
            raise UserError("the copy has more rows than the source")
        theirs.close()

    columns = _file_columns(source)
    for a, b in pairs(
        f"SELECT {columns} FROM files ORDER BY id",
        f"SELECT {columns} FROM {SCHEMA}.files ORDER BY id",
    ):
        name = target.roots.loaded(b[1])
        if (a[0], loaded_path(a[1]), *a[2:]) != (b[0], name, *b[2:]):
            raise UserError(f"the copy of {loaded_path(a[1])} differs from the source")
    for a, b in pairs(
        f"SELECT {_FACE_COLUMNS} FROM faces ORDER BY id",
        f"SELECT {_FACE_COLUMNS} FROM {SCHEMA}.faces ORDER BY id",
    ):
        if tuple(a[:9]) != tuple(b[:9]) or bytes(a[9]) != bytes(b[9]):
            raise UserError(f"the copy of face {a[0]} differs from the source")
    for table, (cols, order) in _PEOPLE_TABLES.items():
        if not _has_table(source, table):
            continue
        for a, b in pairs(
            f"SELECT {cols} FROM {table} ORDER BY {order}",
            f"SELECT {cols} FROM {SCHEMA}.{table} ORDER BY {order}",
        ):
            if tuple(bytes(x) if isinstance(x, memoryview) else x for x in b) != tuple(a):
                raise UserError(f"the copy of the {table} differs from the source")
    meta = dict(source.db.execute("SELECT key, value FROM meta").fetchall())
    copied: dict[str, str] = dict(
        target.pg.execute(
            f"SELECT key, value FROM {SCHEMA}.meta WHERE key <> %s",
            (str(LibraryKey.OUTBOX_TOKEN),),
        ).fetchall()
    )
    if meta != copied or len(meta) != counts.meta:
        raise UserError("the copy's library settings differ from the source's")
