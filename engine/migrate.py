"""Moving a library's vectors to another store (usearch -> Milvus, or back) without re-embedding.

The source store is caught up with the catalog, then copied batch by batch with the catalog's
file and track fields; the copy is verified (counts equal, sampled vectors bit-for-bit equal)
before the library switches to it. The source is left as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace

import numpy as np

from .api import Engine
from .catalog import Catalog
from .errors import StoreError, UserError
from .lock import WriterLock
from .store import Entries, VectorStore, choose, open_store, record

BATCH = 8192
SPOT_CHECKS = 200


@dataclass(frozen=True)
class Migration:
    source: str
    target: str
    vectors: int
    checked: int  # vectors compared between the two stores
    seconds: float


def migrate(
    engine: Engine,
    to: str,
    replace_other: bool = False,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Migration:
    """Copy the library's vectors into the `to` backend and make that the library's store."""
    if not engine.exists():
        raise UserError(f"nothing is indexed in {engine.settings.data_dir}", "nothing to migrate")
    t0 = time.monotonic()
    settings, catalog = engine.settings, engine.catalog
    # the source is the library's own store; --milvus-uri and --milvus-collection name the target
    source_choice = choose(replace(settings, milvus_uri=None, milvus_collection=None), catalog)
    target_choice = choose(replace(settings, backend=to), catalog)
    if target_choice == source_choice:
        raise UserError(
            f"the library already uses {source_choice.describe()}",
            "name another target (--to, --milvus-uri, --milvus-collection)",
        )
    with WriterLock(settings.lock_path):
        source = open_store(source_choice, settings, catalog, create=False)
        target: VectorStore | None = None
        try:
            if source.sync(catalog):
                source.save(catalog.version)
            target = open_store(
                target_choice, settings, catalog, create=True, replace=replace_other
            )
            target.clear()
            total = len(source)
            done = 0
            progress(done, total)
            for keys, vectors in source.export(BATCH):
                target.add(_with_fields(catalog, keys, vectors))
                done += len(keys)
                progress(done, total)
            target.save(catalog.version)
            checked = _verify(source, target, catalog)
            record(target_choice, catalog)
        finally:
            for store in (source, target):
                if store is not None:
                    with suppress(StoreError):
                        store.close()
    return Migration(
        source_choice.describe(), target_choice.describe(), total, checked, time.monotonic() - t0
    )


def _with_fields(catalog: Catalog, keys: np.ndarray, vectors: np.ndarray) -> Entries:
    """The source's vectors with the catalog's file, track and time for each key."""
    rows = catalog.faces(keys)
    at = {int(k): i for i, k in enumerate(rows.ids.tolist())}
    lost = [int(k) for k in keys if int(k) not in at]
    if lost:
        raise StoreError(
            f"the source store holds {len(lost)} vectors the catalog does not know "
            f"(e.g. id {lost[0]})",
            "run `ris index` on the library first to reconcile them",
        )
    order = np.asarray([at[int(k)] for k in keys], dtype=np.int64)
    return Entries(
        np.asarray(keys, np.int64),
        np.asarray(vectors, np.float32),
        rows.file_ids[order],
        rows.tracks[order],
        rows.times[order],
    )


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
