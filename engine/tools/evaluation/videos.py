"""Scoring video search against ground truth: which videos, and when in them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.results import SearchResult
from engine.tools.evaluation.metrics import average_precision, match_segments


@dataclass(frozen=True)
class Judged:
    """One query's result and what is true: the relevant videos and, per video, the
    segments in which the person is on screen."""

    result: SearchResult
    relevant: frozenset[str]  # video names
    truth: dict[str, list[tuple[float, float]]]  # video name -> segments of the person
    seconds: float


def score(judged: Sequence[Judged]) -> dict:
    """Segments are scored as listed: a matched video's own, a possible video's (all marked);
    the possible segments of a matched video (its weaker appearances) are scored apart, as
    the `_with_possible` figures."""
    aps, p1, errors = [], [], []
    found = total_truth = right = total_pred = 0
    found_all = right_all = total_all = 0
    for j in judged:
        names = [Path(v.path).name for v in j.result.videos]
        hits = [n in j.relevant for n in names]
        aps.append(average_precision(hits, len(j.relevant)))
        p1.append(float(bool(hits) and hits[0]))
        total_truth += sum(len(j.truth.get(n, [])) for n in j.relevant)
        for v, name in zip(j.result.videos, names, strict=True):
            predicted = [(s.start, s.end) for s in v.segments if v.possible or not s.possible]
            every = [(s.start, s.end) for s in v.segments]
            truth = j.truth.get(name, []) if name in j.relevant else []
            f, r = match_segments(predicted, truth, 0.5)
            found += f
            right += r
            total_pred += len(predicted)
            f, r = match_segments(every, truth, 0.5)
            found_all += f
            right_all += r
            total_all += len(every)
            if truth and predicted:
                errors.append(abs(predicted[0][0] - truth[0][0]))
    return {
        "queries": len(judged),
        "mAP": round(float(np.mean(aps)), 4) if aps else None,
        "precision_at_1": round(float(np.mean(p1)), 4) if p1 else None,
        "segment_recall_iou_0.5": round(found / total_truth, 4) if total_truth else None,
        "segment_precision_iou_0.5": round(right / total_pred, 4) if total_pred else None,
        "segment_recall_with_possible": round(found_all / total_truth, 4) if total_truth else None,
        "segment_precision_with_possible": round(right_all / total_all, 4) if total_all else None,
        "first_match_error_s_median": round(float(np.median(errors)), 3) if errors else None,
        "first_match_error_s_mean": round(float(np.mean(errors)), 3) if errors else None,
        "query_s_median": round(float(np.median([j.seconds for j in judged])), 3),
    }
