"""What a user waits for from the shell: `ris search` of a photo, cold, and many in one call.

    python -m engine.bench_latency --data-dir data/eval/lfw --photos ../shared/data/dev/lfw

In one run, against an existing library (`--data-dir`), with photos of `--photos` as queries:

- cold: `ris search PHOTO --json`, a fresh process each time (median of --repeat);
- separate: --queries photos, one `ris search` process each;
- batched: the same photos in one `ris search A B C ... --json` (JSON Lines);

and the answers of the batched call compared with the separate ones (they must be equal).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .media import media_kind
from .vocabulary import MediaKind


def ris(*args: str | Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "engine.cli", "search", *map(str, args)],
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - t0, run


def photos(root: Path, count: int) -> list[Path]:
    found = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and media_kind(p) == MediaKind.IMAGE:
            found.append(p)
            if len(found) == count:
                break
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, required=True, help="an indexed library")
    ap.add_argument("--photos", type=Path, required=True, help="a folder of query photos")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    queries = photos(args.photos, args.queries)
    data = ("--data-dir", args.data_dir)
    cold = [ris(queries[0], "--json", *data)[0] for _ in range(args.repeat)]
    print(f"cold `ris search` of a photo: median {statistics.median(cold):.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in cold)})")  # fmt: skip
    separate, answers = 0.0, []
    for q in queries:
        seconds, run = ris(q, "--json", *data)
        separate += seconds
        answers.append(json.loads(run.stdout) if run.returncode == 0 else None)
    batched, run = ris(*queries, "--json", *data)
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    same = sum(
        1
        for a, b in zip(answers, lines, strict=True)
        if a is not None and "error" not in b and a == b
    )
    failed = sum(1 for a in answers if a is None)
    print(f"{len(queries)} photo queries, separate calls: {separate:.1f} s "
          f"({separate / len(queries):.2f} s each)")  # fmt: skip
    print(f"{len(queries)} photo queries, one call: {batched:.1f} s "
          f"({batched / len(queries):.3f} s each), {100 * batched / separate:.1f} % of separate")  # fmt: skip
    print(f"answers equal: {same} of {len(queries) - failed} (queries without a face: {failed})")


if __name__ == "__main__":
    main()
