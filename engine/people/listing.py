"""People as they are shown: per person its files, segments, time on screen, first and last
seen, and its best face, from the appearances the catalog keeps."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from engine.library.catalog import Catalog
from engine.library.people_records import PeopleRecords, StoredAppearances
from engine.people.calibration import saved_cuts
from engine.results import PeopleList, Person, PersonFile
from engine.vocabulary import MediaKind


def list_people(catalog: Catalog, updated: bool, detail: set[int] | None = None) -> PeopleList:
    """Everyone with at least one appearance, or a name. `detail`: the people whose files and
    segments are filled in (None: everyone's)."""
    records = PeopleRecords(catalog)
    stored = records.stored()
    rows_of: dict[int, list[int]] = defaultdict(list)
    for row, person in enumerate(stored.people.tolist()):
        if person >= 0:
            rows_of[person].append(row)
    files = catalog.files_by_id(np.unique(stored.files).tolist())
    shot_cuts = catalog.cuts(f for f, r in files.items() if r.kind == MediaKind.VIDEO)
    best = catalog.faces(stored.best) if len(stored) else None
    box_of = {}
    if best is not None:
        for k, face in enumerate(best.ids.tolist()):
            box_of[face] = (float(best.times[k]), tuple(float(x) for x in best.boxes[k]))
    out = []
    for p in records.people():
        rows = rows_of.get(p.id, [])
        if not rows and p.name is None:
            continue
        out.append(_person(p.id, p.name, rows, stored, files, shot_cuts, box_of, detail))
    out.sort(key=lambda x: (-x.seconds, -x.files, -x.appearances, x.id))
    return PeopleList(tuple(out), int((stored.people < 0).sum()), updated, saved_cuts(catalog))


def _person(
    key: int,
    name: str | None,
    rows: list[int],
    stored: StoredAppearances,
    files: dict,
    shot_cuts: dict[int, np.ndarray],
    box_of: dict,
    detail: set[int] | None,
) -> Person:
    spans: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for row in rows:
        spans[int(stored.files[row])].append((float(stored.starts[row]), float(stored.ends[row])))
    in_files = []
    seconds = 0.0
    for fid, found in spans.items():
        record = files.get(fid)
        if record is None:
            continue
        merged = (
            _merged(found, shot_cuts.get(fid, np.zeros(0)), record.step or 0.0)
            if record.kind == MediaKind.VIDEO
            else []
        )
        seconds += sum(e - s for s, e in merged)
        in_files.append(PersonFile(record.path, record.kind, tuple(merged), record.duration))
    in_files.sort(key=lambda f: f.path)
    times = [files[f].mtime_ns / 1e9 for f in spans if f in files]
    face_path, face_t, face_box = "", 0.0, (0.0, 0.0, 0.0, 0.0)
    if rows:  # the best face of its longest appearance (most sampled faces)
        top = max(rows, key=lambda r: (int(stored.faces[r]), -r))
        record = files.get(int(stored.files[top]))
        face_t, face_box = box_of.get(int(stored.best[top]), (0.0, face_box))
        face_path = record.path if record is not None else ""
    return Person(
        key,
        name,
        len(in_files),
        len(rows),
        round(seconds, 3),
        min(times) if times else None,
        max(times) if times else None,
        face_path,
        face_t,
        face_box,  # type: ignore[arg-type]
        tuple(in_files) if detail is None or key in detail else (),
    )


def _merged(
    spans: list[tuple[float, float]], shot_cuts: np.ndarray, step: float
) -> list[tuple[float, float]]:
    """Appearances that overlap or touch as one segment, unless a shot cut lies between
    them (after the last sample of one, at or before the first of the next: each spans its
    samples and half a step either side)."""
    out: list[list[float]] = []
    for s, e in sorted(spans):
        apart = bool(
            out
            and np.any(
                (shot_cuts > out[-1][1] - step / 2 + 1e-6) & (shot_cuts <= s + step / 2 + 1e-6)
            )
        )
        if out and s <= out[-1][1] and not apart:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(round(s, 3), round(e, 3)) for s, e in out]
