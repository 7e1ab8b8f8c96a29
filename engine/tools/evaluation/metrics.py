"""Retrieval and verification metrics, pure numpy (the formulas the README's table uses)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def best_threshold(sims: np.ndarray, same: np.ndarray) -> float:
    """The threshold of best accuracy on these pairs (ties: the lowest)."""
    candidates = np.unique(np.concatenate([sims, [sims.max() + 1e-6]]))
    acc = [np.mean((sims >= t) == same) for t in candidates]
    return float(candidates[int(np.argmax(acc))])


def kfold_accuracy(sims: np.ndarray, same: np.ndarray, folds: int = 10) -> tuple[float, float]:
    """LFW protocol: threshold chosen on nine folds, accuracy on the tenth; mean and std."""
    fold = np.arange(len(sims)) % folds
    accs = []
    for k in range(folds):
        t = best_threshold(sims[fold != k], same[fold != k])
        accs.append(np.mean((sims[fold == k] >= t) == same[fold == k]))
    return float(np.mean(accs)), float(np.std(accs))


def tar_at_far(sims: np.ndarray, same: np.ndarray, far: float) -> tuple[float, float]:
    """True-accept rate at the lowest threshold whose false-accept rate is at most `far`.

    With N different-person pairs, the smallest non-zero FAR is 1/N: below that, the threshold
    must exceed every impostor score. Returns (TAR, threshold)."""
    neg = np.sort(sims[~same])[::-1]
    allowed = int(np.floor(far * len(neg)))  # impostors that may pass
    t = float(neg[allowed]) + 1e-9 if allowed < len(neg) else float(neg[-1])
    return float(np.mean(sims[same] >= t)), t


def average_precision(ranked_relevant: Sequence[bool], total_relevant: int) -> float:
    """AP of a ranked list; relevant items never returned count as misses."""
    if total_relevant == 0:
        return 0.0
    hits, score = 0, 0.0
    for i, rel in enumerate(ranked_relevant, 1):
        if rel:
            hits += 1
            score += hits / i
    return score / total_relevant


def recall_at(ranked_relevant: Sequence[bool], total_relevant: int, k: int) -> float:
    return sum(ranked_relevant[:k]) / total_relevant if total_relevant else 0.0


def temporal_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def match_segments(
    predicted: Sequence[tuple[float, float]], truth: Sequence[tuple[float, float]], iou: float = 0.5
) -> tuple[int, int]:
    """Greedy one-to-one matching by tIoU: (truth segments found, predicted segments right)."""
    pairs = sorted(
        ((temporal_iou(p, t), i, j) for i, p in enumerate(predicted) for j, t in enumerate(truth)),
        reverse=True,
    )
    used_p: set[int] = set()
    used_t: set[int] = set()
    for value, i, j in pairs:
        if value < iou:
            break
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
    return len(used_t), len(used_p)
