"""People across the library (engine/people/): grouping rules on synthetic templates, then
`ris people` as a user runs it, a subprocess on a copy of the indexed dev library: who is found,
the JSON Lines contract, names (control characters kept, shown escaped), merge, remove,
`ris search --person`, unknown ids, two processes correcting at once, and people kept with
their names when more of the library is indexed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import AOC_CLIPS, AOC_PHOTO, HAMILTON, IMAGES, LMM_PHOTO, VIDEOS, run_ris

from engine.library.people_records import StoredAppearances
from engine.people.calibration import CUT_FLOOR, MIN_PAIRS, PHOTO_FLOOR, calibrate
from engine.people.clustering import average_linkage, chinese_whispers
from engine.people.roster import grouped_at_once, join_people

UNLABELLED = {"big_bang_theory", "multi_face", "unlabeled", "edge_cases", "no_faces"}


def _cloud(rng: np.random.Generator, centre: np.ndarray, n: int, spread: float) -> np.ndarray:
    v = centre + spread * rng.normal(size=(n, len(centre)))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_groups_follow_people_and_a_bridge_does_not_chain_them():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=512), rng.normal(size=512)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    bridge = (a + b) / np.linalg.norm(a + b)  # a template half one, half the other
    vectors = np.vstack([_cloud(rng, a, 20, 0.03), _cloud(rng, b, 20, 0.03), bridge[None, :]])
    labels = average_linkage(vectors, 0.5)
    assert len(set(labels[:20])) == 1 and len(set(labels[20:40])) == 1
    assert labels[0] != labels[20]  # the bridge joins at most one side
    whispers = chinese_whispers(vectors, 0.5)
    assert len(set(whispers[:20])) == 1 and len(set(whispers[20:40])) == 1
    # far apart, alone: each its own group
    lone = _cloud(rng, np.zeros(512), 3, 1.0)  # three random directions
    assert len(set(average_linkage(lone, 0.5))) == 3


def _pair(sim: float) -> np.ndarray:
    """Two unit templates exactly `sim` alike."""
    v = np.zeros((2, 512), np.float32)
    v[0, 0], v[1, 0], v[1, 1] = 1.0, sim, np.sqrt(1 - sim * sim)
    return v


def test_photos_alone_are_held_to_the_photo_cut():
    # 0.43: above the cut (0.40), below the photo cut (0.45)
    assert len(set(average_linkage(_pair(0.43), 0.40))) == 1  # two tracks: one person
    photo, track = np.array([True, True]), np.array([True, False])
    assert len(set(average_linkage(_pair(0.43), 0.40, photos=photo, photo_cut=0.45))) == 2
    assert len(set(average_linkage(_pair(0.43), 0.40, photos=track, photo_cut=0.45))) == 2
    assert len(set(average_linkage(_pair(0.47), 0.40, photos=photo, photo_cut=0.45))) == 1


def test_a_photo_joins_a_person_at_the_photo_cut():
    pair = _pair(0.43)  # a person's mean, and a new appearance 0.43 like it
    for photo, joins in ((False, True), (True, False)):
        new = _library([(1, pair[1:], photo)])
        joined = join_people(new, np.array([0]), [7], pair[:1], 0.40, 0.45)
        assert joined == ({0: 7} if joins else {}), photo
    # a person of photos alone takes even a track at the photo cut only
    track = _library([(1, pair[1:], False)])
    assert join_people(track, np.array([0]), [7], pair[:1], 0.40, 0.45, np.array([True])) == {}


def _library(groups: list[tuple[int, np.ndarray, bool]]) -> StoredAppearances:
    """Appearances: per (file, templates, photo?) its templates, a video's all on screen
    together for 2 s, a photo's faces all in it."""
    files, vectors, starts, ends = [], [], [], []
    for f, vs, photo in groups:
        for v in vs:
            files.append(f)
            vectors.append(v)
            starts.append(0.0)
            ends.append(0.0 if photo else 2.0)
    n = len(files)
    return StoredAppearances(
        np.asarray(files), np.arange(n), np.arange(n), np.asarray(starts), np.asarray(ends),
        np.ones(n, np.int64), np.asarray(vectors, np.float32), np.full(n, -1), np.zeros(n, bool),
        np.full(n, -1),
    )  # fmt: skip


