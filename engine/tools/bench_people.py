"""How grouping people scales: synthetic appearance templates (N of them, ten per person on
average, each a person's direction plus noise, so that one person's templates agree at about
0.65 and two people's at about 0), grouped as `ris people` groups them, each stage in a process
of its own so that its peak memory is its own.

    python -m engine.tools.bench_people [--tracks 1000000] [--baseline 10000]

Stages: the baseline, all-pairs average linkage (scikit-learn) on `--baseline` templates, and
ris's grouping of the same ones (the ratio of the two in time and memory); ris's grouping of
all N from scratch (usearch's neighbour graph, then average linkage on it); an update that
places 1 % new appearances among the people of the other 99 % (given as their true people:
grouping them is the stage before). BCubed F against the synthetic
people says the grouping is right at that scale too.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np

DIM = 512
PER_PERSON = 10
NOISE = 0.8  # norm of each template's noise against its person's unit direction


def templates(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, person per vector), made in chunks so that only the result is held."""
    rng = np.random.default_rng(seed)
    people = max(1, n // PER_PERSON)
    who = rng.integers(0, people, size=n)
    centres = rng.normal(size=(people, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, DIM), np.float32)
    chunk = 100_000
    for lo in range(0, n, chunk):
        ids = who[lo : lo + chunk]
        centre = centres[ids]
        noise = rng.normal(size=(len(ids), DIM)) * (NOISE / np.sqrt(DIM))
        v = centre + noise
        out[lo : lo + chunk] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out, who


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _stage(job: tuple[str, int, float]) -> dict:
    from engine.people.clustering import average_linkage
    from engine.tools.evaluation.people import bcubed

    what, n, cut = job
    vectors, who = templates(n)
    t0 = time.perf_counter()
    if what == "all pairs":
        from sklearn.cluster import AgglomerativeClustering

        labels = AgglomerativeClustering(
            n_clusters=None, metric="cosine", linkage="average", distance_threshold=1 - cut
        ).fit_predict(vectors)
    elif what == "ris":
        labels = average_linkage(vectors, cut)
    else:  # an update: 1 % new appearances joined to the people of the rest
        from engine.library.people_records import StoredAppearances
        from engine.people.roster import join_people

        split = n - max(1, n // 100)
        # the people already there: the first 99 % in their true people (grouping them again
        # is the stage before; this one measures what each update does, joining the new 1 %)
        _, old = np.unique(who[:split], return_inverse=True)
        sums = np.zeros((old.max() + 1, DIM), np.float64)
        np.add.at(sums, old, vectors[:split])
        counts = np.bincount(old).astype(np.float64)
        means = sums / counts[:, None]
        stored = StoredAppearances(
            np.arange(n), np.zeros(n, np.int64), np.arange(n), np.zeros(n), np.zeros(n),
            np.ones(n, np.int64), vectors, np.r_[old, np.full(n - split, -1)],
            np.zeros(n, bool), np.full(n, -1),
        )  # fmt: skip
        t0 = time.perf_counter()
        joined = join_people(stored, np.arange(split, n), list(range(len(means))), means, cut)
        seconds = time.perf_counter() - t0
        labels = np.r_[old, [joined.get(r, -1 - r) for r in range(split, n)]]
        return {
            "stage": f"update: {n - split} new among {len(means)} people",
            "seconds": round(seconds, 2),
            "peak_mib": round(_peak_mib(), 1),
            "templates_mib": round(vectors.nbytes / 2**20, 1),
            "joined": len(joined),
            "f": bcubed(who.tolist(), labels.tolist())["f"],
        }
    seconds = time.perf_counter() - t0
    return {
        "stage": f"{what}, {n} templates",
        "seconds": round(seconds, 2),
        "peak_mib": round(_peak_mib(), 1),
        "templates_mib": round(vectors.nbytes / 2**20, 1),
        "groups": int(len(np.unique(labels))),
        "f": bcubed(who.tolist(), labels.tolist())["f"],
    }


def main() -> None:
    from engine.people.calibration import PEOPLE_CUT

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracks", type=int, default=1_000_000)
    ap.add_argument("--baseline", type=int, default=10_000)
    ap.add_argument("--cut", type=float, default=PEOPLE_CUT)
    args = ap.parse_args()
    jobs = [
        ("all pairs", args.baseline, args.cut),
        ("ris", args.baseline, args.cut),
        ("ris", args.tracks, args.cut),
        ("update", args.tracks, args.cut),
    ]
    rows = []
    for job in jobs:
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            row = pool.submit(_stage, job).result()
        rows.append(row)
        print(json.dumps(row), flush=True)
    a, b = rows[0], rows[1]
    print(
        f"ris / all pairs on {args.baseline}: time {b['seconds'] / max(a['seconds'], 1e-9):.2f}x, "
        f"peak memory {b['peak_mib'] / max(a['peak_mib'], 1e-9):.2f}x; "
        f"all pairs at {args.tracks} would need a {args.tracks**2 * 8 / 2**40:.1f} TiB matrix"
    )


if __name__ == "__main__":
    main()
