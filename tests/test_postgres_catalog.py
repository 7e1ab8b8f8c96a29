"""The catalog on PostgreSQL (`--catalog postgresql://...`), against a real server started from
this machine's binaries (tests/postgres_server.py): the same records as SQLite's, the same
answers through `ris`, a copy of a SQLite library, one writer on every machine, and failures
that say what is wrong in one line."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from conftest import AOC_PHOTO, HAMILTON, IMAGES, LMM_PHOTO, media_info, run_ris

from engine.errors import CatalogError, IndexBusyError, UserError
from engine.library.catalog import Catalog
from engine.library.postgres_catalog import (
    LOCK_WRITER,
    SCHEMA,
    AdvisoryLock,
    PostgresCatalog,
    masked,
)
from engine.library.postgres_catalog import reported as postgres_reported
from engine.models.faces import NewFace
from engine.vocabulary import FileStatus, LibraryKey, MediaKind

ODD_NAME = os.fsdecode(b"/media/caf\xe9 \xff.mp4")  # not UTF-8: a name only bytes can hold


def face(t: float, seed: int, track: int = 0) -> NewFace:
    v = np.random.default_rng(seed).normal(size=512).astype(np.float32)
    return NewFace(t, (1.5, 2.0, 30.25, 40.0), 0.99, v / np.linalg.norm(v), track)


def exercise(cat: Catalog) -> dict[str, object]:
    """The same writes, then every question the engine asks, on either catalog."""
    cat.set_meta(LibraryKey.WEIGHTS_ID, "sha256:abc")
    v0 = cat.version
    _, _, a = cat.save_indexed(
        "/m/a.mp4",
        10,
        5,
        media_info("video", 16, 8.0, 0.5),
        [face(0.0, 1), face(0.5, 2, 1), face(1.0, 3, 1)],
    )
    _, _, odd = cat.save_indexed(ODD_NAME, 11, 6, media_info("video", 4, 2.0, 0.5), [face(0, 4)])
    _, removed, b = cat.save_indexed(
        "/m/a.mp4",
        12,
        7,
        media_info("video", 16, 8.0, 0.5),
        [face(0.0, 5), face(2.0, 6, 2)],
        cuts=np.array([1.5, 6.25]),
    )
    cat.save_failed("/m/bad.mp4", MediaKind.VIDEO, 3, 3, "cannot decode")
    _, _, gone = cat.save_indexed("/m/p.jpg", 1, 1, media_info("image"), [face(0, 7)])
    cat.remove(["/m/p.jpg"])
    ids = cat.face_ids()
    rows = cat.faces(ids)
    a_rec, odd_rec = cat.file("/m/a.mp4"), cat.file(ODD_NAME)
    assert a_rec is not None and odd_rec is not None
    return {
        "removed": sorted(removed.tolist()) == sorted(a.tolist()),
        "new keys": set(b.tolist()).isdisjoint(a.tolist() + odd.tolist() + gone.tolist()),
        "versions": cat.version - v0,
        "files": [(f.path, f.kind, f.size, f.status, f.error, f.faces) for f in cat.files()],
        "failed": [f.path for f in cat.files(FileStatus.FAILED)],
        "odd": cat.file(ODD_NAME) is not None and cat.file(ODD_NAME).path == ODD_NAME,  # type: ignore[union-attr]
        "count": cat.face_count(),
        "times": rows.times.tolist(),
        "boxes": rows.boxes.tolist(),
        "tracks": rows.tracks.tolist(),
        "vectors": cat.vectors(ids).round(6).tolist(),
        "file faces": cat.file_faces(a_rec.id).times.tolist(),
        "track faces": cat.tracks_faces([(a_rec.id, 2)]).times.tolist(),
        "by id": sorted(r.path for r in cat.files_by_id([a_rec.id]).values()),
        "of faces": cat.files_of_faces(ids),
        "unsound": cat.unsound_vectors().tolist(),
        "meta": cat.meta(LibraryKey.WEIGHTS_ID),
        "cuts": {k: c.tolist() for k, c in cat.cuts([a_rec.id, odd_rec.id]).items()},
        "library id": len(cat.library_id()),
    }


def test_the_postgres_catalog_answers_as_the_sqlite_one(tmp_path: Path, pg_uri: str):
    ours = exercise(Catalog(tmp_path / "catalog.sqlite"))
    theirs = exercise(PostgresCatalog(pg_uri))
    assert theirs == ours
    assert ours["removed"] and ours["new keys"] and ours["odd"] and ours["versions"] == 6
    assert list(ours["cuts"].values()) == [[1.5, 6.25]]  # type: ignore[attr-defined]  # the odd one has none


def test_a_damaged_vector_is_found_by_its_checksum(pg_uri: str, postgres):
    cat = PostgresCatalog(pg_uri)
    _, _, keys = cat.save_indexed("/m/a.mp4", 1, 1, media_info(), [face(0, 1), face(1, 2)])
    # one byte of the second vector changed behind ris's back (its norm barely moves)
    postgres.sql(
        pg_uri,
        f"UPDATE {SCHEMA}.faces SET vector = set_byte(vector, 100, get_byte(vector, 100) # 1) "
        f"WHERE id = {int(keys[1])}",
    )
    assert cat.unsound_vectors().tolist() == [int(keys[1])]
    assert cat.files_of_faces(keys[1:]) == ["/m/a.mp4"]


def test_a_newer_schema_is_refused_with_a_hint(pg_uri: str, postgres):
    PostgresCatalog(pg_uri).close()
    postgres.sql(pg_uri, f"UPDATE {SCHEMA}.schema_version SET version = 99")
    with pytest.raises(UserError, match="schema 99, newer than this ris") as err:
        PostgresCatalog(pg_uri)
    assert err.value.exit_code == 2 and "upgrade ris" in err.value.hint


def test_indexers_started_at_once_on_a_new_database_all_open_it(pg_uri: str):
    """One creates the schema; the others wait for it instead of failing as busy."""
    import threading

    start, errors = threading.Barrier(6), []

    def open_it() -> None:
        start.wait()
        try:
            cat = PostgresCatalog(pg_uri)
            cat.library_id()
            cat.close()
        except Exception as err:  # noqa: BLE001  # what a thread met is asserted below
            errors.append(err)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    cat = PostgresCatalog(pg_uri, read_only=True)
    assert cat.face_count() == 0 and len({cat.library_id()}) == 1
    cat.close()


def test_one_writer_at_a_time_on_every_machine(pg_uri: str):
    PostgresCatalog(pg_uri).close()
    with (
        AdvisoryLock(pg_uri, LOCK_WRITER, "busy"),
        pytest.raises(IndexBusyError, match="server pid"),
        AdvisoryLock(pg_uri, LOCK_WRITER, "busy"),
    ):
        pass
    with AdvisoryLock(pg_uri, LOCK_WRITER, "busy"):  # released with its session
        pass


def test_passwords_are_masked_everywhere_they_are_shown():
    assert masked("postgresql://ana:s3cr%40t@db:5432/ris") == "postgresql://ana:***@db:5432/ris"
    assert masked("postgresql://db/ris?password=s3cret&sslmode=require") == (
        "postgresql://db/ris?password=***&sslmode=require"
    )
    with pytest.raises(CatalogError) as err:
        PostgresCatalog("postgresql://ana:s3cret@/ris?host=/nonexistent-ris-socket")
    assert "s3cret" not in str(err.value) and "ana:***@" in str(err.value)


# through `ris`, as a user runs it ---------------------------------------------------------------


def _media(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for f in (HAMILTON, LMM_PHOTO, AOC_PHOTO):
        shutil.copy2(f, folder / f.name)
    return folder


def _search(env: dict[str, str], cwd: Path, *args: str) -> str:
    out = run_ris(env, "search", "--json", str(LMM_PHOTO), *args, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_index_search_and_migrate_through_ris(tmp_path: Path, postgres, ris_env):
    """Indexed into PostgreSQL: the faces, times, boxes and vectors of a SQLite run, the same
    `ris search --json` bytes, also from a folder with nothing but the URI; a SQLite library
    copied with `ris migrate --catalog` answers alike; a second run embeds nothing."""
    media = _media(tmp_path / "media")
    uri = postgres.new_database()
    sqlite_dir, pg_dir = tmp_path / "sqlite", tmp_path / "pg"
    out = run_ris(ris_env, "index", "--data-dir", str(sqlite_dir), str(media))
    assert out.returncode == 0, out.stderr
    out = run_ris(ris_env, "index", "--data-dir", str(pg_dir), "--catalog", uri, str(media))
    assert out.returncode == 0, out.stderr
    assert "indexed 3 files" in out.stderr

    ours, theirs = Catalog(sqlite_dir / "catalog.sqlite", read_only=True), PostgresCatalog(uri)
    for record in ours.files():
        other = theirs.file(record.path)
        assert other is not None and other.faces == record.faces and other.status == "indexed"
        a, b = ours.file_faces(record.id), theirs.file_faces(other.id)
        np.testing.assert_allclose(b.times, a.times)
        np.testing.assert_allclose(b.boxes, a.boxes, atol=1e-3)
        assert b.vectors is not None and a.vectors is not None
        np.testing.assert_allclose(b.vectors, a.vectors, atol=1e-5)
    assert len(theirs.files()) == len(ours.files()) == 3
    ours.close()
    theirs.close()

    expected = _search(ris_env, tmp_path, "--data-dir", str(sqlite_dir))
    assert json.loads(expected)["videos"], "the query's person is in the clip"
    assert _search(ris_env, tmp_path, "--data-dir", str(pg_dir), "--catalog", uri) == expected
    elsewhere = tmp_path / "elsewhere"  # a searcher with the URI alone: no data directory
    elsewhere.mkdir()
    assert _search({**ris_env, "RIS_CATALOG": uri}, elsewhere) == expected
    assert list(elsewhere.iterdir()) == [], "a searcher writes nothing"

    again = run_ris(ris_env, "index", "--data-dir", str(pg_dir), "--catalog", uri, str(media))
    assert again.returncode == 0 and "nothing to re-embed" in again.stderr

    copy = postgres.new_database()
    out = run_ris(ris_env, "migrate", "--data-dir", str(sqlite_dir), "--catalog", copy)
    assert out.returncode == 0, out.stderr
    assert "every row verified" in out.stderr
    assert _search(ris_env, tmp_path, "--data-dir", str(sqlite_dir), "--catalog", copy) == expected
    twice = run_ris(ris_env, "migrate", "--data-dir", str(sqlite_dir), "--catalog", copy)
    assert twice.returncode == 2 and "already holds a library" in twice.stderr

    status = run_ris(ris_env, "status", "--data-dir", str(pg_dir), "--catalog", uri)
    assert status.returncode == 0 and f"catalog: {uri}" in status.stdout

    # the share not mounted on this machine: a SQLite library drops what is gone from disk; a
    # shared one lists every hit, marked, and what else it says is unchanged
    media.rename(tmp_path / "unmounted")
    shared = json.loads(_search({**ris_env, "RIS_CATALOG": uri}, elsewhere))
    assert shared["videos"] and all(v.pop("reachable") is False for v in shared["videos"])
    assert all(i.pop("reachable") is False for i in shared["images"])
    assert shared == json.loads(expected)
    text = run_ris({**ris_env, "RIS_CATALOG": uri}, "search", str(LMM_PHOTO), cwd=elsewhere)
    assert "[not reachable here]" in text.stdout
    assert not json.loads(_search(ris_env, tmp_path, "--data-dir", str(sqlite_dir)))["videos"]


def test_failures_say_what_is_wrong_in_one_line(tmp_path: Path, postgres, pg_uri: str, ris_env):
    down = "postgresql://ana:s3cret@/ris?host=/nonexistent-ris-socket"
    out = run_ris(ris_env, "search", str(LMM_PHOTO), "--catalog", down, cwd=tmp_path)
    assert out.returncode == 1
    assert "s3cret" not in out.stderr + out.stdout and "Traceback" not in out.stderr
    assert out.stderr.startswith("ris: error: cannot reach the catalog postgresql://ana:***@")

    out = run_ris(ris_env, "status", "--catalog", "mysql://x", cwd=tmp_path)
    assert out.returncode == 2 and "must be a postgresql:// URI" in out.stderr

    out = run_ris(ris_env, "search", str(LMM_PHOTO), "--catalog", pg_uri, cwd=tmp_path)
    assert out.returncode == 2 and "nothing is indexed" in out.stderr.lower(), out.stderr

    media = tmp_path / "media"
    media.mkdir()
    shutil.copy2(IMAGES / LMM_PHOTO.relative_to(IMAGES), media / "lmm.png")
    with AdvisoryLock(pg_uri, LOCK_WRITER, "busy"):  # a repair elsewhere holds the library
        out = run_ris(
            ris_env, "index", "--catalog", pg_uri, "--data-dir", str(tmp_path / "d"), str(media)
        )
    assert out.returncode == 3 and "a repair or migration holds the library" in out.stderr
    assert "ris at " in out.stderr  # who holds it


def test_a_database_restart_mid_run_loses_no_committed_file(tmp_path: Path, postgres, ris_env):
    """The server restarted under an index run: the run stops with one line (exit 1), every
    file committed before is there, and the next run finishes the rest without redoing them,
    and without waiting for the claims the stopped run left (its process is gone)."""
    import subprocess
    import time

    from test_fault_injection import index_cmd

    media = tmp_path / "media"
    media.mkdir()
    for k, f in enumerate(sorted(p for p in IMAGES.rglob("*.jpg"))[:12]):
        shutil.copy2(f, media / f"{k:02d}_{f.name}")
    shutil.copy2(HAMILTON, media / "zz_hamilton.mp4")  # last: the run is still going
    uri = postgres.new_database()
    env = {**ris_env, "RIS_CATALOG": uri, "RIS_FRAME_BATCH": "4"}
    run = subprocess.Popen(
        index_cmd(media, tmp_path / "data"), env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 300
        committed: list[str] = []
        while len(committed) < 3:
            assert time.monotonic() < deadline and run.poll() is None
            time.sleep(0.1)
            try:
                committed = PostgresCatalog(uri, read_only=True).files_of_faces(
                    np.arange(1, 100_000)
                )
            except (CatalogError, UserError):  # not created yet
                committed = []
        before = {f.path: f.faces for f in PostgresCatalog(uri, read_only=True).files()}
        postgres.restart()
        _, err = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode in (0, 1), err
    if run.returncode == 1:  # it met the restart: one line, then the hint
        assert "Traceback" not in err and "ris: error: lost the catalog" in err, err
    after = PostgresCatalog(uri, read_only=True)
    for path, faces in before.items():
        record = after.file(path)
        assert record is not None and record.faces == faces  # nothing committed was lost
    t0 = time.monotonic()
    again = run_ris(env, "index", str(media), "--data-dir", str(tmp_path / "data"))
    assert again.returncode == 0, again.stderr
    assert "waiting" not in again.stderr and time.monotonic() - t0 < 55  # the lease is 60 s
    assert len(after.files()) == len(list(media.iterdir())), again.stderr
    kept = int(again.stderr.split(" to index, ")[1].split(" unchanged")[0])
    assert kept >= len(before)  # what was committed is not embedded again


def test_a_read_only_role_is_enough_to_search(tmp_path: Path, postgres, pg_uri: str, ris_env):
    cat = PostgresCatalog(pg_uri)
    cat.save_indexed("/m/a.mp4", 1, 1, media_info("video", 4, 2.0, 0.5), [face(0, 1)])
    cat.library_id()
    cat.close()
    role = "reader_" + uuid.uuid4().hex[:8]
    for statement in (
        f"CREATE ROLE {role} LOGIN",
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {role}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {role}",
    ):
        postgres.sql(pg_uri, statement)
    reader_uri = pg_uri.replace("postgresql://postgres@", f"postgresql://{role}@")
    reader = PostgresCatalog(reader_uri)
    assert reader.read_only and [f.path for f in reader.files()] == ["/m/a.mp4"]
    with (
        pytest.raises(CatalogError, match="read-only for this role"),
        postgres_reported(reader_uri),
    ):
        reader.save_failed("/m/b.mp4", MediaKind.VIDEO, 1, 1, "x")
    out = run_ris(ris_env, "status", "--catalog", reader_uri, cwd=tmp_path)
    assert out.returncode == 0 and "/m/a.mp4" in out.stdout, out.stderr
    assert list(tmp_path.iterdir()) == []  # a searcher writes nothing here


_STALLS_MID_COMMIT = """
import os, signal, sys
import numpy as np
from conftest import media_info
from engine.errors import ClaimLost
from engine.library.claims import Claims
from engine.library.postgres_catalog import PostgresCatalog
from engine.models.faces import NewFace