def test_the_cuts_are_read_per_kind_of_evidence_and_three_photos_make_a_person():
    rng = np.random.default_rng(1)
    strangers = lambda n: _cloud(rng, np.zeros(512), n, 1.0)  # noqa: E731
    # 30 videos of two strangers on screen together, 25 photos of two: each a pair seen at once
    videos = [(f, strangers(2), False) for f in range(30)]
    photos = [(100 + f, strangers(2), True) for f in range(25)]
    cal = calibrate(_library(videos + photos))
    assert (cal.cut, cal.pairs) == (CUT_FLOOR, 30)  # strangers: far below the floor
    assert (cal.photo_cut, cal.photo_pairs) == (PHOTO_FLOOR, 25)
    # too few faces on screen together: the photos' pairs count too
    cal = calibrate(_library(videos[: MIN_PAIRS - 1] + photos))
    assert cal.pairs == MIN_PAIRS - 1 + 25
    # the faces of one photo alike (about 0.6: siblings in every photo): photos alone need more
    siblings = [(200 + f, _cloud(rng, strangers(1)[0], 2, 0.036), True) for f in range(25)]
    cal = calibrate(_library(videos + siblings))
    assert cal.cut == CUT_FLOOR and 0.55 < cal.photo_cut < 0.75, cal

    # one face in each of two photos, alike: unsorted; in three photos: a person
    someone = strangers(1)[0]
    two = [(300 + f, _cloud(rng, someone, 1, 0.01), True) for f in range(2)]
    labels = grouped_at_once(_library(videos + two))
    assert (labels[-2:] == -1).all()
    three = [(300 + f, _cloud(rng, someone, 1, 0.01), True) for f in range(3)]
    labels = grouped_at_once(_library(videos + three))
    assert labels[-1] >= 0 and len(set(labels[-3:])) == 1
    # in two clips: a person (a track is a frame's many)
    clips = [(300 + f, _cloud(rng, someone, 1, 0.01), False) for f in range(2)]
    labels = grouped_at_once(_library(videos + clips))
    assert labels[-1] >= 0 and len(set(labels[-2:])) == 1


def _people(env: dict[str, str], data: Path, *args: str) -> list[dict]:
    out = run_ris(env, "people", *args, "--json", "--data-dir", str(data))
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def _who(path: str) -> str | None:
    """The dev library's person of a file, from its folder (None: not labelled)."""
    rel = Path(path).relative_to(IMAGES.parent if path.startswith(str(IMAGES)) else VIDEOS.parent)
    name = rel.parts[1]
    return None if name in UNLABELLED else name


@pytest.fixture
def dev_copy(dev_index, tmp_path: Path) -> Path:
    engine, _ = dev_index
    data = tmp_path / "library"
    shutil.copytree(engine.settings.data_dir, data)
    return data


