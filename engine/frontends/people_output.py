"""How `ris people` prints people: a table for people to read, JSON Lines for tools (the
contract: `id`, `name` or null, and `files`, each with its `path` and `segments`)."""

from __future__ import annotations

import time

from engine.printable_names import printable
from engine.results import PeopleList, Person
from engine.timecodes import clock


def person_json(p: Person) -> dict:
    return {
        "id": p.id,
        "name": p.name,
        "appearances": p.appearances,
        "seconds": p.seconds,
        "first_seen": p.first_seen,
        "last_seen": p.last_seen,
        "face": {"path": p.face_path, "t": p.face_t, "box": list(p.face_box)},
        "files": [
            {
                "path": f.path,
                "kind": str(f.kind),
                "segments": [{"start": s, "end": e} for s, e in f.segments],
            }
            for f in p.in_files
        ],
    }


def _day(t: float | None) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(t)) if t is not None else "-"


def _label(p: Person) -> str:
    return printable(p.name) if p.name is not None else "(no name)"


def format_people(found: PeopleList) -> str:
    if not found.people:
        return (
            "no people yet: a person is someone seen twice or more (in three photos, where "
            "only photos show them), or on screen in a video for a second or more "
            f"({found.unsorted} faces unsorted)"
        )
    lines = [f"{'id':>5}  {'name':<24} {'on screen':>9} {'files':>5}  first – last seen"]
    for p in found.people:
        lines.append(
            f"{p.id:>5}  {_label(p)[:24]:<24} {clock(p.seconds):>9} {p.files:>5}  "
            f"{_day(p.first_seen)} – {_day(p.last_seen)}"
        )
    lines.append(
        f"\n{len(found.people)} {'person' if len(found.people) == 1 else 'people'}; "
        f"{found.unsorted} {'face' if found.unsorted == 1 else 'faces'} unsorted (in one or two "
        "photos only, or glimpsed); "
        "`ris people show ID` lists one's files"
    )
    if found.cuts is not None:
        c = found.cuts
        lines.append(
            f"grouped at similarity {c.cut:.2f} ({_source(c.pairs, 'faces seen at once')});"
            f" photos alone at {c.photo_cut:.2f} ({_source(c.photo_pairs, 'faces in one photo')})"
        )
    return "\n".join(lines)


def _source(pairs: int, what: str) -> str:
    return f"read from {pairs} pairs of {what}" if pairs else f"the default: too few {what}"


def format_person(p: Person) -> str:
    lines = [
        f"person {p.id}: {_label(p)}",
        f"  {p.appearances} appearances in {p.files} files, {clock(p.seconds)} on screen; "
        f"seen {_day(p.first_seen)} – {_day(p.last_seen)}",
        f"  best face: {printable(p.face_path)}" + (f" at {clock(p.face_t)}" if p.face_t else ""),
    ]
    for f in p.in_files:
        spans = ", ".join(f"{clock(s)} – {clock(e)}" for s, e in f.segments)
        lines.append(f"  {printable(f.path)}" + (f"  {spans}" if spans else ""))
    return "\n".join(lines)
