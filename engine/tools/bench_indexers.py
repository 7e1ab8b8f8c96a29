"""Indexers sharing one library: one `ris index` against two at once on the same folder, each
pinned to a core of its own, the catalog on PostgreSQL (and, as the baseline of one machine,
one on SQLite). Wall time until every file is indexed, and the speed-up.

    python -m engine.tools.bench_indexers --catalog postgresql://... FOLDER [--cores 0,1]

The PostgreSQL database must be one ris may fill and empty: its `ris` schema is dropped before
each run. Each indexer has a data directory of its own (its usearch vectors), as it would on a
machine of its own; decoding and detection run in one thread each (OMP_NUM_THREADS=1), so a
core is an indexer.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _drop(uri: str) -> None:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as db:
        db.execute("DROP SCHEMA IF EXISTS ris CASCADE")


def _indexers(folder: Path, work: Path, cores: list[int], catalog: str | None) -> float:
    """Seconds until `len(cores)` indexers, one per core, have all returned."""
    env = {k: v for k, v in os.environ.items() if k not in ("RIS_CATALOG", "RIS_BACKEND")}
    env |= {"OMP_NUM_THREADS": "1", "RIS_DECODE_WORKERS": "1", "RIS_BACKEND": "usearch"}
    if catalog:
        env["RIS_CATALOG"] = catalog
    procs = []
    t0 = time.perf_counter()
    for k, core in enumerate(cores):
        data = work / f"machine{k}-{len(cores)}-{'pg' if catalog else 'sqlite'}"
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "engine.frontends.cli", "index", str(folder)]
                + ["--data-dir", str(data)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=lambda core=core: os.sched_setaffinity(0, {core}),  # type: ignore[misc]
            )
        )
    logs = [p.communicate()[1] for p in procs]
    seconds = time.perf_counter() - t0
    for p, log in zip(procs, logs, strict=True):
        if p.returncode:
            raise SystemExit(f"an indexer failed ({p.returncode}):\n{log[-2000:]}")
    indexed = sum(int(m) for log in logs for m in re.findall(r"indexed (\d+) files", log))
    print(
        f"    {len(cores)} indexer(s) on core(s) {cores}: {indexed} files indexed here", flush=True
    )
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True, help="a PostgreSQL database ris may empty")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--cores", default="0,1", help="the cores to pin the indexers to")
    args = parser.parse_args(argv)
    cores = [int(c) for c in args.cores.split(",")]
    files = sum(1 for p in args.folder.rglob("*") if p.is_file())
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        print(
            f"indexing {args.folder} ({files} files), each indexer pinned to one core", flush=True
        )
        sqlite = _indexers(args.folder, work, cores[:1], None)
        _drop(args.catalog)
        one = _indexers(args.folder, work, cores[:1], args.catalog)
        _drop(args.catalog)
        many = _indexers(args.folder, work, cores, args.catalog)
    print(f"  1 indexer, SQLite catalog          {sqlite:7.1f} s  (the one-machine baseline)")
    print(f"  1 indexer, PostgreSQL catalog      {one:7.1f} s  {sqlite / one:5.2f}x")
    print(
        f"  {len(cores)} indexers, PostgreSQL catalog     {many:7.1f} s  {sqlite / many:5.2f}x "
        f"the baseline, {one / many:.2f}x one PostgreSQL indexer"
    )


if __name__ == "__main__":
    main()
