"""LFW: face verification on a pairs file, and the original task, image retrieval."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from engine.library.catalog import Catalog
from engine.models.faces import largest_first, query_order
from engine.settings import DEFAULT_THRESHOLD
from engine.tools.evaluation.metrics import average_precision, kfold_accuracy, recall_at, tar_at_far
from engine.vocabulary import EMBEDDING_DIM, FileStatus, MediaKind


def chosen_faces(catalog: Catalog, before: bool = False) -> tuple[list[str], np.ndarray]:
    """Per indexed photo with faces, in path order: its path and the vector of the face a query
    photo is searched by (with `before`, the largest raw box, ris's rule until issue 12)."""
    paths, vectors = [], []
    for record in catalog.files(FileStatus.INDEXED):
        if record.kind != MediaKind.IMAGE or not record.faces:
            continue
        faces = catalog.file_faces(record.id)
        assert faces.vectors is not None
        if before:
            first = largest_first(faces.boxes)[0]
        else:
            first = query_order(faces.boxes, record.width or 0, record.height or 0)[0]
        paths.append(record.path)
        vectors.append(faces.vectors[int(first)])
    return paths, np.stack(vectors) if vectors else np.zeros((0, EMBEDDING_DIM), np.float32)


def read_pairs(path: Path) -> list[tuple[str, str, bool]]:
    """LFW pairs files: `name i j` (same person) or `name i other j` (different)."""
    pairs = []
    for line in path.read_text().splitlines()[1:]:
        f = line.split()
        if len(f) == 3:
            pairs.append((_image(f[0], f[1]), _image(f[0], f[2]), True))
        elif len(f) == 4:
            pairs.append((_image(f[0], f[1]), _image(f[2], f[3]), False))
    return pairs


def _image(name: str, number: str) -> str:
    return f"{name}/{name}_{int(number):04d}.jpg"


def verification(
    pairs: Sequence[tuple[str, str, bool]], vectors: dict[str, np.ndarray | None]
) -> dict:
    """10-fold accuracy and TAR at FAR 1e-3 over the pairs whose two faces were found.

    A pair with a face missing counts as a wrong answer in `accuracy_all` (the strict
    reading); the LFW protocol figures use the pairs found."""
    sims, same, missing = [], [], 0
    for a, b, is_same in pairs:
        va, vb = vectors.get(a), vectors.get(b)
        if va is None or vb is None:
            missing += 1
            continue
        sims.append(float(va @ vb))
        same.append(is_same)
    s, y = np.asarray(sims), np.asarray(same)
    mean, std = kfold_accuracy(s, y)
    tar, thr = tar_at_far(s, y, 1e-3)
    accept = s >= DEFAULT_THRESHOLD
    return {
        "pairs": len(pairs),
        "pairs_without_face": missing,
        "accuracy": round(mean, 4),
        "accuracy_std": round(std, 4),
        "accuracy_all": round(mean * len(s) / len(pairs), 4),
        "tar_at_far_1e-3": round(tar, 4),
        "threshold_at_far_1e-3": round(thr, 4),
        "tar_at_default": round(float(accept[y].mean()) if y.any() else 0.0, 4),
        "far_at_default": round(float(accept[~y].mean()) if (~y).any() else 0.0, 4),
    }


CUTOFF = 20  # the original task listed the 20 nearest images


def retrieval(
    names: Sequence[str],
    rank: Callable[[int], Sequence[int]],
) -> dict:
    """Query with every image of a person who has two or more; the others of theirs are the
    relevant results. `rank(i)` returns the indices of `names` best first (i may be among them:
    it is dropped). Scored on the first 20 results: mAP@20 (AP divided by min(relevant, 20)),
    precision at 1, recall at 20."""
    person = [n.split("/")[0] for n in names]
    by_person: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(person):
        by_person[p].append(i)
    aps, p1, r20, seconds = [], [], [], []
    for i, p in enumerate(person):
        relevant = len(by_person[p]) - 1
        if relevant < 1:
            continue
        t0 = time.perf_counter()
        ranked = [j for j in rank(i) if j != i][:CUTOFF]
        seconds.append(time.perf_counter() - t0)
        hits = [person[j] == p for j in ranked]
        aps.append(average_precision(hits, min(relevant, CUTOFF)))
        p1.append(float(bool(hits) and hits[0]))
        r20.append(recall_at(hits, relevant, CUTOFF))
    return {
        "queries": len(aps),
        "images": len(names),
        "mAP_at_20": round(float(np.mean(aps)), 4),
        "precision_at_1": round(float(np.mean(p1)), 4),
        "recall_at_20": round(float(np.mean(r20)), 4),
        "query_ms_median": round(1000 * float(np.median(seconds)), 2),
    }


def exact_ranker(vectors: np.ndarray) -> Callable[[int], Sequence[int]]:
    """Exact nearest neighbours by cosine similarity (vectors normalised here)."""
    v = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def rank(i: int) -> Sequence[int]:
        sims = v @ v[i]
        top = np.argpartition(-sims, CUTOFF)[: CUTOFF + 1]
        return top[np.argsort(-sims[top], kind="stable")].tolist()

    return rank


def pca_reduce(vectors: np.ndarray, dims: int) -> np.ndarray:
    """FaceNet vectors projected on their first `dims` principal components, re-normalised."""
    from sklearn.decomposition import PCA

    reduced = PCA(n_components=dims, random_state=0).fit_transform(vectors)
    return reduced / np.maximum(np.linalg.norm(reduced, axis=1, keepdims=True), 1e-12)
