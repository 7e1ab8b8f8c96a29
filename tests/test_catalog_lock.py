"""Nothing committed is ever lost while other processes read the library (issue 26, section 1).

Opening the catalog used to open and close the file itself (to set its mode) before SQLite did.
Closing any descriptor of a file drops every POSIX lock the process holds on it, so a process
that opened the catalog a second time (every `ris index` run does) lost its SQLite locks; the
next reader to close believed it was the last connection, checkpointed and deleted the WAL
under the writer, and whatever the writer committed afterwards vanished at a kill.

This test does what the report did, 8 times (RIS_TEST_KILLS=N for more) at moments drawn from a seeded generator: `ris
index` runs over real videos and LFW photos; a cold `ris search` and a `ris status` run while
it goes on; the writer is stopped (SIGSTOP), and what it has committed is read through its own
open files (the catalog and the WAL it writes, even if that WAL was deleted); it is killed
(SIGKILL); the catalog, opened afresh as the next process opens it, must hold every one of
those commits. No ris process may ever hold a deleted catalog file.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import AOC_CLIPS, AOC_PHOTO, HAMILTON, SHARED, copy_media, kills, run_ris
from tests.test_fault_injection import index_cmd, touch_all

pytestmark = pytest.mark.slow

SEED = 20261203
KILLS = kills(8)  # the defect lost files at the first or second kill
LFW = SHARED / "data" / "dev" / "lfw"


def committed(catalog: Path) -> set[tuple[str, int]]:
    """(path, modification time) of every file indexed in the catalog at `catalog`; none when
    there is no catalog yet, or it has no tables yet (a writer stopped while it starts): opening
    a missing file would create an empty catalog, which ris then refuses as truncated."""
    if not catalog.exists():
        return set()
    db = sqlite3.connect(catalog, timeout=30)
    try:
        made = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'files'").fetchone()
        if made is None:
            return set()
        rows = db.execute("SELECT path, mtime_ns FROM files WHERE status = 'indexed'").fetchall()
    finally:
        db.close()
    return set(rows)


def catalog_files_of(pid: int) -> dict[str, str]:
    """The catalog files a process holds open: descriptor path -> what it points to."""
    out = {}
    folder = Path(f"/proc/{pid}/fd")
    for fd in folder.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if "catalog.sqlite" in target:
            out[str(fd)] = target
    return out


def writer_view(pid: int, into: Path) -> set[tuple[str, int]]:
    """What a stopped writer has committed, read through its own descriptors: its catalog and
    its WAL, copied as it sees them (a WAL deleted under it included), then opened."""
    into.mkdir(parents=True, exist_ok=True)
    for leftover in into.iterdir():
        leftover.unlink()
    for fd, target in catalog_files_of(pid).items():
        name = Path(target.removesuffix(" (deleted)")).name
        if name in ("catalog.sqlite", "catalog.sqlite-wal"):
            shutil.copyfile(fd, into / name)  # the same file the writer has, whatever its name
    return committed(into / "catalog.sqlite")


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lock_media")
    copy_media(folder, AOC_CLIPS[1], HAMILTON, AOC_PHOTO)
    photos = sorted(LFW.rglob("*.jpg"))[:60]
    copy_media(folder, *photos)
    return folder


def test_readers_during_an_index_run_never_lose_its_commits(media, tmp_path, ris_env):
    env = {**ris_env, "RIS_FRAME_BATCH": "4", "RIS_SERVE": "off"}  # small commits, no server
    rng = random.Random(SEED)
    data = tmp_path / "data"
    checked = 0
    for kill in range(KILLS):
        touch_all(media, kill + 1)
        note = f"kill {kill + 1} (seed {SEED})"
        writer = subprocess.Popen(
            index_cmd(media, data), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            time.sleep(rng.uniform(2.0, 6.0))  # into the run: the models load, files commit
            for args in (("search", str(AOC_PHOTO)), ("status",)):  # cold readers
                run_ris(env, *args, "--data-dir", str(data))
            time.sleep(rng.uniform(0.0, 2.0))
            if writer.poll() is not None:
                continue  # finished first: nothing to kill this time
            writer.send_signal(signal.SIGSTOP)
            held = catalog_files_of(writer.pid)
            deleted = [t for t in held.values() if t.endswith("(deleted)")]
            assert not deleted, f"{note}: the writer holds deleted catalog files: {deleted}"
            before = writer_view(writer.pid, tmp_path / "view")
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait()
        after = committed(data / "catalog.sqlite")
        lost = before - after
        assert not lost, f"{note}: {len(lost)} of {len(before)} committed files lost: {lost}"
        checked += bool(before)
    assert checked >= KILLS // 2, f"only {checked} kills came after a commit: nothing was tested"
    db = sqlite3.connect(data / "catalog.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
