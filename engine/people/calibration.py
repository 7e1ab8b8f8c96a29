"""How alike two appearances must be to be one person, read from the library itself.

Degraded faces (small, blurred, turned) embed alike whoever they are: their templates share a
large common part, which shows as the length of the library's mean template (about 0.3 on clean
footage, 0.65 on degraded). So templates are compared with that mean taken away (`centred`).
And the library says how alike two different people look in it: two faces seen at once (on
screen together, in one photo) are surely two people; the cut lies above nearly all of those
pairs (their 99th percentile, within CUT_FLOOR and CUT_CEILING), or at PEOPLE_CUT where there
are fewer than MIN_PAIRS of them (docs/people.md, "The cut")."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from engine.library.people_records import StoredAppearances

PEOPLE_CUT = 0.45  # where the library has too few pairs of faces seen at once to read its own
CUT_FLOOR, CUT_CEILING = 0.40, 0.80
CUT_QUANTILE = 0.99  # of the similarities of pairs that are surely two people
MIN_PAIRS = 20
MAX_PAIRS = 200_000  # read from at most this many pairs (the files' in catalog order)


@dataclass(frozen=True)
class Calibration:
    """The library's mean template (taken away before comparing) and its cut."""

    centre: np.ndarray
    cut: float
    pairs: int  # pairs seen at once the cut was read from

    def apply(self, stored: StoredAppearances) -> StoredAppearances:
        return replace(stored, vectors=self.centred(stored.vectors))

    def centred(self, vectors: np.ndarray) -> np.ndarray:
        v = np.asarray(vectors, np.float32) - self.centre
        return (v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def calibrate(stored: StoredAppearances) -> Calibration:
    if not len(stored):
        return Calibration(np.zeros(stored.vectors.shape[1], np.float32), PEOPLE_CUT, 0)
    centre = stored.vectors.astype(np.float64).mean(axis=0).astype(np.float32)
    cal = Calibration(centre, PEOPLE_CUT, 0)
    vectors = cal.centred(stored.vectors)
    order = np.argsort(stored.files, kind="stable")
    bounds = np.flatnonzero(np.r_[True, np.diff(stored.files[order]) != 0, True])
    sims: list[np.ndarray] = []
    total = 0
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        rows = order[lo:hi][:200]  # a file's first 200 appearances are plenty
        if len(rows) < 2:
            continue
        starts, ends = stored.starts[rows], stored.ends[rows]
        photo = (ends <= starts)[:, None] | (ends <= starts)[None, :]
        together = photo | (
            np.minimum(ends[:, None], ends[None, :]) > np.maximum(starts[:, None], starts[None, :])
        )
        i, j = np.nonzero(np.triu(together, 1))
        if len(i):
            sims.append(np.einsum("ij,ij->i", vectors[rows[i]], vectors[rows[j]]))
            total += len(i)
        if total >= MAX_PAIRS:
            break
    if total < MIN_PAIRS:
        return cal
    found = np.concatenate(sims)
    cut = float(np.clip(np.quantile(found, CUT_QUANTILE), CUT_FLOOR, CUT_CEILING))
    return Calibration(centre, round(cut, 4), int(total))
