"""Grouping appearance templates into people, without an all-pairs distance matrix: each
template's nearest neighbours (exact, a block of rows at a time, up to EXACT_UP_TO templates;
usearch's HNSW graph above) make a sparse graph, and the groups are found on that graph.

Two ways are measured against each other (`ris eval --only people`, README "People"):

- `average_linkage`: agglomerative clustering on the neighbour graph, merging while the mean
  similarity over all pairs of two groups is at least the cut (pairs that are not neighbours
  count as 0). A group must be alike throughout, so one bridge between two people does not
  chain them together.
- `chinese_whispers`: label propagation on the same graph's edges above the cut, the recipe of
  dlib's face clustering example that face_recognition users follow. Cheap, but one strong edge
  between two people can pull them together.
"""

from __future__ import annotations

import numpy as np

NEIGHBOURS = 24  # per template: a person has more appearances, but their groups join through any
EXACT_UP_TO = 50_000  # templates compared exactly below this; HNSW's neighbours above


def neighbours(vectors: np.ndarray, k: int = NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
    """Each template's k nearest others: (indices, similarities), (N, k) each; -1 where fewer."""
    n = len(vectors)
    k = min(k, max(n - 1, 0))
    if k == 0:
        return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float32)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if n <= EXACT_UP_TO:
        return _exact_neighbours(vectors, k)
    from usearch.index import Index

    index = Index(ndim=vectors.shape[1], metric="cos", dtype="f32", connectivity=16)
    index.add(np.arange(n), vectors, threads=0)
    found = index.search(vectors, k + 1, threads=0)
    keys = np.asarray(found.keys, dtype=np.int64).reshape(n, -1)
    sims = (1.0 - np.asarray(found.distances, dtype=np.float32)).reshape(n, -1)
    counts = np.asarray(found.counts).reshape(n)  # type: ignore[union-attr]
    valid = np.arange(keys.shape[1])[None, :] < counts[:, None]
    self_hit = keys == np.arange(n)[:, None]
    keep = valid & ~self_hit
    out_k = np.full((n, k), -1, np.int64)
    out_s = np.full((n, k), -1.0, np.float32)
    for row in range(n):  # at most k others each, in order of similarity
        ks, ss = keys[row][keep[row]][:k], sims[row][keep[row]][:k]
        out_k[row, : len(ks)], out_s[row, : len(ss)] = ks, ss
    return out_k, out_s


BLOCK_CELLS = 1 << 25  # similarities held at once by an exact search (128 MiB of float32)


