"""Keeping the library's people up to date, incrementally.

An update sums up the appearances of files indexed since the last one (`appearances`), then
places every unsorted appearance:

1. into an existing person, when its mean similarity (templates compared with the library's
   mean taken away, `Calibration`) to that person's appearances (average
   linkage's own measure) is at least the cut, the person is not one the user took it out of,
   and the person is not on screen elsewhere in the same file at the same time (two faces seen
   at once are two people; a photo's faces are all seen at once);
2. the rest are grouped among themselves (`clustering.average_linkage`, the same cut, the same
   rule of faces seen at once); a group becomes a new person when it has MIN_APPEARANCES, or
   when its one appearance is on screen in a video for SOLO_SECONDS or more (someone seen in
   one scene of one video is someone all the same: their segments are theirs); a group of
   photos alone, when it has MIN_PHOTOS.

Photos alone are held to more (`Calibration.photo_cut`, MIN_PHOTOS): a photo's face is one
frame, and n photos make n²/2 pairs, among which a few strangers always look alike. A photo
joins a person, or a person of photos alone takes an appearance, at the photo cut.

What is left stays unsorted: a face seen once in a photo, or glimpsed for less than a second,
is not forced into anyone. People keep their ids and names from one update to the next:
placed appearances are never moved by an update, only by the user (merge, take out). A person
whose appearances all went (their files indexed again) keeps its template, so the new
appearances of those files join it again.

The cut is read from the library itself at each update (`Calibration`); `ris eval --only
people` measures it against fixed cuts (README, "People")."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from engine.library.catalog import Catalog
from engine.library.people_records import PeopleRecords, StoredAppearances
from engine.people.appearances import Appearances, file_appearances
from engine.people.calibration import calibrate, save_cuts
from engine.people.clustering import average_linkage, nearest

MIN_APPEARANCES = 2
MIN_PHOTOS = 3  # photos alone make a person from three faces (as Immich's default)
SOLO_SECONDS = 1.0  # one appearance on screen this long in a video is someone; less, a glimpse


@dataclass(frozen=True)
class PeopleUpdate:
    """What an update did."""

    summed_up: int  # files whose appearances were summed up
    joined: int  # appearances placed in people who were there before
    new_people: int
    placed: int  # appearances placed in new people
    unsorted: int  # appearances in no person after the update


def update_people(catalog: Catalog, cut: float | None = None) -> PeopleUpdate:
    """Bring the catalog's people up to date with its faces."""
    records = PeopleRecords(catalog)
    todo = records.files_to_sum_up()
    fresh = Appearances.joined([file_appearances(r, catalog.file_faces(r.id)) for r in todo])
    if len(fresh):
        with records.writing():
            records.add(
                fresh.files, fresh.tracks, fresh.best, fresh.starts, fresh.ends,
                fresh.faces, fresh.vectors,
            )  # fmt: skip
    raw = records.stored()
    loose = np.flatnonzero((raw.people < 0) & ~raw.pinned)
    if not len(loose):
        return PeopleUpdate(len(todo), 0, 0, 0, int((raw.people < 0).sum()))
    cal = calibrate(raw)
    own = cut is None  # grouped at the library's own cuts (a listing shows them)
    cut, photo_cut = (cal.cut, cal.photo_cut) if cut is None else (cut, cut)
    stored = cal.apply(raw)
    people = [
        replace(p, template=None if p.template is None else p.template - cal.centre)
        for p in records.people()
    ]
    ids = [p.id for p in people]
    sums, counts = _person_sums(stored, people)
    # 1. into existing people
    means = sums / np.maximum(counts, 1)[:, None]
    joined = join_people(stored, loose, ids, means, cut, photo_cut, _photos_only(stored, ids))
    # 2. the rest among themselves
    rest = np.asarray([r for r in loose.tolist() if r not in joined], np.int64)
    groups = _groups(stored, rest, cut, photo_cut)
    new_groups = [g for g in groups if _someone(stored, g)]
    with records.writing():
        if joined:
            rows = np.asarray(list(joined), np.int64)
            records.place(
                stored.files[rows], stored.tracks[rows], np.asarray(list(joined.values()))
            )
        for g in new_groups:
            person = records.new_person(stored.vectors[g].mean(axis=0))
            records.place(stored.files[g], stored.tracks[g], np.full(len(g), person))
        # each person's template: the mean of its appearances now (kept for one with none)
        now = records.people()
        sums, counts = _person_sums(records.stored(), now)
        records.set_templates([p.id for p in now], sums / counts[:, None])
    if own:
        save_cuts(catalog, cal.cuts())
    placed = sum(len(g) for g in new_groups)
    return PeopleUpdate(
        len(todo), len(joined), len(new_groups), placed, len(loose) - len(joined) - placed
    )