class Stalling(PostgresCatalog):
    stalled = False
    def _bump(self):  # the last step of a commit: its rows and the version row locked
        super()._bump()
        if where == "between statements" and not self.stalled:
            self.stalled = True
            os.kill(os.getpid(), signal.SIGSTOP)
    def _drop_faces(self, path):  # the claim's row locked; then stopped while sending a statement
        if where == "mid-statement" and not self.stalled:
            self.stalled = True
            self.pg.execute("CREATE TEMP TABLE stall (x int)")
            with self.pg.cursor().copy("COPY stall FROM STDIN"):  # the server waits for its rows
                os.kill(os.getpid(), signal.SIGSTOP)
        if where == "mid-pipeline" and not self.stalled:
            self.stalled = True
            self.pg.execute("CREATE TEMP TABLE stall (x int)")

            def rows():  # the first rows sent and run, then stopped before the rest
                for x in range(200):
                    if x == 100:
                        os.kill(os.getpid(), signal.SIGSTOP)
                    yield (x,)

            with self.pg.cursor() as cur:
                cur.executemany("INSERT INTO stall VALUES (%s)", rows())
        return super()._drop_faces(path)

uri, path, lease, where = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
cat, claims = Stalling(uri, stall_limit=lease), Claims(uri, lease)
fence, _ = claims.claim(path)
claims.done(path)  # no longer renewed, as an indexer's commit does
face = NewFace(0.0, (1.0, 2.0, 30.0, 40.0), 0.99, np.ones(512, np.float32) / 512**0.5, 0)
try:
    cat.save_indexed(path, 1, 1, media_info("video", 1, 1.0, 1.0), [face], fence)