def test_people_of_the_dev_library_through_ris(dev_copy: Path, ris_env: dict[str, str]):
    people = _people(ris_env, dev_copy)
    assert people, "no people found"
    for p in people:  # the contract
        assert isinstance(p["id"], int) and p["name"] is None
        assert p["files"] and all({"path", "segments"} <= set(f) for f in p["files"])
        for f in p["files"]:
            for s in f["segments"]:
                assert 0 <= s["start"] < s["end"]
            if f["kind"] == "image":
                assert f["segments"] == []
        # each person is one of the labelled people, never two
        assert len({_who(f["path"]) for f in p["files"]} - {None}) <= 1, p["files"]
    seconds = [p["seconds"] for p in people]
    assert seconds == sorted(seconds, reverse=True)  # most time on screen first
    # her three clips and her photo: one person
    hers = [p for p in people if any(f["path"] == str(AOC_CLIPS[0]) for f in p["files"])]
    assert len(hers) == 1
    mine = {f["path"] for f in hers[0]["files"]}
    assert {str(c) for c in AOC_CLIPS} | {str(AOC_PHOTO)} <= mine
    # the cuts the people were grouped at, and what they were read from
    listed = run_ris(ris_env, "people", "--data-dir", str(dev_copy))
    assert re.search(
        r"grouped at similarity 0\.\d\d \(read from \d+ pairs of faces seen at once\); "
        r"photos alone at 0\.\d\d \(read from \d+ pairs of faces in one photo\)",
        listed.stdout,
    ), listed.stdout
    # unchanged library: the same people again, with the same ids
    assert [p["id"] for p in _people(ris_env, dev_copy)] == [p["id"] for p in people]

    # a name with a control character: stored as given, shown escaped
    key = str(hers[0]["id"])
    named = run_ris(
        ris_env, "people", "name", key, "Alexandria\x1b[31m", "--data-dir", str(dev_copy)
    )
    assert named.returncode == 0, named.stderr
    assert "Alexandria\\x1b[31m" in named.stdout and "\x1b" not in named.stdout
    assert (
        _people(ris_env, dev_copy, "show", "Alexandria\x1b[31m")[0]["name"] == "Alexandria\x1b[31m"
    )

    # searching for her by name: her clips, first
    found = run_ris(
        ris_env, "search", "--person", "Alexandria\x1b[31m", "--json", "--data-dir", str(dev_copy)
    )
    assert found.returncode == 0, found.stderr
    doc = json.loads(found.stdout)
    sure = [v["path"] for v in doc["videos"] if not v["possible"]]
    assert set(sure[:3]) == {str(c) for c in AOC_CLIPS}, sure

    # unknown ids and names: exit 2 with a hint
    for ref in ("99999", "Nobody"):
        bad = run_ris(ris_env, "people", "show", ref, "--data-dir", str(dev_copy))
        assert bad.returncode == 2 and "ris: hint:" in bad.stderr, bad.stderr

    # taking her photo out: she keeps her clips; it does not come back on the next update
    out = run_ris(ris_env, "people", "remove", key, str(AOC_PHOTO), "--data-dir", str(dev_copy))
    assert out.returncode == 0, out.stderr
    again = next(p for p in _people(ris_env, dev_copy) if p["id"] == hers[0]["id"])
    assert str(AOC_PHOTO) not in {f["path"] for f in again["files"]}
    assert {str(c) for c in AOC_CLIPS} <= {f["path"] for f in again["files"]}

    # merging another person into her: one person, her name, both's files
    other = next(p for p in people if p["id"] != hers[0]["id"])
    merged = _people(ris_env, dev_copy, "merge", key, str(other["id"]))[0]
    assert merged["name"] == "Alexandria\x1b[31m"
    assert {f["path"] for f in other["files"]} <= {f["path"] for f in merged["files"]}
    after = _people(ris_env, dev_copy)
    assert other["id"] not in {p["id"] for p in after}
    assert len(after) == len(people) - 1


_NAME = """
import sys
from pathlib import Path
from engine.api import build_engine
from engine.settings import Settings
engine = build_engine(Settings.from_env(data_dir=Path(sys.argv[1])))
for k in range(20):
    engine.name_person(sys.argv[2], f"{sys.argv[3]} {k}")
engine.close()
"""


def test_two_processes_naming_people_at_once_lose_neither(dev_copy: Path, ris_env):
    people = _people(ris_env, dev_copy)
    a, b = str(people[0]["id"]), str(people[1]["id"])
    procs = [
        subprocess.Popen([sys.executable, "-c", _NAME, str(dev_copy), key, word], env=ris_env)
        for key, word in ((a, "first"), (b, "second"))
    ]
    assert all(p.wait(timeout=300) == 0 for p in procs)
    names = {str(p["id"]): p["name"] for p in _people(ris_env, dev_copy)}
    assert names[a] == "first 19" and names[b] == "second 19"


