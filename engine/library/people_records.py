"""People as the catalog keeps them (its tables `people` and `appearances`, on SQLite or
PostgreSQL alike): each appearance of the library summed up once (engine/people/), the person it
was put in, and the user's corrections: names, merges, appearances taken out.

An appearance row goes with its best face (a foreign key): when its file is indexed again or
forgotten, its faces go and so do its appearances, and the next update sums them up anew. A
person outlives its appearances: its name and template stay, so the new appearances of a file
indexed again join it. Every write is one transaction, serialised with the other writers of
people (SQLite's write lock; a PostgreSQL advisory lock), so two processes correcting people
at once lose neither correction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.library.catalog import Catalog, FileRecord, _chunks
from engine.vocabulary import EMBEDDING_DIM, FileStatus


@dataclass(frozen=True)
class StoredAppearances:
    """Appearances as kept: parallel arrays, one row each."""

    files: np.ndarray
    tracks: np.ndarray
    best: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    faces: np.ndarray
    vectors: np.ndarray  # (N, EMBEDDING_DIM)
    people: np.ndarray  # person id, -1: unsorted
    pinned: np.ndarray  # bool
    refused: np.ndarray  # person id the user took it out of, -1: none

    def __len__(self) -> int:
        return len(self.files)


@dataclass(frozen=True)
class PersonRow:
    id: int
    name: str | None
    template: np.ndarray | None


class PeopleRecords:
    """The people tables of one open catalog."""

    def __init__(self, catalog: Catalog) -> None:
        from engine.library.postgres_catalog import PostgresCatalog

        self.catalog = catalog
        self.postgres = isinstance(catalog, PostgresCatalog)
        prefix = "ris." if self.postgres else ""
        self._people, self._appearances = f"{prefix}people", f"{prefix}appearances"
        self._faces, self._files = f"{prefix}faces", f"{prefix}files"

    def _q(self, sql: str, args: tuple | list = ()) -> Any:
        if self.postgres:
            sql = sql.replace("?", "%s")
        return self.catalog.db.execute(sql, args)  # type: ignore[arg-type]

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One transaction that no other writer of people interleaves with."""
        if self.postgres:
            from engine.library.postgres_catalog import LOCK_NAMESPACE, LOCK_PEOPLE

            with self.catalog.db.transaction():  # type: ignore[attr-defined]
                self._q("SELECT pg_advisory_xact_lock(?, ?)", (LOCK_NAMESPACE, LOCK_PEOPLE))
                yield
            return
        db = self.catalog.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.rollback()
            raise
        db.commit()

    # appearances --------------------------------------------------------------------------
    def files_to_sum_up(self) -> list[FileRecord]:
        """Indexed files with faces whose appearances are not summed up yet."""
        rows = self._q(
            f"SELECT id FROM {self._files} f WHERE status = ? AND faces > 0 AND NOT EXISTS "
            f"(SELECT 1 FROM {self._appearances} a WHERE a.file_id = f.id) ORDER BY id",
            (str(FileStatus.INDEXED),),
        ).fetchall()
        found = self.catalog.files_by_id([r[0] for r in rows])
        return [found[r[0]] for r in rows if r[0] in found]

    def add(
        self,
        files: np.ndarray,
        tracks: np.ndarray,
        best: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        faces: np.ndarray,
        vectors: np.ndarray,
    ) -> None:
        """New appearances, unsorted (inside `writing`). One whose best face is gone by now
        (its file indexed again meanwhile) is not added."""
        rows = [
            (
                int(f),
                int(t),
                int(b),
                float(s),
                float(e),
                int(n),
                np.asarray(v, np.float32).tobytes(),
            )
            for f, t, b, s, e, n, v in zip(
                files, tracks, best, starts, ends, faces, vectors, strict=True
            )
        ]
        conflict = "ON CONFLICT DO NOTHING"
        for chunk in _chunks(rows, 500):
            for row in chunk:
                self._q(
                    f"INSERT INTO {self._appearances} (file_id, track, best_face, t_start, "
                    f"t_end, faces, vector) SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS "
                    f"(SELECT 1 FROM {self._faces} WHERE id = ?) {conflict}",
                    (*row, row[2]),
                )

    def stored(self) -> StoredAppearances:
        rows = self._q(
            "SELECT file_id, track, best_face, t_start, t_end, faces, vector, person_id, "
            f"pinned, refused FROM {self._appearances} ORDER BY file_id, track"
        ).fetchall()
        n = len(rows)
        col = list(zip(*rows, strict=True)) if rows else [()] * 10
        vectors = (
            np.stack([np.frombuffer(bytes(v), np.float32) for v in col[6]])
            if n
            else np.zeros((0, EMBEDDING_DIM), np.float32)
        )
        return StoredAppearances(
            np.asarray(col[0], np.int64),
            np.asarray(col[1], np.int64),
            np.asarray(col[2], np.int64),
            np.asarray(col[3], np.float64),
            np.asarray(col[4], np.float64),
            np.asarray(col[5], np.int64),
            vectors,
            np.asarray([-1 if p is None else p for p in col[7]], np.int64),
            np.asarray(col[8], bool),
            np.asarray([-1 if p is None else p for p in col[9]], np.int64),
        )

    def place(self, files: np.ndarray, tracks: np.ndarray, people: np.ndarray) -> None:
        """Put unsorted, unpinned appearances in people (inside `writing`); one the user has
        pinned or placed meanwhile is left as they put it."""
        for f, t, p in zip(files.tolist(), tracks.tolist(), people.tolist(), strict=True):
            self._q(
                f"UPDATE {self._appearances} SET person_id = ? WHERE file_id = ? AND track = ? "
                f"AND pinned = 0 AND person_id IS NULL AND EXISTS "
                f"(SELECT 1 FROM {self._people} WHERE id = ?)",
                (int(p), int(f), int(t), int(p)),
            )

    # people -------------------------------------------------------------------------------
    def people(self) -> list[PersonRow]:
        rows = self._q(f"SELECT id, name, template FROM {self._people} ORDER BY id").fetchall()
        return [
            PersonRow(
                int(r[0]),
                r[1],
                None if r[2] is None else np.frombuffer(bytes(r[2]), np.float32).copy(),
            )
            for r in rows
        ]

    def new_person(self, template: np.ndarray) -> int:
        """A new person (inside `writing`): its id."""
        row = self._q(
            f"INSERT INTO {self._people} (template) VALUES (?) RETURNING id",
            (np.asarray(template, np.float32).tobytes(),),
        ).fetchone()
        return int(row[0])

    def set_templates(self, ids: list[int], templates: np.ndarray) -> None:
        for key, v in zip(ids, templates, strict=True):
            self._q(
                f"UPDATE {self._people} SET template = ? WHERE id = ?",
                (np.asarray(v, np.float32).tobytes(), int(key)),
            )

    def exists(self, person: int) -> bool:
        return (
            self._q(f"SELECT 1 FROM {self._people} WHERE id = ?", (person,)).fetchone() is not None
        )

    def named(self, name: str) -> list[int]:
        rows = self._q(f"SELECT id FROM {self._people} WHERE name = ? ORDER BY id", (name,))
        return [int(r[0]) for r in rows.fetchall()]

    def name(self, person: int, name: str | None) -> None:
        with self.writing():
            self._q(f"UPDATE {self._people} SET name = ? WHERE id = ?", (name, person))

    def merge(self, into: int, other: int) -> None:
        """Every appearance of `other` becomes `into`'s, pinned there (the user's choice); its
        name goes to `into` when that has none; `other` is gone."""
        with self.writing():
            self._q(
                f"UPDATE {self._appearances} SET person_id = ?, pinned = 1 WHERE person_id = ?",
                (into, other),
            )
            self._q(
                f"UPDATE {self._people} SET name = (SELECT name FROM {self._people} WHERE id = ?) "
                "WHERE id = ? AND name IS NULL",
                (other, into),
            )
            self._q(f"DELETE FROM {self._people} WHERE id = ?", (other,))

    def take_out(self, file_id: int, track: int) -> int | None:
        """Take an appearance out of its person for good: it is unsorted, and no update puts
        it back in that person (another may take it). The person it was in, or None."""
        with self.writing():
            row = self._q(
                f"SELECT person_id FROM {self._appearances} WHERE file_id = ? AND track = ?",
                (file_id, track),
            ).fetchone()
            if row is None or row[0] is None:
                return None
            self._q(
                f"UPDATE {self._appearances} SET person_id = NULL, pinned = 0, refused = ? "
                "WHERE file_id = ? AND track = ?",
                (row[0], file_id, track),
            )
            return int(row[0])
