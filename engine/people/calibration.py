"""How alike two appearances must be to be one person, read from the library itself.

Degraded faces (small, blurred, turned) embed alike whoever they are: their templates share a
large common part, which shows as the length of the library's mean template (about 0.3 on clean
footage, 0.65 on degraded). So templates are compared with that mean taken away (`centred`).
And the library says how alike two different people look in it: two faces seen at once (on
screen together, in one photo) are surely two people; the cut lies above nearly all of those
pairs (their 99th percentile, within CUT_FLOOR and CUT_CEILING), or at PEOPLE_CUT where there
are fewer than MIN_PAIRS of them (docs/people.md, "The cut").

Two cuts are read, one per kind of evidence. `cut` from faces on screen together in a video
(with too few of those, from photos' too), for anything that holds a track; `photo_cut` from
the faces of one photo, at least PHOTO_FLOOR and `cut`, for a group of photos alone. A photo's
face is one frame against a track's many, and a library of n photos makes n²/2 pairs of them:
at the video cut (0.40 on the easy benchmark's photo library) six of its seven groups of
photos alone were two strangers (docs/people.md, "Photos alone")."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

import numpy as np

from engine.library.catalog import Catalog
from engine.library.people_records import StoredAppearances
from engine.results import PeopleCuts
from engine.vocabulary import LibraryKey

PEOPLE_CUT = 0.45  # where the library has too few pairs of faces seen at once to read its own
CUT_FLOOR, CUT_CEILING = 0.40, 0.80
PHOTO_FLOOR = 0.45  # photos alone: strangers' photo pairs at 0.40 or more were 22 in 7,420
CUT_QUANTILE = 0.99  # of the similarities of pairs that are surely two people
MIN_PAIRS = 20
MAX_PAIRS = 200_000  # read from at most this many pairs (the files' in catalog order)


@dataclass(frozen=True)
class Calibration:
    """The library's mean template (taken away before comparing) and its cut."""

    centre: np.ndarray
    cut: float
    pairs: int  # pairs seen at once the cut was read from (0: the default)
    photo_cut: float = PEOPLE_CUT  # for groups of photos alone; at least a read `cut`
    photo_pairs: int = 0  # pairs of faces in one photo it was read from (0: the default)

    def cuts(self) -> PeopleCuts:
        return PeopleCuts(self.cut, self.pairs, self.photo_cut, self.photo_pairs)

    def apply(self, stored: StoredAppearances) -> StoredAppearances:
        return replace(stored, vectors=self.centred(stored.vectors))

    def centred(self, vectors: np.ndarray) -> np.ndarray:
        v = np.asarray(vectors, np.float32) - self.centre
        return (v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def save_cuts(catalog: Catalog, cuts: PeopleCuts) -> None:
    """Keep the cuts an update grouped at in the catalog's meta (a listing shows them)."""
    catalog.set_meta(LibraryKey.PEOPLE_CUTS, json.dumps(asdict(cuts)))


def saved_cuts(catalog: Catalog) -> PeopleCuts | None:
    """The cuts the last update grouped at (None: none yet, or unreadable)."""
    try:
        return PeopleCuts(**json.loads(catalog.meta(LibraryKey.PEOPLE_CUTS) or ""))
    except (ValueError, TypeError):
        return None


def calibrate(stored: StoredAppearances) -> Calibration:
    if not len(stored):
        return Calibration(np.zeros(stored.vectors.shape[1], np.float32), PEOPLE_CUT, 0)
    centre = stored.vectors.astype(np.float64).mean(axis=0).astype(np.float32)
    vectors = Calibration(centre, PEOPLE_CUT, 0).centred(stored.vectors)
    order = np.argsort(stored.files, kind="stable")
    bounds = np.flatnonzero(np.r_[True, np.diff(stored.files[order]) != 0, True])
    found: dict[bool, list[np.ndarray]] = {False: [], True: []}  # photo? -> similarities
    total = 0
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        rows = order[lo:hi][:200]  # a file's first 200 appearances are plenty
        if len(rows) < 2:
            continue
        starts, ends = stored.starts[rows], stored.ends[rows]
        photo = bool((ends <= starts).all())  # a photo's faces are all seen at once
        together = np.minimum(ends[:, None], ends[None, :]) > np.maximum(
            starts[:, None], starts[None, :]
        )
        i, j = np.nonzero(np.triu(together | photo, 1))
        if len(i):
            found[photo].append(np.einsum("ij,ij->i", vectors[rows[i]], vectors[rows[j]]))
            total += len(i)
        if total >= MAX_PAIRS:
            break
    cut, pairs = _cut(found[False])
    if not pairs:  # too few faces on screen together: those of photos count too
        cut, pairs = _cut(found[False] + found[True])
    photo_cut, photo_pairs = _cut(found[True], PHOTO_FLOOR)
    if pairs:  # a library with videos: its photos alone are held to at least their cut
        photo_cut = max(photo_cut, cut)
    return Calibration(centre, cut, pairs, photo_cut, photo_pairs)


def _cut(found: list[np.ndarray], floor: float = CUT_FLOOR) -> tuple[float, int]:
    """The cut read from these similarities of pairs seen at once, and how many they were."""
    sims = np.concatenate(found) if found else np.zeros(0, np.float32)
    if len(sims) < MIN_PAIRS:
        return max(PEOPLE_CUT, floor), 0
    cut = float(np.clip(np.quantile(sims, CUT_QUANTILE), floor, CUT_CEILING))
    return round(cut, 4), len(sims)
