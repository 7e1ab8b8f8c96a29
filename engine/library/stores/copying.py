"""Copying a library's vectors from one store into another (usearch -> Milvus, or back) without
re-embedding: batch by batch with the catalog's fields, then verified (counts equal, sampled
vectors bit-for-bit equal) before the copy is adopted as current. The source is left as it was.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.errors import StoreError
from engine.library.catalog import Catalog
from engine.library.stores.base import Entries, VectorStore, adopt, level

BATCH = 8192
SPOT_CHECKS = 200

Progress = Callable[[int, int], None]


def copy_store(
    source: VectorStore, target: VectorStore, catalog: Catalog, progress: Progress
) -> tuple[int, int]:
    """Fill `target` with every vector of `source` (caught up with the catalog first); returns
    (vectors copied, vectors compared). The caller holds the writer lock."""
    level(source, catalog, save=True)
    target.clear()
    total = len(source)
    done = 0
    progress(done, total)
    for keys, vectors in source.export(BATCH):
        target.add(Entries.from_catalog(catalog, keys, vectors))
        done += len(keys)
        progress(done, total)
    checked = _verify(source, target, catalog)
    adopt(target, catalog)
    return total, checked


def _verify(source: VectorStore, target: VectorStore, catalog: Catalog) -> int:
    """Counts equal everywhere and a sample of vectors equal bit for bit; how many compared."""
    counts = {"source": len(source), "target": len(target), "catalog": catalog.face_count()}
    if len(set(counts.values())) != 1:
        raise StoreError(
            "the copy is incomplete: "
            + ", ".join(f"{name} {n} vectors" for name, n in counts.items()),
            "run the migration again; the library still uses its old store",
        )
    keys = catalog.face_ids()
    if not len(keys):
        return 0
    rng = np.random.default_rng(0)
    sample = rng.choice(keys, size=min(SPOT_CHECKS, len(keys)), replace=False)
    a, b = source.get(sample), target.get(sample)
    if not np.array_equal(a, b):
        bad = int(np.flatnonzero(np.any(a != b, axis=1))[0])
        raise StoreError(
            f"vector {int(sample[bad])} differs between the stores after the copy",
            "run the migration again; the library still uses its old store",
        )
    return len(sample)
