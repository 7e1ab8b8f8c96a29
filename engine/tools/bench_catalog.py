"""The catalog's own speed, SQLite against PostgreSQL, with synthetic faces (no models):
commit rate (faces/s) as the catalog grows, SQLite with one writer and PostgreSQL with several
sharing the work by claims; claim rate; the catalog lookups a search makes (the faces of 1,000
hits and their files) at the final size.

    python -m engine.tools.bench_catalog --catalog postgresql://... [--faces 1000000] [--writers 3]

The PostgreSQL database must be empty (it is filled, then left as it is); the SQLite catalog is
written in a temporary folder. Ratios are against SQLite measured in the same run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from collections.abc import Callable
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


def _claimer(uri: str, prefix: str, n: int) -> None:
    from engine.library.claims import Claims

    claims = Claims(uri)
    try:
        for k in range(n):
            path = f"/claims/{prefix}/{k}"
            claims.claim(path)
            claims.release(path)
    finally:
        claims.close()


def _in_processes(target: Callable[..., None], jobs: list[tuple]) -> float:
    """Seconds for `target(*job)` for every job at once, one process each."""
    procs = [mp.get_context("spawn").Process(target=target, args=job) for job in jobs]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode for p in procs):
        raise SystemExit("a writer failed")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True, help="an empty PostgreSQL database")
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--writers", type=int, default=3)
    parser.add_argument("--stages", type=int, default=4, help="rates told as the catalog grows")
    args = parser.parse_args(argv)
    from engine.library.postgres_catalog import PostgresCatalog

    files = max(args.stages, args.faces // FACES_PER_FILE)
    bounds = [round(files * (k + 1) / args.stages) for k in range(args.stages)]
    lite_rates, pg_rates = [], []
    with tempfile.TemporaryDirectory() as folder:
        lite = Catalog(Path(folder) / "catalog.sqlite")
        lo = 0
        for hi in bounds:
            t0 = time.perf_counter()
            _fill(lite, range(lo, hi))
            lite_rates.append((hi - lo) * FACES_PER_FILE / (time.perf_counter() - t0))
            lo = hi
        sqlite_lookup = _lookups(lite)

        # one writer through claims on the first files, as a baseline for sharing
        first = max(1, bounds[0] // 10)
        t0 = time.perf_counter()
        _writer(args.catalog, range(first))
        one_writer = first * FACES_PER_FILE / (time.perf_counter() - t0)
        lo = first
        for hi in bounds:  # then all writers on the same files, sharing them by claims
            seconds = _in_processes(_writer, [(args.catalog, range(lo, hi))] * args.writers)
            pg_rates.append((hi - lo) * FACES_PER_FILE / seconds)
            lo = hi
        pg = PostgresCatalog(args.catalog)
        assert pg.face_count() == files * FACES_PER_FILE, "every file committed once"
        pg_lookup = _lookups(pg)
        n = 2000
        alone = n / _in_processes(_claimer, [(args.catalog, "alone", n)])
        together = (
            n
            * args.writers
            / _in_processes(_claimer, [(args.catalog, f"w{k}", n) for k in range(args.writers)])
        )
        pg.close()
        lite.close()

    print(f"catalog commit rate, synthetic faces ({FACES_PER_FILE} per file), as it grows:")
    print(
        f"  {'faces in the catalog':>22}  {'SQLite, 1 writer':>17}  {args.writers} PostgreSQL writers"
    )
    for hi, a, b in zip(bounds, lite_rates, pg_rates, strict=True):
        print(
            f"  {hi * FACES_PER_FILE:>22,}  {a:>11,.0f} /s  {b:>11,.0f} /s  ({b / a:.2f}x SQLite)"
        )
    print(
        f"PostgreSQL, 1 writer (first {first * FACES_PER_FILE:,} faces): {one_writer:,.0f} faces/s"
    )
    print(
        f"claim + release: {alone:,.0f}/s in one process, {together:,.0f}/s in all from "
        f"{args.writers} at once"
    )
    print(
        f"search lookups at {files * FACES_PER_FILE:,} faces (1,000 hits' faces and files): "
        f"SQLite {sqlite_lookup * 1000:.1f} ms, PostgreSQL {pg_lookup * 1000:.1f} ms "
        f"({pg_lookup / sqlite_lookup:.2f}x)"
    )


if __name__ == "__main__":
    main()
