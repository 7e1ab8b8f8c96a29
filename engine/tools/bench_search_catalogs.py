"""A whole search on a PostgreSQL catalog against the same library on SQLite, at 1 M faces
(synthetic, no models): the query's vector through the vector store, the matching and the
ranking, as `ris search` does after it has read the query.

    python -m engine.tools.bench_search_catalogs --catalog postgresql://... [--faces 1000000]

The faces belong to 500 synthetic people (a direction each, with noise: about 0.73 between two
faces of one person, 0 between people), so a query for one finds about 2,000 faces in 40 files
to rank, as a person of a large archive would. The library is built once on SQLite with its
usearch vectors, copied into the (empty) PostgreSQL database with `ris migrate --catalog`,
and the same usearch file serves both. Each search is timed warm, the median of --runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.api import Engine, build_engine
from engine.library.catalog import Catalog
from engine.media.sampling import MediaInfo
from engine.models.faces import NewFace
from engine.results import QueryFace
from engine.search.query import Query
from engine.settings import Settings
from engine.vocabulary import EMBEDDING_DIM, MediaKind

FACES_PER_FILE = 50
PEOPLE = 500
NOISE = 0.6  # of the person's direction: two faces of one person about 1 / (1 + NOISE²)


def _people(seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(PEOPLE, EMBEDDING_DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _fill(cat: Catalog, folder: Path, files: int, people: np.ndarray) -> None:
    """The faces of `files` videos, each an empty file under `folder` (a one-machine search
    leaves out what is not on disk)."""
    info = MediaInfo(MediaKind.VIDEO, 640, 360, 25.0, 25.0, FACES_PER_FILE, 0.5, 0.0)
    for k in range(files):
        rng = np.random.default_rng(k)
        noise = rng.normal(size=(FACES_PER_FILE, EMBEDDING_DIM)).astype(np.float32)
        noise *= NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
        v = people[k % PEOPLE] + noise
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        faces = [NewFace(0.5 * j, (10.0, 20.0, 90.0, 120.0), 0.99, v[j], 0) for j in range(len(v))]
        path = folder / f"{k // 1000:04d}" / f"clip{k:07d}.mp4"
        path.parent.mkdir(exist_ok=True)
        path.touch()
        cat.save_indexed(str(path), 1000 + k, k, info, faces)


def _timed(engine: Engine, query: Query, runs: int) -> tuple[float, int]:
    """The median seconds of a warm search, and the videos it ranked."""
    found = engine.search(query)  # warm: the store loaded, the catalog's pages read once
    seconds = []
    for _ in range(runs):
        t0 = time.perf_counter()
        engine.search(query)
        seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds), len(found.videos)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True, help="an empty PostgreSQL database")
    parser.add_argument("--faces", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    people = _people()
    files = max(1, args.faces // FACES_PER_FILE)
    face = QueryFace(1, (0.0, 0.0, 1.0, 1.0), 0.0, 1.0, 1)
    queries = [Query(f"person{p}", MediaKind.IMAGE, (face,), people[p][None]) for p in (0, 1, 2)]
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        (data / "archive").mkdir()
        t0 = time.perf_counter()
        cat = Catalog(data / "catalog.sqlite")
        _fill(cat, data / "archive", files, people)
        cat.close()
        print(
            f"{files * FACES_PER_FILE:,} faces in {files:,} files ({time.perf_counter() - t0:.0f} s)"
        )
        lite = build_engine(Settings.from_env(env={}, data_dir=data, backend="usearch"))
        t0 = time.perf_counter()
        lite.internals.store.save()  # built from the catalog as it opened; PostgreSQL's too
        print(f"usearch vectors built ({time.perf_counter() - t0:.0f} s)", flush=True)
        pg = build_engine(
            Settings.from_env(env={}, data_dir=data, backend="usearch", catalog=args.catalog)
        )
        copied, seconds = pg.migrate_catalog()
        print(f"copied into PostgreSQL by ris migrate --catalog ({seconds:.0f} s)", flush=True)
        rows = []
        for name, engine in (("SQLite", lite), ("PostgreSQL", pg)):
            times = [_timed(engine, q, args.runs) for q in queries]
            rows.append((name, statistics.median(t for t, _ in times), times[0][1]))
            engine.close()
    base = rows[0][1]
    print(
        f"a whole search at {files * FACES_PER_FILE:,} faces (warm, median of {args.runs} x 3 queries):"
    )
    for name, seconds, videos in rows:
        print(
            f"  {name:<12} {seconds * 1000:8.1f} ms  {seconds / base:5.2f}x SQLite  ({videos} videos ranked)"
        )


if __name__ == "__main__":
    main()
