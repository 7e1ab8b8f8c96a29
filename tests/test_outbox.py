"""A shared store in step with a PostgreSQL catalog through its outbox (stores/base.py): every
commit queues its changes, whichever process finds them carries them with upserts, a crash
between the store and the queue leaves them queued, carrying them again changes nothing, and a
searcher sees queued faces without writing anything. Against a real PostgreSQL and a real
Milvus: Milvus Lite in server mode, and a Milvus 2.3 server, which alone keeps every insert of
a key as another row."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine.api import build_engine
from engine.errors import StoreMismatchError
from engine.library.postgres_catalog import PostgresCatalog
from engine.library.stores.base import Entries, drain, enrolled, level
from engine.library.stores.milvus import MilvusStore
from engine.library.stores.pending import WithPending
from engine.models.faces import NewFace
from tests.conftest import make_settings, media_info

RNG = np.random.default_rng(7)


def unit(n: int) -> np.ndarray:
    v = RNG.standard_normal((n, 512)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def put(cat: PostgresCatalog, path: str, vectors: np.ndarray) -> np.ndarray:
    faces = [NewFace(float(i), (0, 0, 10, 10), 0.99, v) for i, v in enumerate(vectors)]
    _, _, new = cat.save_indexed(path, 1, 1, media_info(samples=len(faces), step=1.0), faces)
    return new


def held(store: MilvusStore) -> np.ndarray:
    return np.sort(store.keys())


class Interrupted(Exception):
    pass


def crash_after_the_store(cat: PostgresCatalog, store: MilvusStore) -> None:
    """Carry the queue into the store, then die before the queue is emptied."""

    def carry(present: np.ndarray, gone: np.ndarray) -> None:
        from engine.library.stores.base import Entries

        store.remove(gone)
        if len(present):
            store.replace(Entries.from_catalog(cat, present))
        raise Interrupted

    with pytest.raises(Interrupted):
        cat.drain_outbox(carry, 10_000)


def _check_outbox(uri: str, milvus_uri: str, collection: str) -> None:
    cat = PostgresCatalog(uri)
    first_vectors = unit(5)
    first = put(cat, "/a.mp4", first_vectors)
    assert not len(cat.pending())  # no store fed yet: nothing queued
    store = MilvusStore(milvus_uri, collection, cat.library_id())
    assert not enrolled(store, cat)
    level(store, cat)  # enrolled by a full comparison
    assert enrolled(store, cat)
    np.testing.assert_array_equal(held(store), first)

    # a commit queues its faces; a searcher sees them before anyone carries them
    second_vectors = unit(4)
    second = put(cat, "/b.mp4", second_vectors)
    np.testing.assert_array_equal(cat.pending(), second)
    view = WithPending(store, cat, cat.pending())
    keys, sims = view.search(second_vectors[2], 0.9)
    assert keys.tolist() == [second[2]] and sims[0] > 0.999
    assert not len(store.search(second_vectors[2], 0.9)[0])  # the store itself lacks it

    # re-indexed: its old faces go, new ones come; a crash after the store leaves them queued
    third = put(cat, "/a.mp4", unit(3))
    queued = np.union1d(np.union1d(first, second), third)
    np.testing.assert_array_equal(cat.pending(), queued)
    view = WithPending(store, cat, cat.pending())
    assert len(store.search(first_vectors, 0.9)[0]) == len(first)  # held, stale
    assert not len(view.search(first_vectors, 0.9)[0])  # gone from the catalog: not found
    crash_after_the_store(cat, store)
    np.testing.assert_array_equal(cat.pending(), queued)
    assert drain(store, cat) == len(queued)  # carried again: nothing held twice
    assert not len(cat.pending())
    np.testing.assert_array_equal(held(store), np.union1d(second, third))
    assert len(store) == cat.face_count() == len(second) + len(third)

    # two processes draining at once each carry what the other left
    others = [PostgresCatalog(uri) for _ in range(2)]
    for k in range(30):
        put(cat, f"/c{k}.jpg", unit(2))
    threads = [threading.Thread(target=drain, args=(store, c)) for c in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not len(cat.pending())
    np.testing.assert_array_equal(held(store), cat.face_ids())
    assert len(store) == cat.face_count()
    for c in others:
        c.close()
    # a store cleared (or fed while the library used another) is compared in full again
    store.clear()
    assert not enrolled(store, cat)
    level(store, cat)
    np.testing.assert_array_equal(held(store), cat.face_ids())
    store.close()
    cat.close()


def test_the_outbox_keeps_milvus_lite_in_step(pg_uri, milvus_lite_server):
    _check_outbox(pg_uri, milvus_lite_server.uri, "outbox_lite")


def test_a_milvus_server_holds_each_vector_once_when_a_carry_is_done_twice(
    pg_uri, milvus_standalone
):
    """A real server keeps every insert of a key: carried twice with inserts, each queued face
    would be held twice (it does with `add`, the insert a run of one writer uses)."""
    _check_outbox(pg_uri, milvus_standalone.uri, "outbox_server")


def test_a_searcher_finds_what_is_queued_and_writes_nothing(pg_uri, milvus_lite_server, tmp_path):
    """The engine a searcher runs (only the two URIs) answers from the store and the queue, and
    leaves the queue as it found it."""
    cat = PostgresCatalog(pg_uri)
    put(cat, "/a.mp4", unit(3))
    store = MilvusStore(milvus_lite_server.uri, "searcher", cat.library_id())
    level(store, cat)
    late = unit(2)
    put(cat, "/late.mp4", late)  # an indexer died before carrying it
    pending = cat.pending()
    assert len(pending) == 2
    settings = make_settings(
        tmp_path / "nothing-here",
        catalog=pg_uri,
        backend="milvus",
        milvus_uri=milvus_lite_server.uri,
        milvus_collection="searcher",
    )
    engine = build_engine(settings)
    try:
        view = engine.internals.store
        keys, _ = view.search(late[1], 0.9)
        assert keys.tolist() == [pending[1]]
    finally:
        engine.close()
    np.testing.assert_array_equal(cat.pending(), pending)  # nothing carried by a searcher
    assert len(store) == 3
    assert not (tmp_path / "nothing-here").exists()
    store.close()
    cat.close()


def test_an_indexer_that_loses_the_race_to_create_the_collection_opens_it(
    milvus_lite_server, monkeypatch
):
    """Indexers started together on a new library each look for the collection, find none and
    create it: the one whose create comes second opens the first one's (on CI it ended with
    "collection ... already exists"), and both write and search it."""
    from pymilvus import MilvusClient

    first = MilvusStore(milvus_lite_server.uri, "raced", "lib-race")
    looked = MilvusClient.has_collection

    def before_the_other_created_it(self, name, *args, **kwargs):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(MilvusClient, "has_collection", looked)
        return False  # what it would have answered a moment earlier

    monkeypatch.setattr(MilvusClient, "has_collection", before_the_other_created_it)
    second = MilvusStore(milvus_lite_server.uri, "raced", "lib-race")
    vectors = unit(2)
    for i, store in enumerate((first, second)):
        one = np.array([i + 1], np.int64)
        store.add(Entries(one, vectors[i : i + 1], one, np.zeros(1, np.int64), np.zeros(1)))
    for i, store in enumerate((second, first)):
        keys, _ = store.search(vectors[1 - i], 0.9)
        assert keys.tolist()[:1] == [2 - i]
    first.close()
    second.close()
    # a collection of another library is still refused, raced or not
    monkeypatch.setattr(MilvusClient, "has_collection", before_the_other_created_it)
    with pytest.raises(StoreMismatchError):
        MilvusStore(milvus_lite_server.uri, "raced", "another-library")


def test_a_collection_still_being_created_is_waited_for(milvus_standalone):
    """Another process creates the collection, then its index, then loads it: one opened in
    between (no index yet, so a Milvus server cannot load it) is waited for, not refused.
    (Milvus Lite loads a collection without an index.)"""
    from pymilvus import MilvusClient

    maker = MilvusStore(milvus_standalone.uri, "template", "lib-slow")
    schema = maker.client.describe_collection("template")
    maker.close()
    client = MilvusClient(uri=milvus_standalone.uri)
    from pymilvus import DataType

    built = client.create_schema(auto_id=False, enable_dynamic_field=False)
    for field in schema["fields"]:
        params = {"dim": field["params"]["dim"]} if field["name"] == "vector" else {}
        built.add_field(field["name"], field["type"], is_primary=field["name"] == "id", **params)
    assert any(f["type"] == DataType.FLOAT_VECTOR for f in schema["fields"])
    client.create_collection(
        "slow", schema=built, properties=schema["properties"], consistency_level="Strong"
    )
    opened: list[MilvusStore] = []
    failed: list[BaseException] = []

    def open_it() -> None:
        try:
            opened.append(MilvusStore(milvus_standalone.uri, "slow", "lib-slow"))
        except BaseException as err:  # noqa: BLE001 - reported below
            failed.append(err)

    opening = threading.Thread(target=open_it)
    opening.start()
    opening.join(1.5)
    assert opening.is_alive() and not opened, "opened a collection that cannot be searched"
    index = client.prepare_index_params()
    index.add_index("vector", index_type="AUTOINDEX", metric_type="COSINE")
    client.create_index("slow", index)
    opening.join(60)
    assert not failed, failed
    store = opened[0]
    v = unit(1)
    store.add(Entries(np.array([5]), v, np.array([5]), np.zeros(1, np.int64), np.zeros(1)))
    keys, _ = store.search(v[0], 0.9)
    assert keys.tolist() == [5]
    store.close()
    client.close()
