"""What a user waits for from the shell: `ris search` of a photo, cold, with a resident engine,
and many in one call, against face_recognition doing the same.

    python -m engine.tools.bench_latency --data-dir data/eval/lfw --photos ../shared/data/dev/lfw

In one run, against an existing library (`--data-dir`), with photos of `--photos` as queries:

- cold: `ris search PHOTO --json` in a fresh process, no server (RIS_SERVE=off);
- resident: the same with `ris serve` running for the library (its start is not counted);
- face_recognition: the same photo in a fresh process that does what its README shows
  (`load_image_file`, `face_locations(img, 1)`, `face_encodings`, `face_distance` to the
  library's encodings at 0.6), against as many stored encodings as the library has faces
  (random ones of its 128 dimensions: the time of a distance does not depend on the values);
- separate: --queries photos, one `ris search` process each (no server);
- batched: the same photos in one `ris search A B C ... --json` (JSON Lines);

each a median of --repeat runs, with the answers compared: resident against cold, batched
against separate (they must be equal). ris-tui's first search is `python -m ris_tui.bench
--first-search` (the UI is not the engine's; `just bench-latency` runs both).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.media.finding import media_kind
from engine.vocabulary import MediaKind

PEER = """
import json, sys, warnings
import numpy as np
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import face_recognition
known = np.load(sys.argv[1])
image = face_recognition.load_image_file(sys.argv[2])
boxes = face_recognition.face_locations(image, 1)
faces = face_recognition.face_encodings(image, boxes)
if not faces:
    sys.exit("no face")
main = max(range(len(boxes)), key=lambda i: (boxes[i][2] - boxes[i][0]) * (boxes[i][1] - boxes[i][3]))
distance = face_recognition.face_distance(known, faces[main])
hits = np.flatnonzero(distance <= 0.6)
print(json.dumps({"matches": hits[np.argsort(distance[hits])][:20].tolist()}))
"""


def timed(
    command: list[str], env: dict[str, str]
) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, env=env)
    return time.perf_counter() - t0, run


def photos(root: Path, count: int) -> list[Path]:
    found = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and media_kind(p) == MediaKind.IMAGE:
            found.append(p)
            if len(found) == count:
                break
    return found


def face_count(data_dir: Path) -> int:
    with sqlite3.connect(f"file:{data_dir / 'catalog.sqlite'}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT count(*) FROM faces").fetchone()[0])


def median(times: list[float]) -> str:
    return f"median {statistics.median(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})"


class Resident:
    """`ris serve` for the library, in a runtime folder of its own, for the length of a block."""

    def __init__(self, data_dir: Path, env: dict[str, str], folder: Path) -> None:
        self.env = {**env, "XDG_RUNTIME_DIR": str(folder), "RIS_SERVE": "on"}
        self.log = folder / "serve.log"
        self.data_dir = data_dir
        ris = [sys.executable, "-m", "engine.frontends.cli"]
        with self.log.open("w") as log:
            command = [*ris, "serve", "--data-dir", str(data_dir), "--idle", "600"]
            self.proc = subprocess.Popen(command, env=self.env, stdout=log, stderr=log)
        end = time.monotonic() + 300
        while "serving" not in self.log.read_text():
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"ris serve did not start: {self.log.read_text()}")
            time.sleep(0.05)

    def close(self) -> None:
        ris = [sys.executable, "-m", "engine.frontends.cli"]
        subprocess.run([*ris, "serve", "--stop", "--data-dir", str(self.data_dir)], env=self.env)
        self.proc.wait(30)

    def answered(self) -> int:
        return self.log.read_text().count("answered `")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, required=True, help="an indexed library")
    ap.add_argument("--photos", type=Path, required=True, help="a folder of query photos")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    queries = photos(args.photos, args.queries)
    env = {**os.environ, "RIS_SERVE": "off"}
    ris = [sys.executable, "-m", "engine.frontends.cli", "search"]
    one = [*ris, str(queries[0]), "--json", "--data-dir", str(args.data_dir)]
    faces = face_count(args.data_dir)
    print(f"library {args.data_dir}: {faces} faces; query {queries[0]}")

    cold = [timed(one, env) for _ in range(args.repeat)]
    print(f"cold `ris search` of a photo (no server):  {median([t for t, _ in cold])}")
    with tempfile.TemporaryDirectory() as folder:
        server = Resident(args.data_dir, env, Path(folder))
        try:
            served = [timed(one, server.env) for _ in range(args.repeat)]
            asked = server.answered()
        finally:
            server.close()
    same = all(r.stdout == cold[0][1].stdout and r.returncode == 0 for _, r in served)
    resident = statistics.median([t for t, _ in served])
    print(f"`ris search` with `ris serve` running:     {median([t for t, _ in served])}; "
          f"answered by the server {asked} of {len(served)}, answers equal to cold: {same}")  # fmt: skip
    peer = _peer(queries[0], faces, args.repeat)
    if peer is not None:
        print(f"face_recognition, the same photo, {faces} stored encodings: {median(peer)}")
        ratio = statistics.median(peer) / resident
        print(f"  resident ris is {ratio:.1f}x faster than face_recognition from the shell")

    separate, answers = 0.0, []
    for q in queries:
        seconds, run = timed([*ris, str(q), "--json", "--data-dir", str(args.data_dir)], env)
        separate += seconds
        answers.append(json.loads(run.stdout) if run.returncode == 0 else None)
    batched, run = timed(
        [*ris, *map(str, queries), "--json", "--data-dir", str(args.data_dir)], env
    )
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    equal = sum(
        1
        for a, b in zip(answers, lines, strict=True)
        if a is not None and "error" not in b and a == b
    )
    failed = sum(1 for a in answers if a is None)
    print(f"{len(queries)} photo queries, separate calls: {separate:.1f} s "
          f"({separate / len(queries):.2f} s each)")  # fmt: skip
    print(f"{len(queries)} photo queries, one call: {batched:.1f} s "
          f"({batched / len(queries):.3f} s each), {100 * batched / separate:.1f} % of separate")  # fmt: skip
    print(f"answers equal: {equal} of {len(queries) - failed} (queries without a face: {failed})")


def _peer(photo: Path, faces: int, repeat: int) -> list[float] | None:
    from engine.tools.evaluation.peer import missing

    why = missing()
    if why:
        print(f"face_recognition: not measured: {why}")
        return None
    with tempfile.TemporaryDirectory() as folder:
        known = Path(folder) / "known.npy"
        rng = np.random.default_rng(0)
        np.save(known, rng.normal(0, 0.1, (max(1, faces), 128)))
        script = Path(folder) / "peer_search.py"
        script.write_text(PEER)
        times = []
        for _ in range(repeat):
            seconds, run = timed(
                [sys.executable, str(script), str(known), str(photo)], dict(os.environ)
            )
            if run.returncode != 0:
                print(f"face_recognition: failed: {run.stderr.strip()[-300:]}")
                return None
            times.append(seconds)
    return times


if __name__ == "__main__":
    main()