def nearest(
    queries: np.ndarray, base: np.ndarray, k: int, skip_self: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Each query's k most similar rows of `base` by dot product, most similar first:
    (indices, similarities), (len(queries), k) each; exact, a block of queries at a time, so
    never the whole queries x base matrix. `skip_self`: the queries are `base` itself, and a
    row is not its own neighbour."""
    m = len(base)
    out_k = np.empty((len(queries), k), np.int64)
    out_s = np.empty((len(queries), k), np.float32)
    block = max(1, BLOCK_CELLS // max(m, 1))
    for lo in range(0, len(queries), block):
        sims = queries[lo : lo + block] @ base.T
        if skip_self:
            rows = np.arange(len(sims))
            sims[rows, lo + rows] = -np.inf
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < m else np.argsort(-sims)
        top_s = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_s, axis=1, kind="stable")
        out_k[lo : lo + block] = np.take_along_axis(top, order, axis=1)
        out_s[lo : lo + block] = np.take_along_axis(top_s, order, axis=1)
    return out_k, out_s


def _exact_neighbours(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """`neighbours`, exactly (`nearest`): never the n x n matrix (usearch's exact search made
    one: 1.5 GiB at 10,000 templates, 30 GiB at 50,000)."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return nearest(unit, unit, k, skip_self=True)


def _edges(
    idx: np.ndarray, sims: np.ndarray, floor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The graph's undirected edges at or above `floor`: (a, b, similarity), a < b, each once."""
    rows = np.repeat(np.arange(len(idx)), idx.shape[1])
    cols, s = idx.ravel(), sims.ravel()
    ok = (cols >= 0) & (s >= floor)
    a, b, s = np.minimum(rows, cols)[ok], np.maximum(rows, cols)[ok], s[ok]
    if not len(a):
        return a, b, s
    key = a * (len(idx) + 1) + b
    _, first = np.unique(key, return_index=True)
    return a[first], b[first], s[first]


def average_linkage(
    vectors: np.ndarray,
    cut: float,
    k: int = NEIGHBOURS,
    photos: np.ndarray | None = None,
    photo_cut: float | None = None,
) -> np.ndarray:
    """A group label per template (0..G-1): average linkage, merging while the mean
    similarity over every pair of the two groups is at least `cut`. Pairs outside the
    neighbour graph count as similarity 0 (they are not among each other's nearest), so a
    bridge between two people, near both, does not chain them: their other pairs outvote it.
    `photos` (a flag per template) and `photo_cut`: a merge where one group holds photos
    alone needs `photo_cut` (if higher)."""
    n = len(vectors)
    if n < 2:
        return np.zeros(n, np.int64)
    idx, sims = neighbours(vectors, k)
    a, b, s = _edges(idx, sims, 0.0)
    return _dense(sparse_average_linkage(n, a, b, s, cut, photos, photo_cut))


def sparse_average_linkage(
    n: int,
    a: np.ndarray,
    b: np.ndarray,
    s: np.ndarray,
    cut: float,
    photos: np.ndarray | None = None,
    photo_cut: float | None = None,
) -> np.ndarray:
    """Average linkage over a sparse similarity graph (edges a-b of similarity s, each once;
    absent pairs 0): the best pair of groups merges first, while its mean is >= cut (>=
    photo_cut where one of them holds `photos` alone). Each merge sums the two groups' links,
    so a step costs their neighbours, not the library."""
    import heapq

    links: list[dict[int, float]] = [{} for _ in range(n)]
    for i, j, w in zip(a.tolist(), b.tolist(), s.tolist(), strict=True):
        links[i][j] = links[i].get(j, 0.0) + w
        links[j][i] = links[j].get(i, 0.0) + w
    size = [1] * n
    owner = list(range(n))  # the group each template ended in (by its surviving member)
    heap = [
        (-w, i, j) for i, j, w in zip(a.tolist(), b.tolist(), s.tolist(), strict=True) if w >= cut
    ]
    heapq.heapify(heap)
    alive = [True] * n
    photos_only = [False] * n if photos is None else [bool(x) for x in photos]
    strict = cut if photo_cut is None else max(cut, photo_cut)
    while heap:
        neg, i, j = heapq.heappop(heap)
        if not (alive[i] and alive[j]):
            continue
        mean = links[i].get(j, 0.0) / (size[i] * size[j])
        if abs(mean + neg) > 1e-9 or mean < cut:
            continue  # an old value: the groups changed since it was pushed
        if mean < strict and (photos_only[i] or photos_only[j]):
            continue  # pushed again if either group changes
        if len(links[i]) < len(links[j]):
            i, j = j, i  # the one with fewer links joins the other
        del links[i][j]
        links[j].pop(i, None)
        for other, w in links[j].items():
            total = links[i].get(other, 0.0) + w
            links[i][other] = total
            links[other].pop(j, None)
            links[other][i] = total
        size[i] += size[j]
        photos_only[i] = photos_only[i] and photos_only[j]
        alive[j] = False
        owner[j] = i
        links[j] = {}
        for other, total in links[i].items():
            m = total / (size[i] * size[other])
            if m >= cut:
                heapq.heappush(heap, (-m, min(i, other), max(i, other)))
    labels = np.arange(n)
    for node in range(n):  # follow each template to its group's surviving member
        root = node
        while owner[root] != root:
            root = owner[root]
        labels[node] = root
    return labels


def chinese_whispers(
    vectors: np.ndarray, cut: float, k: int = NEIGHBOURS, rounds: int = 20, seed: int = 0
) -> np.ndarray:
    """A group label per template: Chinese whispers (each node takes the label with the most
    edge weight among its neighbours, in random order, for `rounds` passes) on the neighbour
    graph's edges at or above `cut`."""
    n = len(vectors)
    if n < 2:
        return np.zeros(n, np.int64)
    idx, sims = neighbours(vectors, k)
    a, b, s = _edges(idx, sims, cut)
    order = np.argsort(np.r_[a, b], kind="stable")
    src, dst, w = np.r_[a, b][order], np.r_[b, a][order], np.r_[s, s][order]
    starts = np.searchsorted(src, np.arange(n + 1))
    labels = np.arange(n)
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        changed = 0
        for node in rng.permutation(n):
            lo, hi = starts[node], starts[node + 1]
            if lo == hi:
                continue
            votes: dict[int, float] = {}
            for other, weight in zip(dst[lo:hi].tolist(), w[lo:hi].tolist(), strict=True):
                label = int(labels[other])
                votes[label] = votes.get(label, 0.0) + weight
            best = max(votes, key=lambda x: votes[x])
            if best != labels[node]:
                labels[node] = best
                changed += 1
        if not changed:
            break
    return _dense(labels)


def _dense(labels: np.ndarray) -> np.ndarray:
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)
