"""The catalog's own speed, SQLite against PostgreSQL, with synthetic faces (no models):
commit rate (faces/s) with one writer and with several sharing the work by claims, claim rate,
and the catalog lookups a search makes (the faces of 1,000 hits and their files).

    python -m engine.tools.bench_catalog --catalog postgresql://... [--faces 100000] [--writers 3]

The PostgreSQL database must be empty (it is filled, then left as it is); the SQLite catalog is
written in a temporary folder. Ratios are against SQLite measured in the same run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.library.catalog import Catalog
from engine.media.sampling import MediaInfo
from engine.models.faces import NewFace
from engine.vocabulary import EMBEDDING_DIM, MediaKind

FACES_PER_FILE = 50


def _faces(seed: int, n: int = FACES_PER_FILE) -> list[NewFace]:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, EMBEDDING_DIM)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return [NewFace(0.5 * k, (1.0, 2.0, 50.0, 60.0), 0.99, v[k], k // 10) for k in range(n)]


_INFO = MediaInfo(MediaKind.VIDEO, 640, 360, 25.0, 25.0, FACES_PER_FILE, 0.5, 0.0)


def _fill(cat: Catalog, files: range, claims: object = None) -> None:
    from engine.library.claims import Claims

    for k in files:
        path = f"/archive/{k // 1000:04d}/clip{k:07d}.mp4"
        fence = None
        if isinstance(claims, Claims):
            got = claims.claim(path)
            if got is None:
                continue
            fence = got[0]
            if cat.file(path) is not None:  # another writer committed it: a new claim, undone
                claims.release(path)
                continue
            claims.done(path)  # the commit ends it
        cat.save_indexed(path, 1000 + k, k, _INFO, _faces(k), fence)


def _writer(uri: str, files: range) -> None:
    from engine.library.claims import Claims
    from engine.library.postgres_catalog import PostgresCatalog

    cat, claims = PostgresCatalog(uri), Claims(uri)
    try:
        _fill(cat, files, claims)
    finally:
        claims.close()
        cat.close()


def _lookups(cat: Catalog, rounds: int = 20) -> float:
    """Seconds for what a search asks the catalog: 1,000 hits' faces, then their files."""
    ids = cat.face_ids()
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    for _ in range(rounds):
        hits = np.sort(rng.choice(ids, min(1000, len(ids)), replace=False))
        rows = cat.faces(hits)
        cat.files_by_id(set(rows.file_ids.tolist()))
    return (time.perf_counter() - t0) / rounds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True, help="an empty PostgreSQL database")
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--writers", type=int, default=3)
    args = parser.parse_args(argv)
    from engine.library.claims import Claims
    from engine.library.postgres_catalog import PostgresCatalog

    files = max(1, args.faces // FACES_PER_FILE)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        lite = Catalog(Path(folder) / "catalog.sqlite")
        t0 = time.perf_counter()
        _fill(lite, range(files))
        sqlite_rate = files * FACES_PER_FILE / (time.perf_counter() - t0)
        rows.append(("SQLite, 1 writer", sqlite_rate))
        sqlite_lookup = _lookups(lite)

        pg = PostgresCatalog(args.catalog)
        half = files // 2
        t0 = time.perf_counter()
        _writer(args.catalog, range(half))  # one writer, through claims
        rows.append(("PostgreSQL, 1 writer", half * FACES_PER_FILE / (time.perf_counter() - t0)))
        t0 = time.perf_counter()
        procs = [
            mp.get_context("spawn").Process(target=_writer, args=(args.catalog, range(half, files)))
            for _ in range(args.writers)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        shared = (files - half) * FACES_PER_FILE / (time.perf_counter() - t0)
        rows.append((f"PostgreSQL, {args.writers} writers sharing by claims", shared))
        assert pg.face_count() == files * FACES_PER_FILE, "every file committed once"
        pg_lookup = _lookups(pg)

        claims = Claims(args.catalog)
        t0 = time.perf_counter()
        n = 2000
        for k in range(n):
            path = f"/claims/{k}"
            claims.claim(path)
            claims.release(path)
        claim_rate = n / (time.perf_counter() - t0)
        claims.close()
        pg.close()
        lite.close()

    print(
        f"catalog commit rate, {files * FACES_PER_FILE:,} synthetic faces ({FACES_PER_FILE} per file)"
    )
    for name, rate in rows:
        print(f"  {name:<44} {rate:>10,.0f} faces/s  {rate / sqlite_rate:5.2f}x SQLite")
    print(f"claim + release, one process: {claim_rate:,.0f}/s")
    print(
        f"search lookups (1,000 hits' faces and files): SQLite {sqlite_lookup * 1000:.1f} ms, "
        f"PostgreSQL {pg_lookup * 1000:.1f} ms ({pg_lookup / sqlite_lookup:.2f}x)"
    )


if __name__ == "__main__":
    main()
