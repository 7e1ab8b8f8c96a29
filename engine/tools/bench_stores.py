"""`just bench-stores`: the two vector stores on synthetic face-like vectors.

    python -m engine.tools.bench_stores [--vectors 1000000] [--queries 200] [--backends usearch milvus]

The vectors imitate FaceNet embeddings of an archive: identities (a random unit centre each)
seen in many frames (centre plus noise, normalised; two faces of one person have cosine
similarity about 0.6, strangers about 0). Queries are new faces of indexed people. For each
backend, through the engine's own store classes: the insert rate (vectors/s, batches as an
index run sends them, durable save included), the latency of a top-10 query (median and 95th
percentile, one query at a time, as a search does) and recall at 10 against exact search by
brute force in numpy, measured in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.library.catalog import Catalog
from engine.library.stores.base import Entries
from engine.library.stores.choice import StoreChoice, open_store
from engine.library.stores.milvus import MilvusStore
from engine.library.stores.usearch import UsearchStore
from engine.settings import Settings
from engine.tools.bench import percentile
from engine.vocabulary import EMBEDDING_DIM

FACES_PER_PERSON = 20
NOISE = 0.035  # per dimension; gives same-person similarity about 0.6, like FaceNet
INSERT_BATCH = 10_000


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def synthetic(n: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors, their person, queries): n faces of n/20 people, and new faces of some of them."""
    rng = np.random.default_rng(seed)
    people = max(1, n // FACES_PER_PERSON)
    centres = unit_rows(rng.standard_normal((people, EMBEDDING_DIM), dtype=np.float32))
    person = rng.integers(0, people, n)
    vectors = np.empty((n, EMBEDDING_DIM), np.float32)
    for lo in range(0, n, 100_000):
        hi = min(n, lo + 100_000)
        noise = rng.standard_normal((hi - lo, EMBEDDING_DIM), dtype=np.float32) * NOISE
        vectors[lo:hi] = unit_rows(centres[person[lo:hi]] + noise)
    asked = rng.choice(person, queries)
    q = unit_rows(
        centres[asked] + rng.standard_normal((queries, EMBEDDING_DIM), dtype=np.float32) * NOISE
    )
    return vectors, person, q


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """The true top-k keys of each query, and the brute-force seconds per query."""
    t0 = time.perf_counter()
    out = np.empty((len(queries), k), np.int64)
    for lo in range(0, len(queries), 50):
        sims = queries[lo : lo + 50] @ vectors.T
        part = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1)
        out[lo : lo + 50] = np.take_along_axis(part, order, axis=1)
    return out, (time.perf_counter() - t0) / len(queries)


def top_k(store: object, query: np.ndarray, k: int) -> np.ndarray:
    """A plain top-k query on the store's own engine (the store contract searches by range)."""
    if isinstance(store, UsearchStore):
        found = store.index.search(query, k)
        return np.asarray(found.keys, np.int64)
    assert isinstance(store, MilvusStore)
    hits = store.client.search(store.name, data=[query.tolist()], limit=k, output_fields=[])[0]
    return np.asarray([h["id"] for h in hits], np.int64)


def measure(store: object, queries: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Top-10 latency (one query at a time) and recall at 10 against the exact answers."""
    top_k(store, queries[0], 10)  # warm up
    latencies, hits = [], 0
    for q, want in zip(queries, truth, strict=True):
        t = time.perf_counter()
        got = top_k(store, q, 10)
        latencies.append(time.perf_counter() - t)
        hits += len(set(got.tolist()) & set(want.tolist()))
    return {
        "median_ms": 1000 * float(np.median(latencies)),
        "p95_ms": 1000 * percentile(latencies, 0.95),
        "recall_at_10": hits / (10 * len(queries)),
    }


def run_backend(
    backend: str, vectors: np.ndarray, person: np.ndarray, queries: np.ndarray, truth: np.ndarray
) -> list[dict[str, object]]:
    """One row per search setting: usearch at several search widths (expansion_search)."""
    folder = Path(tempfile.mkdtemp(prefix=f"ris-bench-{backend}-"))
    try:
        settings = Settings.from_env(env={}, data_dir=folder)
        catalog = Catalog(folder / "catalog.sqlite")  # names the library; holds no faces here
        uri = str(folder / ("milvus.db" if backend == "milvus" else "faces.usearch"))
        store = open_store(
            StoreChoice(backend, uri, "bench" if backend == "milvus" else ""), settings, catalog
        )
        n = len(vectors)
        t0 = time.perf_counter()
        for lo in range(0, n, INSERT_BATCH):
            hi = min(n, lo + INSERT_BATCH)
            keys = np.arange(lo, hi, dtype=np.int64)
            store.add(Entries(keys, vectors[lo:hi], person[lo:hi], keys % 7, keys * 0.5))
        store.save()  # synthetic vectors: no catalog version to record
        inserted = {
            "insert_per_s": n / (time.perf_counter() - t0),
            "disk_mb": sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20,
        }
        rows: list[dict[str, object]] = []
        if isinstance(store, UsearchStore):
            shipped = store.index.expansion_search
            for ef in sorted({64, 128, 256, 512, shipped}):
                store.index.expansion_search = ef  # type: ignore[misc]
                label = f"usearch ef={ef}{' *' if ef == shipped else ''}"
                rows.append({"backend": label, **inserted, **measure(store, queries, truth)})
        else:
            rows.append({"backend": "milvus lite", **inserted, **measure(store, queries, truth)})
        store.close()
        catalog.close()
        return rows
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.tools.bench_stores", description=__doc__)
    ap.add_argument("--vectors", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--backends", nargs="+", default=["usearch", "milvus"])
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    vectors, person, queries = synthetic(args.vectors, args.queries)
    print(f"{args.vectors} synthetic 512-d vectors ({time.perf_counter() - t0:.0f} s to make)")
    truth, exact_s = exact_top(vectors, queries, 10)
    print(f"exact search (numpy brute force): {1000 * exact_s:.1f} ms per query\n")
    print(
        f"{'store':18s} {'insert/s':>9s} {'disk MB':>8s} {'median ms':>10s} {'p95 ms':>8s} "
        f"{'recall@10':>10s} {'median/exact':>13s}   (* ris's setting)"
    )
    for backend in args.backends:
        for r in run_backend(backend, vectors, person, queries, truth):
            print(
                f"{r['backend']!s:18s} {r['insert_per_s']:9.0f} {r['disk_mb']:8.0f} "
                f"{r['median_ms']:10.2f} {r['p95_ms']:8.2f} {r['recall_at_10']:10.3f} "
                f"{float(r['median_ms']) / (1000 * exact_s):12.3f}x",  # type: ignore[arg-type]
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
