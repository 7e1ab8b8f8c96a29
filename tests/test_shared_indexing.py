"""Several `ris index` processes share one PostgreSQL + Milvus library by claims (engine/
library/claims.py), each with its own data directory as on its own machine: one is SIGKILLed
while it holds a claim, after it has committed a file; one is SIGSTOPped past its lease, its
file taken over, then resumed, and its commit of that file refused. Every file is still
committed exactly once, with the faces a one-process SQLite run finds; the Milvus collection
holds exactly the catalog's faces (the outbox, stores/base.py); a searcher with only the two
URIs answers as one searching the catalog alone; and a second run embeds nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import AOC_CLIPS, AOC_PHOTO, HAMILTON, IMAGES, VIDEOS, run_ris
from test_fault_injection import index_cmd

from engine.library.catalog import Catalog
from engine.library.postgres_catalog import SCHEMA, PostgresCatalog
from engine.library.stores.milvus import MilvusStore

LEASE = 4.0  # seconds: short, so that a paused indexer's claim runs out within the test
CLIPS = [
    *AOC_CLIPS,
    VIDEOS / "Ed_Markey" / "OpenTalker_SadTalker" / "WDA_EdMarkey0_000.mp4",
    VIDEOS / "Katie_Hill" / "OpenTalker_SadTalker" / "WDA_KatieHill_000.mp4",
    HAMILTON,
]


def _subset(folder: Path) -> dict[str, Path]:
    """Copies of 6 dev clips and 6 dev photos under `folder`: copy name -> original."""
    folder.mkdir()
    photos = sorted(p for p in IMAGES.rglob("*") if p.is_file())[:6]
    names = {}
    for original in [*CLIPS, *photos]:
        name = f"{original.parent.parent.name}_{original.parent.name}_{original.name}"
        shutil.copy2(original, folder / name)
        names[name] = original
    return names


def _rows(uri: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as db:
        try:
            return db.execute(sql).fetchall()  # type: ignore[arg-type]
        except psycopg.errors.UndefinedTable:
            return []  # the first indexer has not created the schema yet


def _same_answer(shared: dict, alone: dict) -> None:
    """Two `ris search --json` answers alike: the same files in the same order, each with the
    same segments and scores within what vectors equal to 1e-5 allow."""
    for kind in ("videos", "images"):
        ours, theirs = shared[kind], alone[kind]
        assert [x["path"] for x in ours] == [x["path"] for x in theirs], kind
        for x, y in zip(ours, theirs, strict=True):
            assert x["score"] == pytest.approx(y["score"], abs=1e-4), x["path"]
            assert x["possible"] == y["possible"], x["path"]
            spans = [
                [(g["start"], g["end"], g["possible"]) for g in v.get("segments", [])]
                for v in (x, y)
            ]
            assert spans[0] == spans[1], x["path"]
    assert shared["videos"] or shared["images"]


def _decoders_of(collection: str) -> list[int]:
    """The decode workers alive with `collection` in their environment (other ris processes
    of the machine have their own)."""
    found = subprocess.run(["pgrep", "-f", "engine.media.decode_worker"], capture_output=True)
    ours = []
    for pid in found.stdout.split():
        try:
            environ = Path(f"/proc/{int(pid)}/environ").read_bytes()
        except OSError:  # gone meanwhile
            continue
        if collection.encode() in environ:
            ours.append(int(pid))
    return ours


def _wait(what: str, check, timeout: float = 300.0, state=None):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{state()}" if state else ""))


def _state(uri: str, logs: Path) -> str:
    """What a stuck wait saw: the claims, the files committed, the server's sessions and the
    indexers' logs."""
    parts = []
    for name, sql in (
        (
            "claims",
            f"SELECT owner, path, token, attempts, expires - clock_timestamp() FROM {SCHEMA}.claims",
        ),
        ("files", f"SELECT path, status, indexer FROM {SCHEMA}.files ORDER BY path"),
        (
            "sessions",
            "SELECT pid, state, wait_event_type, wait_event, now() - xact_start, query "
            "FROM pg_stat_activity WHERE datname = current_database()",
        ),
        ("locks", "SELECT locktype, pid, mode, granted, classid, objid FROM pg_locks"),
    ):
        try:
            rows = _rows(uri, sql)
        except Exception as err:  # the server itself is what is stuck
            rows = [(repr(err),)]
        parts.append(f"{name}:\n" + "\n".join(f"  {r}" for r in rows))
    for log in sorted(logs.glob("indexer*.log")):
        parts.append(f"{log.name}:\n{log.read_text()[-3000:]}")
    return "\n".join(parts)


