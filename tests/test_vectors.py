import numpy as np

from engine.catalog import Catalog, NewFace
from engine.vectors import VectorIndex


def unit(rng, n):
    v = rng.normal(size=(n, 512)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def filled(tmp_path, n=20, seed=0):
    cat = Catalog(tmp_path / "c.sqlite")
    vecs = unit(np.random.default_rng(seed), n)
    _, keys = cat.save_indexed(
        "/v.mp4", "video", 1, 1, {}, [NewFace(i, (0, 0, 1, 1), 1.0, v) for i, v in enumerate(vecs)]
    )
    return cat, keys, vecs


def test_sync_builds_from_the_catalog_and_save_load_keeps_it(tmp_path):
    cat, keys, _ = filled(tmp_path)
    idx = VectorIndex(tmp_path / "f.usearch")
    assert idx.sync(cat) and len(idx) == 20
    idx.save(cat.version)
    again = VectorIndex(tmp_path / "f.usearch")
    assert again.version == cat.version and not again.sync(cat)
    assert sorted(np.asarray(again.index.keys).tolist()) == sorted(keys.tolist())


def test_a_lagging_index_is_reconciled(tmp_path):
    cat, keys, _ = filled(tmp_path)
    idx = VectorIndex(tmp_path / "f.usearch")
    idx.sync(cat)
    idx.save(cat.version)
    # the catalog moves on (as if a run was killed before the index was saved)
    removed, new = cat.save_indexed(
        "/v.mp4",
        "video",
        2,
        2,
        {},
        [NewFace(0, (0, 0, 1, 1), 1.0, unit(np.random.default_rng(5), 1)[0])],
    )
    stale = VectorIndex(tmp_path / "f.usearch")
    assert stale.version != cat.version
    stale.sync(cat)
    assert np.asarray(stale.index.keys).tolist() == new.tolist()


def test_a_damaged_index_file_is_rebuilt(tmp_path):
    cat, keys, _ = filled(tmp_path)
    (tmp_path / "f.usearch").write_bytes(b"garbage" * 10)
    (tmp_path / "f.json").write_text('{"version": 1, "count": 20}')
    idx = VectorIndex(tmp_path / "f.usearch")
    idx.sync(cat)
    assert len(idx) == 20


def test_search_returns_every_vector_above_the_threshold(tmp_path):
    rng = np.random.default_rng(1)
    idx = VectorIndex(tmp_path / "f.usearch")
    q = unit(rng, 1)[0]
    near = q + 0.02 * rng.normal(size=(1000, 512)).astype(np.float32)  # more than one search page
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    idx.add(np.arange(1000), near)
    idx.add(np.arange(1000, 3000), unit(rng, 2000))
    keys, sims = idx.search(q, 0.5)
    assert sorted(keys.tolist()) == list(range(1000))
    np.testing.assert_allclose(np.sort(sims), np.sort(near @ q), atol=1e-5)


def test_search_with_several_queries_keeps_the_best_similarity(tmp_path):
    rng = np.random.default_rng(2)
    a, b = unit(rng, 2)
    idx = VectorIndex(tmp_path / "f.usearch")
    idx.add(np.array([7, 8]), np.stack([a, b]))
    keys, sims = idx.search(np.stack([a, b]), 0.9)
    assert dict(zip(keys.tolist(), np.round(sims, 4).tolist(), strict=True)) == {7: 1.0, 8: 1.0}
