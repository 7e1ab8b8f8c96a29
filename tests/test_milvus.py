"""The Milvus backend: the same answers as usearch, migration, and failures of the server."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.api import build_engine
from engine.errors import StoreBusyError, StoreError, StoreMismatchError
from engine.events import IndexPlanned
from engine.library.catalog import Catalog
from engine.library.stores.base import reconcile
from engine.library.stores.choice import StoreChoice, open_store
from engine.models.faces import NewFace
from engine.settings import Settings
from tests.conftest import (
    AOC_CLIPS,
    AOC_PHOTO,
    HAMILTON,
    IMAGES,
    LMM_PHOTO,
    copy_media,
    make_settings,
    media_info,
)


def lite(tmp_path: Path, name: str = "ris_faces") -> StoreChoice:
    return StoreChoice("milvus", str(tmp_path / "milvus.db"), name)


def small_catalog(tmp_path: Path, name: str = "catalog.sqlite") -> Catalog:
    cat = Catalog(tmp_path / name)
    v = np.eye(512, dtype=np.float32)[:3]
    cat.save_indexed(
        "/v.mp4", 1, 1, media_info(), [NewFace(i, (0, 0, 1, 1), 1.0, v[i]) for i in range(3)]
    )
    return cat


# the same answers ----------------------------------------------------------------------------
@pytest.mark.slow
def test_both_backends_rank_the_same_videos_for_the_same_queries(dev_index, dev_index_milvus):
    on_usearch, _ = dev_index
    on_milvus, _ = dev_index_milvus
    assert on_usearch.status().store.startswith("usearch ")
    assert on_milvus.status().store.startswith("milvus ")
    milvus, usearch = on_milvus.internals, on_usearch.internals
    assert len(milvus.store) == milvus.catalog.face_count() == usearch.catalog.face_count()
    queries = [on_usearch.read_query(p) for p in (AOC_PHOTO, AOC_CLIPS[2], LMM_PHOTO, HAMILTON)]
    # a face that nothing in the library matches, though it resembles Miranda a little: the
    # closest files are possible matches (similarities scaled by 0.4, so every one under 0.45)
    other = np.random.default_rng(0).normal(size=512)
    t = queries[3].templates[0]
    other -= (other @ t) * t
    faint = 0.4 * t + np.sqrt(1 - 0.4**2) * other / np.linalg.norm(other)
    queries.append(replace(queries[3], templates=faint[None, :].astype(np.float32)))
    for query in queries:  # read once: the same query for both stores
        path = query.path
        a, b = on_usearch.search(query), on_milvus.search(query)
        assert a.videos, path
        assert a.possible == b.possible
        assert [v.path for v in a.videos] == [v.path for v in b.videos], path
        assert [v.score for v in a.videos] == pytest.approx([v.score for v in b.videos], abs=1e-6)
        assert [s for v in a.videos for s in v.segments] == [
            s for v in b.videos for s in v.segments
        ]
        assert [i.path for i in a.images] == [i.path for i in b.images], path
    assert a.possible == 0.0 and all(v.possible for v in a.videos)  # the faint face: closest
    assert a.videos[0].path.endswith(Path(HAMILTON).name)


# migration -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_migration_to_milvus_keeps_every_vector_and_every_result(dev_index, tmp_path, ris_env):
    source, _ = dev_index
    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / "catalog.sqlite") as copy:  # a consistent copy of the library
        source.internals.catalog.db.backup(copy)
    source_store = source.internals.store  # caught up with the catalog
    source_store.save()
    for name in ("faces.usearch", "faces.json"):
        (data / name).write_bytes((source.settings.data_dir / name).read_bytes())
    queries = [source.read_query(p) for p in (AOC_PHOTO, HAMILTON)]
    before_engine = build_engine(make_settings(data))
    before = [before_engine.search(q).to_json() for q in queries]
    before_engine.close()

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine.frontends.cli",
            "migrate",
            "--to",
            "milvus",
            "--data-dir",
            str(data),
        ],
        env=ris_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "counts equal" in done.stderr and "now uses milvus" in done.stderr

    after_engine = build_engine(make_settings(data))  # no flags: the library now says milvus
    assert after_engine.store_choice.backend == "milvus"
    store, catalog = after_engine.internals.store, after_engine.internals.catalog
    assert len(store) == catalog.face_count() == len(source_store)
    held = {int(k): v for keys, vecs in store.export(4096) for k, v in zip(keys, vecs, strict=True)}
    keys = catalog.face_ids()
    assert sorted(held) == keys.tolist()
    np.testing.assert_array_equal(np.stack([held[int(k)] for k in keys]), catalog.vectors(keys))
    np.testing.assert_array_equal(store.get(keys[::97]), source_store.get(keys[::97]))
    assert [after_engine.search(q).to_json() for q in queries] == before
    after_engine.close()

    status = subprocess.run(
        [sys.executable, "-m", "engine.frontends.cli", "status", "--data-dir", str(data)],
        env=ris_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert f"vector store: milvus {data.resolve() / 'milvus.db'}" in status.stdout


def test_migration_refuses_another_librarys_collection_unless_replaced(tmp_path):
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    for folder in (mine, theirs):
        small_catalog(folder).close()
    uri = str(tmp_path / "shared.db")
    build_engine(Settings.from_env(env={}, data_dir=theirs)).close()
    theirs_engine = build_engine(Settings.from_env(env={}, data_dir=theirs, milvus_uri=uri))
    theirs_engine.migrate("milvus")
    theirs_engine.close()
    engine = build_engine(Settings.from_env(env={}, data_dir=mine, milvus_uri=uri))
    with pytest.raises(StoreMismatchError, match="belongs to another ris library"):
        engine.migrate("milvus")
    done = engine.migrate("milvus", replace_other=True)
    assert done.vectors == 3 and done.checked == 3
    engine.close()


# failures ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_server_fails_at_once_with_one_clear_line(tmp_path, ris_env):
    uri = f"http://127.0.0.1:{free_port()}"
    for args in (["index", str(LMM_PHOTO)], ["search", str(LMM_PHOTO)]):
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "engine.frontends.cli", *args, "--data-dir", str(tmp_path / "d")]
            + ["--backend", "milvus", "--milvus-uri", uri],
            env=ris_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert time.monotonic() - started < 60
        if args[0] == "search":  # nothing indexed: said before any server is asked
            assert done.returncode == 2 and "nothing is indexed" in done.stderr
            continue
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        first, hint = done.stderr.splitlines()[:2]
        assert first.startswith(f"ris: error: Milvus at {uri} failed while connecting")
        assert hint.startswith("ris: hint: is the server up")


def test_a_server_that_never_answers_times_out(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []
    threading.Thread(target=lambda: held.append(listener.accept()), daemon=True).start()
    settings = Settings.from_env(env={}, data_dir=tmp_path, milvus_timeout=2)
    choice = StoreChoice("milvus", f"http://127.0.0.1:{listener.getsockname()[1]}", "ris_faces")
    started = time.monotonic()
    with pytest.raises(StoreError, match="did not answer within 2 s"):
        open_store(choice, settings, small_catalog(tmp_path))
    assert time.monotonic() - started < 30
    listener.close()


def test_a_collection_of_another_dimension_is_refused(tmp_path):
    from pymilvus import MilvusClient

    client = MilvusClient(str(tmp_path / "milvus.db"))
    client.create_collection("ris_faces", dimension=128)
    with pytest.raises(StoreMismatchError, match="128-d vectors, not FaceNet's 512-d"):
        open_store(lite(tmp_path), Settings.from_env(env={}), small_catalog(tmp_path))


def test_a_missing_collection_is_an_error_when_searching(tmp_path):
    cat = small_catalog(tmp_path)
    with pytest.raises(StoreError, match="'ris_faces' is missing") as err:
        open_store(lite(tmp_path), Settings.from_env(env={}), cat, create=False)
    assert "ris index" in err.value.hint
    store = open_store(lite(tmp_path), Settings.from_env(env={}), cat)  # an index run makes it
    assert reconcile(store, cat) and len(store) == 3


def test_milvus_lite_held_by_another_process_is_reported_busy(tmp_path):
    uri = str(tmp_path / "milvus.db")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pymilvus import MilvusClient; "
            f"c = MilvusClient({uri!r}); print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreBusyError, match="open in another process"):
            open_store(lite(tmp_path), Settings.from_env(env={}), small_catalog(tmp_path))
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_a_server_lost_mid_run_loses_no_work_and_the_run_resumes(tmp_path, capfd):
    from milvus_lite.server_manager import server_manager_instance

    photos = [IMAGES / "Taylor_Swift" / "tencent-ailab_V-Express" / "ref.jpg", AOC_PHOTO, LMM_PHOTO]
    first, rest = copy_media(tmp_path / "a", photos[0]), copy_media(tmp_path / "b", *photos[1:])
    assert len(first) == 1 and len(rest) == 2
    settings = make_settings(tmp_path / "data", backend="milvus", milvus_timeout=5)
    engine = build_engine(settings)
    list(engine.index(first))
    store = engine.internals.store  # an index run shares this engine's Milvus client
    real_add, calls = store.add, []

    def add_after_losing_the_server(entries):  # the server goes away after one more file
        if calls:
            server_manager_instance.release_server(store.uri)
        calls.append(1)
        return real_add(entries)

    store.add = add_after_losing_the_server
    capfd.readouterr()
    with pytest.raises(StoreError, match="failed while inserting vectors"):
        list(engine.index(rest))
    assert "Traceback" not in capfd.readouterr().err  # the one error says it all
    committed = {p for p, status, _ in engine.status().files if status == "indexed"}
    # the catalog kept the file whose vectors did not get through
    assert len(committed) == 3 and str(first[0]) in committed
    engine.close()

    again = build_engine(make_settings(tmp_path / "data"))  # the library remembers milvus
    held = again.internals.catalog
    assert len(again._get_store()) < held.face_count()  # before any search catches it up
    events = list(again.index(rest))
    planned = next(e for e in events if isinstance(e, IndexPlanned))
    assert planned.to_index == 0 and planned.unchanged == 2  # nothing is embedded again
    keys = sorted(k for ks, _ in again.internals.store.export(1000) for k in ks.tolist())
    assert keys == held.face_ids().tolist() and len(keys) >= 3
    again.close()