@pytest.mark.slow
def test_three_indexers_share_a_library_through_a_kill_and_a_pause(
    tmp_path: Path, postgres, milvus_lite_server, dev_index, ris_env
):
    engine, _ = dev_index
    media = tmp_path / "media"
    originals = _subset(media)
    uri = postgres.new_database()
    # small detection batches: commits come one by one, not in a burst at the end of a run
    env = {**ris_env, "RIS_CATALOG": uri, "RIS_CLAIM_LEASE": str(LEASE), "RIS_FRAME_BATCH": "4"}
    milvus = {
        "RIS_BACKEND": "milvus",
        "RIS_MILVUS_URI": milvus_lite_server.uri,
        "RIS_MILVUS_COLLECTION": f"shared_{os.getpid()}_{int(time.time())}",
    }
    env.update(milvus)
    env["OMP_NUM_THREADS"] = "1"
    env["RIS_DECODE_WORKERS"] = "2"  # each holds claims on up to 4 files: one to kill is found
    procs = []
    for k in range(3):
        log = open(tmp_path / f"indexer{k}.log", "w")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                index_cmd(media, tmp_path / f"machine{k}"),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    by_pid = {p.pid: p for p in procs}

    def pid(owner: str) -> int:
        return int(owner.rsplit(":", 1)[1])

    killed_pids: set[int] = set()

    def unless_one_failed(check):  # type: ignore[no-untyped-def]
        """A wait ends at once when an indexer this test did not kill exits with an error:
        the work it would have shared is not done, and its log says why."""

        def checked():  # type: ignore[no-untyped-def]
            for k, p in enumerate(procs):
                if p.pid not in killed_pids and p.poll() not in (None, 0):
                    log = (tmp_path / f"indexer{k}.log").read_text()
                    raise AssertionError(f"indexer{k} exited with {p.returncode}:\n{log}")
            return check()

        return checked

    try:
        # 1. kill one that has committed a file and holds a claim now: at the first commits
        # all are paused while the catalog is read, so the moment cannot slip by
        def victim() -> int | None:
            if not _rows(uri, f"SELECT 1 FROM {SCHEMA}.files WHERE indexer IS NOT NULL"):
                return None
            for p in procs:
                p.send_signal(signal.SIGSTOP)
            chosen = None
            try:
                done = {
                    r[0]
                    for r in _rows(
                        uri, f"SELECT indexer FROM {SCHEMA}.files WHERE indexer IS NOT NULL"
                    )
                }
                holding = {r[0] for r in _rows(uri, f"SELECT owner FROM {SCHEMA}.claims")}
                both = sorted(done & holding)
                if both:
                    chosen = pid(both[0])
                    killed_pids.add(chosen)
                    by_pid[chosen].send_signal(signal.SIGKILL)
            finally:
                for p in procs:
                    p.send_signal(signal.SIGCONT)
            return chosen

        killed = _wait(
            "an indexer with a commit and a claim",
            unless_one_failed(victim),
            state=lambda: _state(uri, tmp_path),
        )
        by_pid[killed].wait()

        # 2. pause another past its lease while it holds a clip's claim it took a while ago
        def clip_claims() -> set[tuple[str, bytes, int]]:
            rows = _rows(uri, f"SELECT owner, path, token FROM {SCHEMA}.claims")
            return {
                (r[0], bytes(r[1]), r[2])
                for r in rows
                if bytes(r[1]).endswith(b".mp4") and pid(r[0]) != killed
            }

        def paused() -> tuple[int, bytes, int] | None:
            before = clip_claims()
            time.sleep(1.0)  # the same claim a second later: it is being worked on, not committed
            both = sorted(before & clip_claims())
            return (pid(both[0][0]), both[0][1], both[0][2]) if both else None

        stopped, path, token = _wait(
            "a claim to pause", unless_one_failed(paused), state=lambda: _state(uri, tmp_path)
        )
        by_pid[stopped].send_signal(signal.SIGSTOP)
        try:
            # the third takes the file over once the lease runs out, and commits it
            def taken() -> bool:
                rows = _rows(
                    uri, f"SELECT indexer FROM {SCHEMA}.files WHERE path = '\\x{path.hex()}'"
                )
                return bool(rows) and rows[0][0] is not None and pid(rows[0][0]) != stopped

            _wait(
                "the paused indexer's file to be taken over and committed",
                unless_one_failed(taken),
                timeout=180.0,
                state=lambda: _state(uri, tmp_path),
            )
        finally:
            by_pid[stopped].send_signal(signal.SIGCONT)
        for k, p in enumerate(procs):
            if p.pid != killed:
                assert p.wait(timeout=600) == 0, (tmp_path / f"indexer{k}.log").read_text()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    logs = {p.pid: (tmp_path / f"indexer{k}.log").read_text() for k, p in enumerate(procs)}
    assert "left to another indexer" in logs[stopped], logs[stopped]  # its commit was refused
    assert "Traceback" not in "".join(logs.values())
    # no decoder outlives its indexer (this test's: they carry its collection's name)
    assert not _decoders_of(milvus["RIS_MILVUS_COLLECTION"])

    # every file committed exactly once: each commit bumps the version by one
    cat = PostgresCatalog(uri)
    files = cat.files()
    assert sorted(Path(f.path).name for f in files) == sorted(originals)
    assert all(f.status == "indexed" for f in files), [(f.path, f.error) for f in files]
    assert cat.version == len(files)
    assert not _rows(uri, f"SELECT * FROM {SCHEMA}.claims")
    owners = {pid(r[0]) for r in _rows(uri, f"SELECT indexer FROM {SCHEMA}.files")}
    assert len(owners) >= 2  # the work was shared

    # the faces of a one-process SQLite run of the same files
    reference = Catalog(engine.settings.catalog_path, read_only=True)
    for f in files:
        ours = reference.file(str(originals[Path(f.path).name]))
        assert ours is not None and ours.faces == f.faces, f.path
        a, b = reference.file_faces(ours.id), cat.file_faces(f.id)
        np.testing.assert_allclose(b.times, a.times)
        np.testing.assert_allclose(b.boxes, a.boxes, atol=0.05)
        assert a.vectors is not None and b.vectors is not None
        np.testing.assert_allclose(b.vectors, a.vectors, rtol=0, atol=1e-5)
    reference.close()

    # the Milvus collection holds exactly the catalog's faces, each once
    store = MilvusStore(milvus["RIS_MILVUS_URI"], milvus["RIS_MILVUS_COLLECTION"], cat.library_id())
    np.testing.assert_array_equal(np.sort(store.keys()), cat.face_ids())
    assert len(store) == cat.face_count()
    assert not len(cat.pending())
    store.close()
    cat.close()

    # a searcher in an empty folder with only the two URIs answers as one that builds its
    # vectors from the catalog alone, and writes nothing
    searcher = tmp_path / "searcher"
    searcher.mkdir()
    base = {k: v for k, v in ris_env.items() if not k.startswith("RIS_")} | {
        "RIS_FACENET_WEIGHTS": ris_env["RIS_FACENET_WEIGHTS"],
        "RIS_CATALOG": uri,
    }
    # ... and as a one-machine library (SQLite and usearch) of the same files, indexed by one
    # process: the same files in the same order, the same segments
    alone = tmp_path / "one-machine"
    done = run_ris(ris_env, "index", str(media), "--data-dir", str(alone))
    assert done.returncode == 0, done.stderr
    for query in (AOC_PHOTO, HAMILTON):
        answers = [
            run_ris(extra, "search", str(query), "--json", cwd=searcher)
            for extra in (base | milvus, base | {"RIS_BACKEND": "usearch"})
        ]
        assert all(a.returncode == 0 for a in answers), answers[0].stderr + answers[1].stderr
        assert answers[0].stdout == answers[1].stdout and answers[0].stdout.strip()
        one = run_ris(ris_env, "search", str(query), "--json", "--data-dir", str(alone))
        assert one.returncode == 0, one.stderr
        _same_answer(json.loads(answers[0].stdout), json.loads(one.stdout))
    assert not list(searcher.iterdir())

    again = run_ris({**env}, "index", str(media), "--data-dir", str(tmp_path / "machine0"))
    assert again.returncode == 0 and "nothing to re-embed" in again.stderr, again.stderr
    # with the catalog on PostgreSQL and the vectors in Milvus, an indexer keeps nothing locally
    assert not os.path.exists(tmp_path / "machine0")