JOIN_CANDIDATES = 8  # people compared per appearance (the nearest means)
EXACT_PAIRS = 4_000_000_000  # appearances x people compared exactly, a block at a time, up to


def join_people(
    stored: StoredAppearances,
    loose: np.ndarray,
    ids: list[int],
    means: np.ndarray,
    cut: float,
    photo_cut: float | None = None,
    photos_only: np.ndarray | None = None,
) -> dict[int, int]:
    """Which of the `loose` appearances join which person (row -> person id): the person whose
    mean (`means`, one per id) is nearest, at `cut` or more (`photo_cut` for a photo's face,
    or a person of photos alone: `photos_only`, a flag per id), not one the user took the
    appearance out of, and not on screen with it at the same time. Each appearance is
    compared with the JOIN_CANDIDATES nearest means: found exactly, a block of appearances at
    a time, up to EXACT_PAIRS comparisons (an update's new appearances against 100,000 people
    takes seconds); by usearch's HNSW graph beyond (its default search found the right person
    for 62 % of the new appearances among 100,000 synthetic people: it searches wider here)."""
    joined: dict[int, int] = {}
    if not ids or not len(loose):
        return joined
    means = np.ascontiguousarray(means, np.float32)
    vectors = np.ascontiguousarray(stored.vectors[loose], np.float32)
    k = min(JOIN_CANDIDATES, len(ids))
    if len(loose) * len(ids) <= EXACT_PAIRS:
        cols, sims = nearest(vectors, means, k)
    else:
        from usearch.index import Index

        index = Index(
            ndim=means.shape[1], metric="ip", dtype="f32", connectivity=32,
            expansion_add=256, expansion_search=256,
        )  # fmt: skip
        index.add(np.arange(len(ids)), means, threads=0)
        found = index.search(vectors, k, threads=0)
        cols = np.asarray(found.keys, np.int64).reshape(len(loose), -1)
        sims = 1.0 - np.asarray(found.distances, np.float32).reshape(len(loose), -1)
        sims[cols < 0] = -1.0
    by_file: dict[int, list[int]] = {}
    for row, f in enumerate(stored.files.tolist()):
        by_file.setdefault(f, []).append(row)
    strict = cut if photo_cut is None else max(cut, photo_cut)
    only = np.zeros(len(ids), bool) if photos_only is None else photos_only
    photo = stored.ends <= stored.starts
    for k in np.argsort(-sims[:, 0], kind="stable").tolist():  # surest first
        row = int(loose[k])
        for col, sim in zip(cols[k].tolist(), sims[k].tolist(), strict=True):
            if sim < cut:
                break
            if sim < strict and (photo[row] or only[col]):
                continue
            person = ids[col]
            if person == stored.refused[row]:
                continue
            if not _seen_at_once(stored, row, person, by_file[int(stored.files[row])], joined):
                joined[row] = person
                break
    return joined


def _someone(stored: StoredAppearances, group: np.ndarray) -> bool:
    """Whether a group of appearances is a person: seen twice or more, or on screen in a
    video for SOLO_SECONDS at least (a photo's face seen once, a glimpse: unsorted); photos
    alone, seen MIN_PHOTOS times."""
    seconds = stored.ends[group] - stored.starts[group]
    if bool((seconds <= 0).all()):
        return len(group) >= MIN_PHOTOS
    return len(group) >= MIN_APPEARANCES or bool(seconds.max() >= SOLO_SECONDS)