def test_names_stay_on_their_people_as_the_library_grows(tmp_path: Path, ris_env):
    """Index half, name the people, index the rest: the names stay on the same people, and
    the people are those of indexing everything at once."""
    first = tmp_path / "media" / "first"
    rest = tmp_path / "media" / "rest"
    for folder, files in (
        (first, [AOC_CLIPS[0], AOC_PHOTO, HAMILTON, LMM_PHOTO]),
        (
            rest,
            [
                AOC_CLIPS[1],
                AOC_CLIPS[2],
                *sorted((IMAGES / "Lin-Manuel_Miranda").rglob("*.jp*g"))[:2],
            ],
        ),
    ):
        folder.mkdir(parents=True)
        for f in files:
            shutil.copy2(f, folder / f"{f.parent.parent.name}_{f.name}")
    grown, once = tmp_path / "grown", tmp_path / "once"
    assert run_ris(ris_env, "index", str(first), "--data-dir", str(grown)).returncode == 0
    before = [p for p in _people(ris_env, grown) if len(p["files"]) > 1]  # the recurring
    names = {}
    for p in before:
        who = {Path(f["path"]).name.split("_")[0] for f in p["files"]}
        assert len(who) == 1, p["files"]
        names[p["id"]] = who.pop()
        assert (
            run_ris(
                ris_env, "people", "name", str(p["id"]), names[p["id"]], "--data-dir", str(grown)
            ).returncode
            == 0
        )
    assert sorted(names.values()) == ["Alexandria", "Lin-Manuel"]
    assert run_ris(ris_env, "index", str(rest), "--data-dir", str(grown)).returncode == 0
    after = {p["id"]: p for p in _people(ris_env, grown)}
    for key, name in names.items():
        assert after[key]["name"] == name
        assert {Path(f["path"]).name.split("_")[0] for f in after[key]["files"]} == {name}

    assert (
        run_ris(ris_env, "index", str(tmp_path / "media"), "--data-dir", str(once)).returncode == 0
    )
    at_once = _people(ris_env, once)

    def groups(found) -> set[frozenset[str]]:  # type: ignore[no-untyped-def]
        return {frozenset(Path(f["path"]).name for f in p["files"]) for p in found}

    assert groups(after.values()) == groups(at_once)

    # a named person's clip changed on disk and indexed again: its faces are new, and its new
    # appearance joins her again, under her id and name
    clip = next(first.glob("*Cortez*.mp4"))
    stat = clip.stat()
    os.utime(clip, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    out = run_ris(ris_env, "index", str(first), "--data-dir", str(grown))
    assert out.returncode == 0 and "indexed 1 file" in out.stderr, out.stderr
    hers = next(k for k, name in names.items() if name == "Alexandria")
    again = {p["id"]: p for p in _people(ris_env, grown)}
    assert again[hers]["name"] == "Alexandria"
    assert str(clip) in {f["path"] for f in again[hers]["files"]}


def test_people_and_names_survive_repair_and_migrate(
    dev_copy: Path, tmp_path: Path, ris_env, postgres
):
    """Corrections are data: a repaired catalog and one migrated to PostgreSQL hold the same
    people, with their names and what was taken out of them."""
    from engine.library.catalog import Catalog
    from engine.library.people_records import PeopleRecords
    from engine.library.repair import salvage

    people = _people(ris_env, dev_copy)
    key = str(people[0]["id"])
    assert (
        run_ris(ris_env, "people", "name", key, "Kept", "--data-dir", str(dev_copy)).returncode == 0
    )
    photo = next(f["path"] for p in people for f in p["files"] if f["kind"] == "image")
    owner = next(str(p["id"]) for p in people if photo in {f["path"] for f in p["files"]})
    out = run_ris(ris_env, "people", "remove", owner, photo, "--data-dir", str(dev_copy))
    assert out.returncode == 0, out.stderr
    before = _people(ris_env, dev_copy)

    repaired = tmp_path / "repaired.sqlite"
    salvage(dev_copy / "catalog.sqlite", repaired)
    a, b = Catalog(dev_copy / "catalog.sqlite", read_only=True), Catalog(repaired, read_only=True)
    for x, y in zip(PeopleRecords(a).people(), PeopleRecords(b).people(), strict=True):
        assert (x.id, x.name) == (y.id, y.name)
    sa, sb = PeopleRecords(a).stored(), PeopleRecords(b).stored()
    np.testing.assert_array_equal(sa.people, sb.people)
    np.testing.assert_array_equal(sa.refused, sb.refused)
    a.close()
    b.close()

    uri = postgres.new_database()
    out = run_ris(ris_env, "migrate", "--data-dir", str(dev_copy), "--catalog", uri)
    assert out.returncode == 0, out.stderr
    shared = tmp_path / "on-postgres"
    after = _people({**ris_env, "RIS_CATALOG": uri}, shared)
    assert after == before  # the same people, names, files and segments; nothing re-sorted

    # corrections written on PostgreSQL: a name, and a merge, read back by another process
    pg = {**ris_env, "RIS_CATALOG": uri}
    a_id, b_id = str(after[0]["id"]), str(after[1]["id"])
    out = run_ris(pg, "people", "name", a_id, "On Postgres", "--data-dir", str(shared))
    assert out.returncode == 0, out.stderr
    merged = _people(pg, shared, "merge", a_id, b_id)[0]
    assert merged["name"] == "On Postgres"
    assert {f["path"] for f in after[1]["files"]} <= {f["path"] for f in merged["files"]}
    assert b_id not in {str(p["id"]) for p in _people(pg, shared)}


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_the_people_tab_in_a_real_terminal(dev_copy: Path, ris_env: dict[str, str]):
    """ris-tui's People tab in tmux on the real dev library, keys only: the list is `ris
    people`'s (most time on screen first), a name typed there, a merge of a marked person, a
    person opened and one of their appearances taken out of them, and a search for them; each
    correction read back through `ris people`."""
    from tests.test_tui_real import ris_tui

    before = _people(ris_env, dev_copy)
    first, second = before[0], before[1]
    term = ris_tui("ris-people", dev_copy, ris_env, size=(140, 40))
    try:
        term.wait_for("indexed.")
        term.keys("4")
        shown = term.wait_for("most time on screen first")
        assert f"{len(before)} people" in shown
        rows = [line.split() for line in shown.splitlines() if re.match(r"\s+[●]?\s*\d+\s", line)]
        assert [int(r[0]) for r in rows[:10]] == [p["id"] for p in before][:10]

        term.keys("n")  # a name typed on the first person
        term.wait_for("enter keeps it")
        term.keys("-l", "Tmux Name")
        term.keys("Enter")
        term.wait_for(f"Person {first['id']} is now Tmux Name")
        assert _people(ris_env, dev_copy, "show", str(first["id"]))[0]["name"] == "Tmux Name"

        term.keys("Down", "space")  # the second marked (the cursor goes on down), merged
        term.wait_for("●")
        term.keys("Home", "M")
        term.wait_for(f"Merge person {second['id']} into Tmux Name")
        term.keys("y")
        term.wait_for("Merged 1 person into Tmux Name")
        merged = _people(ris_env, dev_copy, "show", str(first["id"]))[0]
        after = {p["id"] for p in _people(ris_env, dev_copy)}
        assert second["id"] not in after
        assert {f["path"] for f in second["files"]} <= {f["path"] for f in merged["files"]}

        term.keys("Enter")  # opened: their files and segments; the last one is not them
        shown = term.wait_for("on screen ·")
        term.wait_for(Path(merged["files"][0]["path"]).name[:20])
        appearances = int(re.search(r"(\d+) appearances? ·", shown).group(1))  # type: ignore[union-attr]
        term.keys("End", "x")
        term.wait_for("Not Tmux Name")
        term.keys("y")
        term.wait_for(f" {appearances - 1} appearance")
        kept = _people(ris_env, dev_copy, "show", str(first["id"]))[0]
        rows = sum(len(f["segments"]) or 1 for f in merged["files"])
        assert sum(len(f["segments"]) or 1 for f in kept["files"]) < rows, kept["files"]
        term.keys("s")  # searched for from there: their files come first in the results
        shown = term.wait_for(f"person {first['id']} (Tmux Name) ·", 120)
        assert "Videos (" in shown or "Photos (" in shown
        term.keys("q")
        term.keys("q")
        term.wait_for("ris-tui exited 0", 30)
    finally:
        term.close()
