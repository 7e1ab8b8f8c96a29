"""The usearch backend (the default store): an HNSW index over every face vector, cosine,
keyed by face id, in a file of the data directory loaded into this process.

The file is a cache of the catalog's vectors. A sidecar (`faces.json`) records the catalog
version it matches, its count and the file's CRC-32; a file that does not match its sidecar
(damaged on disk, or from an interrupted save) opens empty at version -1, and `base.reconcile`
rebuilds it from the catalog. Saves are atomic (temp file, rename).
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from usearch.index import Index

from engine.errors import StoreError
from engine.library.private_files import open_fresh, private_dir, write_private
from engine.library.stores.base import VersionMark
from engine.vocabulary import EMBEDDING_DIM

if TYPE_CHECKING:
    from engine.library.stores.base import Entries

EXACT_BELOW = 50_000  # brute force is exact and fast enough below this many vectors


class UsearchStore(VersionMark):
    shared = False  # each process holds its own copy in memory

    def __init__(self, path: Path, ndim: int = EMBEDDING_DIM) -> None:
        self.path = path
        self.ndim = ndim
        self._version = -1
        self.index = Index(ndim=ndim, metric="cos", dtype="f32")
        self.damaged = False  # the file did not match the checksum it was saved with
        meta = path.with_suffix(".json")
        if path.exists() and meta.exists():
            try:
                recorded = json.loads(meta.read_text())
                data = path.read_bytes()
                if "crc32" in recorded and zlib.crc32(data) != recorded["crc32"]:
                    self.damaged = True
                    raise ValueError("checksum mismatch")
                self.index.load(data)
                if self.index.ndim == ndim and recorded.get("count") == len(self.index):
                    self._version = int(recorded["version"])
            except (ValueError, RuntimeError, KeyError, OSError):
                self.index = Index(ndim=ndim, metric="cos", dtype="f32")

    def __len__(self) -> int:
        return len(self.index)

    def describe(self) -> str:
        return f"usearch {self.path}"

    def keys(self, lo: int = 0, hi: int | None = None) -> np.ndarray:
        if not len(self.index):
            return np.zeros(0, np.int64)
        keys = np.asarray(self.index.keys, dtype=np.int64)
        if lo > 0:
            keys = keys[keys >= lo]
        return keys if hi is None else keys[keys < hi]

    def add(self, entries: Entries) -> None:
        if len(entries):
            self.index.add(
                np.asarray(entries.keys, dtype=np.int64),
                np.asarray(entries.vectors, dtype=np.float32),
            )

    def replace(self, entries: Entries) -> None:
        self.remove(entries.keys)
        self.add(entries)

    def remove(self, keys: np.ndarray) -> None:
        if len(keys):
            self.index.remove(np.asarray(keys, dtype=np.int64))

    def save(self) -> None:
        """Write the index, then the sidecar naming the catalog version it holds; each atomic."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            private_dir(self.path.parent)
            # a fresh private file of our own for usearch to fill: whatever was left at that
            # name (a planted link) is removed, never followed
            os.close(open_fresh(tmp))
            self.index.save(str(tmp))
            crc = zlib.crc32(tmp.read_bytes())
            os.replace(tmp, self.path)
            sidecar = {"version": self._version, "count": len(self.index), "ndim": self.ndim}
            sidecar["crc32"] = crc
            write_private(self.path.with_suffix(".json"), json.dumps(sidecar).encode())
        except (OSError, RuntimeError) as err:  # a full disk, a read-only folder
            tmp.unlink(missing_ok=True)
            raise StoreError(
                f"cannot save the vectors to {self.path}: {getattr(err, 'strerror', None) or err}",
                "free some space (or make the folder writable) and run again: the catalog holds "
                "every vector, and the next run rebuilds the file from it",
            ) from err

    def get(self, keys: np.ndarray) -> np.ndarray:
        if not len(keys):
            return np.zeros((0, self.ndim), np.float32)
        return np.asarray(self.index.get(np.asarray(keys, dtype=np.int64)), dtype=np.float32)

    def export(self, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        keys = self.keys()
        for lo in range(0, len(keys), batch):
            part = keys[lo : lo + batch]
            yield part, self.get(part)

    def clear(self) -> None:
        self.index = Index(ndim=self.ndim, metric="cos", dtype="f32")
        self._version = -1

    def close(self) -> None:
        pass

    def search(
        self,
        queries: np.ndarray,
        min_similarity: float,
        one_per_track: bool = False,
        limit: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every key within `min_similarity` (cosine) of any query: keys and their best similarity.

        usearch knows no tracks: it always returns every key, `one_per_track` or not.
        """
        size = len(self.index)
        if size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        best: dict[int, float] = {}
        for q in queries:
            keys, sims = self._above(q, min_similarity, size, min(size, limit or size))
            for k, s in zip(keys.tolist(), sims.tolist(), strict=True):
                if s > best.get(k, -1.0):
                    best[k] = s
        keys = np.fromiter(best.keys(), dtype=np.int64, count=len(best))
        return keys, np.fromiter(best.values(), dtype=np.float32, count=len(best))

    def _above(
        self, query: np.ndarray, min_similarity: float, size: int, most: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Keys at `min_similarity` or more, nearest first, `most` of them at most."""
        count = min(most, 256)
        while True:
            found = self.index.search(query, count, exact=size < EXACT_BELOW)
            keys = np.asarray(found.keys, dtype=np.int64)
            sims = 1.0 - np.asarray(found.distances, dtype=np.float32)
            if len(keys) < count or count >= most or sims[-1] < min_similarity:
                keep = sims >= min_similarity
                return keys[keep], sims[keep]
            count = min(most, count * 4)