def _photos_only(stored: StoredAppearances, ids: list[int]) -> np.ndarray:
    """Per person (in `ids`' order): whether every appearance it has is a photo's face (one
    with none, only its kept template: no)."""
    photo = stored.ends <= stored.starts
    placed = stored.people >= 0
    with_video = set(stored.people[placed & ~photo].tolist())
    with_photo = set(stored.people[placed & photo].tolist())
    return np.asarray([p in with_photo and p not in with_video for p in ids], bool)


def _person_sums(stored: StoredAppearances, people: list) -> tuple[np.ndarray, np.ndarray]:
    """Per person (in `people`' order): the sum of its appearances' vectors and their count;
    a person with none stands for its stored template, counted once."""
    dim = stored.vectors.shape[1]
    column = {p.id: k for k, p in enumerate(people)}
    sums = np.zeros((len(people), dim), np.float64)
    counts = np.zeros(len(people), np.float64)
    rows = np.flatnonzero(np.isin(stored.people, list(column)))
    if len(rows):
        cols = np.asarray([column[int(p)] for p in stored.people[rows]])
        np.add.at(sums, cols, stored.vectors[rows])
        np.add.at(counts, cols, 1.0)
    for k, p in enumerate(people):
        if counts[k] == 0 and p.template is not None:
            sums[k], counts[k] = p.template, 1.0
    return sums, counts


def _seen_at_once(
    stored: StoredAppearances, row: int, person: int, same: list[int], joined: dict[int, int]
) -> bool:
    """Whether `person` is on screen at the same time as appearance `row` in its file (`same`:
    that file's rows), already or by an appearance this update put there."""
    for other in same:
        if other == row or (stored.people[other] != person and joined.get(other) != person):
            continue
        if _overlap(stored, row, other):
            return True
    return False


def _overlap(stored: StoredAppearances, a: int, b: int) -> bool:
    """Two appearances of one file seen at once: overlapping in time (a photo's: always)."""
    if stored.ends[a] <= stored.starts[a] or stored.ends[b] <= stored.starts[b]:
        return True  # a photo's faces
    return bool(min(stored.ends[a], stored.ends[b]) - max(stored.starts[a], stored.starts[b]) > 0)


def _groups(
    stored: StoredAppearances, rows: np.ndarray, cut: float, photo_cut: float
) -> list[np.ndarray]:
    """`rows` grouped by average linkage (groups of photos alone at `photo_cut`); a group's
    appearances seen at once split off, the one nearer the group's mean kept."""
    if not len(rows):
        return []
    photos = stored.ends[rows] <= stored.starts[rows]
    labels = average_linkage(stored.vectors[rows], cut, photos=photos, photo_cut=photo_cut)
    groups: list[np.ndarray] = []
    for label in np.unique(labels):
        members = rows[labels == label]
        if len(members) == 1:
            groups.append(members)
            continue
        mean = stored.vectors[members].mean(axis=0)
        kept: list[int] = []
        for row in members[np.argsort(-(stored.vectors[members] @ mean), kind="stable")].tolist():
            if any(stored.files[row] == stored.files[k] and _overlap(stored, row, k) for k in kept):
                groups.append(np.asarray([row]))
            else:
                kept.append(row)
        groups.append(np.asarray(kept, np.int64))
    return groups


def grouped_at_once(stored: StoredAppearances, cut: float | None = None) -> np.ndarray:
    """A person label per appearance (-1: unsorted), as an update of a library with no people
    yet places them (`cut`: instead of the calibrated one, as `ris eval` sweeps it; nothing is
    written)."""
    cal = calibrate(stored)
    stored = cal.apply(stored)
    cut, photo_cut = (cal.cut, cal.photo_cut) if cut is None else (cut, cut)
    labels = np.full(len(stored), -1, np.int64)
    for k, g in enumerate(_groups(stored, np.arange(len(stored)), cut, photo_cut)):
        if _someone(stored, g):
            labels[g] = k
    return labels