except ClaimLost as lost:
    print("left:", lost)
claims.close()
cat.close()
"""


@pytest.mark.parametrize("where", ["between statements", "mid-statement", "mid-pipeline"])
def test_an_indexer_paused_mid_commit_holds_up_no_other(tmp_path: Path, pg_uri: str, where: str):
    """An indexer stopped (SIGSTOP, a frozen VM) inside a commit holds the claim's row (and the
    version row) locked. Once its lease has run out its session is ended: by the server when
    it stopped between statements (idle in the transaction), by the indexer that wants the
    file when it stopped while sending one (a COPY, a pipeline: the server waits on it, not
    idle). So another takes the file over and commits it, and the paused one, resumed, has its
    commit refused (on a new session) instead of failing or committing it twice."""
    import signal
    import subprocess
    import sys
    import threading

    from engine.library.claims import Claims

    lease, path = 2.0, "/media/paused.mp4"
    PostgresCatalog(pg_uri).close()
    paused = subprocess.Popen(
        [sys.executable, "-c", _STALLS_MID_COMMIT, pg_uri, path, str(lease), where],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while Path(f"/proc/{paused.pid}/stat").read_text().split()[2] != "T":
            assert paused.poll() is None, paused.stdout.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "it never reached its commit"
            time.sleep(0.05)
        other: list[object] = []

        def take_over() -> None:  # blocks on the paused one's locks until its session ends
            claims, cat = Claims(pg_uri, lease), PostgresCatalog(pg_uri, stall_limit=lease)
            got = claims.claim(path)
            while got is None:  # its lease is still running
                time.sleep(0.1)
                got = claims.claim(path)
            claims.done(path)
            other.append(cat.save_indexed(path, 1, 1, media_info("video", 1, 1.0, 1.0), [], got[0]))
            claims.close()
            cat.close()

        taker = threading.Thread(target=take_over, daemon=True)
        taker.start()
        taker.join(timeout=30)
        assert other, "the paused indexer's locks held the other up"
        paused.send_signal(signal.SIGCONT)
        out, _ = paused.communicate(timeout=60)
        assert paused.returncode == 0, out
        assert "left:" in out and "another took the file over" in out, out
    finally:
        if paused.poll() is None:
            paused.kill()
            paused.wait()
    cat = PostgresCatalog(pg_uri, read_only=True)
    record = cat.file(path)
    assert record is not None and record.faces == 0  # the taker's commit, not the paused one's
    assert cat.face_count() == 0 and cat.meta(LibraryKey.FACES_VERSION) == "1"
    cat.close()
