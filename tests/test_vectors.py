"""The vector-store contract, run against both backends: usearch and Milvus Lite."""

import numpy as np
import pytest
from conftest import media_info

from engine.library.catalog import Catalog
from engine.library.stores.base import Entries, apply_change, reconcile
from engine.library.stores.choice import BACKENDS, StoreChoice, open_store
from engine.models.faces import NewFace
from engine.settings import Settings


def unit(rng, n):
    v = rng.normal(size=(n, 512)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def opener(backend, tmp_path):
    """Open the store of `backend` for the library in tmp_path, as the engine would."""
    settings = Settings.from_env(env={}, data_dir=tmp_path / "data")
    uri = str(tmp_path / "data" / ("milvus.db" if backend == "milvus" else "faces.usearch"))
    choice = StoreChoice(backend, uri, "ris_faces" if backend == "milvus" else "")

    def open_(catalog, **kw):
        return open_store(choice, settings, catalog, **kw)

    return open_


def filled(tmp_path, n=20, seed=0):
    cat = Catalog(tmp_path / "data" / "catalog.sqlite")
    vecs = unit(np.random.default_rng(seed), n)
    _, _, keys = cat.save_indexed(
        "/v.mp4", 1, 1, media_info(), [NewFace(i, (0, 0, 1, 1), 1.0, v) for i, v in enumerate(vecs)]
    )
    return cat, keys, vecs


def entries(keys, vectors, tracks=None):
    n = len(keys)
    tracks = np.zeros(n, np.int64) if tracks is None else np.asarray(tracks)
    return Entries(np.asarray(keys), vectors, np.ones(n, np.int64), tracks, np.arange(n) * 0.5)


def test_reconcile_builds_from_the_catalog_and_a_reopened_store_keeps_it(tmp_path, backend):
    cat, keys, vecs = filled(tmp_path)
    open_ = opener(backend, tmp_path)
    store = open_(cat)
    assert store.version == -1
    assert reconcile(store, cat, save=True) and len(store) == 20
    store.close()
    again = open_(cat, create=False)
    assert again.version == cat.version and not reconcile(again, cat)
    exported = dict((int(k), v) for ks, vs in again.export(7) for k, v in zip(ks, vs, strict=True))
    assert sorted(exported) == sorted(keys.tolist())
    np.testing.assert_array_equal(again.get(keys[::-1]), vecs[::-1])
    again.close()


def test_a_lagging_store_is_reconciled(tmp_path, backend):
    cat, keys, _ = filled(tmp_path)
    open_ = opener(backend, tmp_path)
    store = open_(cat)
    reconcile(store, cat, save=True)
    store.close()
    # the catalog moves on (as if a run was killed before the store caught up)
    _, removed, new = cat.save_indexed(
        "/v.mp4",
        2,
        2,
        media_info(),
        [NewFace(0, (0, 0, 1, 1), 1.0, unit(np.random.default_rng(5), 1)[0])],
    )
    stale = open_(cat)
    assert stale.version != cat.version
    assert reconcile(stale, cat) and stale.version == cat.version
    assert sorted(k for ks, _ in stale.export(100) for k in ks.tolist()) == new.tolist()
    stale.close()


def test_a_damaged_usearch_file_is_rebuilt(tmp_path):
    cat, keys, _ = filled(tmp_path)
    (tmp_path / "data" / "faces.usearch").write_bytes(b"garbage" * 10)
    (tmp_path / "data" / "faces.json").write_text('{"version": 1, "count": 20}')
    idx = opener("usearch", tmp_path)(cat)
    assert idx.version == -1  # the file does not match its sidecar: not trusted
    reconcile(idx, cat)
    assert len(idx) == 20


def test_search_returns_every_vector_above_the_threshold(tmp_path, backend):
    rng = np.random.default_rng(1)
    cat = Catalog(tmp_path / "data" / "catalog.sqlite")
    store = opener(backend, tmp_path)(cat)
    q = unit(rng, 1)[0]
    near = q + 0.02 * rng.normal(size=(1000, 512)).astype(np.float32)  # more than one search page
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    store.add(entries(np.arange(1000), near))
    store.add(entries(np.arange(1000, 3000), unit(rng, 2000)))
    keys, sims = store.search(q, 0.5)
    assert sorted(keys.tolist()) == list(range(1000))
    np.testing.assert_allclose(np.sort(sims), np.sort(near @ q), atol=1e-5)
    store.close()


def test_one_per_track_keeps_every_track_that_has_a_match(tmp_path, backend):
    rng = np.random.default_rng(3)
    cat = Catalog(tmp_path / "data" / "catalog.sqlite")
    store = opener(backend, tmp_path)(cat)
    q = unit(rng, 1)[0]
    near = q + 0.03 * rng.normal(size=(60, 512)).astype(np.float32)
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    tracks = np.repeat(np.arange(6), 10)  # six appearances of ten frames
    store.add(entries(np.arange(60), near, tracks))
    store.add(entries(np.arange(60, 560), unit(rng, 500), np.full(500, 9)))
    keys, sims = store.search(q, 0.5, one_per_track=True)
    assert {int(tracks[k]) for k in keys} == set(range(6))
    if backend == "milvus":  # the server groups: the best face of each appearance comes back
        best = {t: float(np.max(near[tracks == t] @ q)) for t in range(6)}
        got = {int(tracks[k]): float(s) for k, s in zip(keys, sims, strict=True)}
        assert got == pytest.approx(best, abs=1e-5)
    else:  # usearch knows no tracks and returns every match
        assert len(keys) == 60
    store.close()


def test_search_with_several_queries_keeps_the_best_similarity(tmp_path, backend):
    rng = np.random.default_rng(2)
    a, b = unit(rng, 2)
    cat = Catalog(tmp_path / "data" / "catalog.sqlite")
    store = opener(backend, tmp_path)(cat)
    store.add(entries(np.array([7, 8]), np.stack([a, b])))
    keys, sims = store.search(np.stack([a, b]), 0.9)
    assert dict(zip(keys.tolist(), np.round(sims, 4).tolist(), strict=True)) == {7: 1.0, 8: 1.0}
    store.remove(np.array([7]))
    keys, _ = store.search(np.stack([a, b]), 0.9)
    assert keys.tolist() == [8] and len(store) == 1
    store.close()


def test_a_change_marks_the_store_current_only_if_it_was(tmp_path, backend):
    """apply_change mirrors one catalog commit; a store that lagged before still lags after,
    so the next reconcile catches up what it missed."""
    cat, keys, vecs = filled(tmp_path)
    store = opener(backend, tmp_path)(cat)
    reconcile(store, cat)
    face = NewFace(0, (0, 0, 1, 1), 1.0, unit(np.random.default_rng(9), 1)[0])
    file_id, removed, new = cat.save_indexed("/w.mp4", 1, 1, media_info(), [face])
    added = Entries(new, face.vector[None], np.array([file_id]), np.zeros(1, np.int64), np.zeros(1))
    apply_change(store, cat, removed, added)
    assert store.version == cat.version and len(store) == 21
    cat.save_indexed("/x.mp4", 1, 1, media_info(), [face])  # a commit the store never sees
    _, removed, _ = cat.save_indexed("/w.mp4", 2, 2, media_info(), [])
    apply_change(store, cat, removed, None)
    assert store.version == cat.version - 2 and len(store) == 20
    assert reconcile(store, cat) and len(store) == 21 and store.version == cat.version
    store.close()


def test_check_compares_keys_range_by_range_as_in_one_pass(tmp_path, backend):
    """`ris check` reads the keys of a range of ids at a time (bounded memory at 10 M faces):
    what it finds is what one pass over every key finds, on either store."""
    from engine.library.repair import check_vectors

    cat, keys, vecs = filled(tmp_path, n=20)
    store = opener(backend, tmp_path)(cat)
    reconcile(store, cat, save=True)
    store.remove(keys[[3, 11]])  # two missing
    stray = int(keys.max()) + 5  # past the catalog's last id: the open-ended last range
    store.add(entries([stray], vecs[:1]))
    found = [check_vectors(store, cat, False, span=span) for span in (3, 7, 10**6)]
    assert [(c.faces, c.vectors, c.missing, c.extra, c.differing) for c in found] == [
        (20, 19, 2, 1, 0)
    ] * 3
    assert all(c.sampled == 18 for c in found)  # every key held by both, at this size
    assert np.sort(store.keys(int(keys[5]), int(keys[9]))).tolist() == keys[5:9].tolist()
    store.close()


def test_a_full_comparison_keeps_what_others_commit_and_carry_meanwhile(tmp_path, backend):
    """An enrolment compares the store with the catalog while other indexers commit and carry
    their changes into it: a face committed and carried after the catalog's ids were read is
    not taken for stale, and a face removed since is not written (nor an error)."""
    from engine.library.stores.base import _compare_in_full

    cat, keys, vecs = filled(tmp_path, n=20)
    store = opener(backend, tmp_path)(cat)
    first_read = cat.face_ids()
    _, _, new = cat.save_indexed(
        "/w.mp4", 1, 1, media_info(), [NewFace(0, (0, 0, 1, 1), 1.0, vecs[0])]
    )
    store.replace(Entries.from_catalog(cat, new))  # carried in by another indexer
    cat.remove(["/v.mp4"])  # the first file's faces removed since they were read

    class ReadBefore:  # the real catalog, whose face ids were read before those commits
        def __getattr__(self, name):  # type: ignore[no-untyped-def]
            return getattr(cat, name)

        def face_ids(self, lo=0, hi=None):  # type: ignore[no-untyped-def]
            return first_read

    _compare_in_full(store, ReadBefore(), store.replace)  # type: ignore[arg-type]
    assert np.sort(store.keys()).tolist() == cat.face_ids().tolist() == new.tolist()
    store.close()
