"""Incremental indexing: unchanged files are skipped, changed re-indexed, vanished dropped."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.api import build_engine
from engine.events import FileIndexed, IndexFinished, IndexPlanned
from tests.conftest import AOC_PHOTO, IMAGES, LMM_PHOTO, VIDEOS, copy_media, make_settings, run_ris

pytestmark = pytest.mark.slow
KIT = IMAGES / "Kit_Harington" / "ageitgey_face_recognition" / "john1.jpeg"
SHORT = VIDEOS / "edge_cases" / "justadudewhohacks_face-api.js" / "video.mp4"


def run(data_dir, *paths):
    engine = build_engine(make_settings(data_dir))
    events = list(engine.index(list(paths)))
    return engine, events


def indexed(events):
    return sorted(Path(e.path).name for e in events if isinstance(e, FileIndexed))


def test_second_run_re_embeds_nothing_then_changes_and_deletions_apply(tmp_path):
    media, data = tmp_path / "media", tmp_path / "data"
    lmm, aoc, clip = copy_media(media, LMM_PHOTO, AOC_PHOTO, SHORT)
    first, events = run(data, media)
    assert len(indexed(events)) == 3

    again, events = run(data, media)
    (plan,) = [e for e in events if isinstance(e, IndexPlanned)]
    assert (plan.to_index, plan.unchanged) == (0, 3) and indexed(events) == []
    assert not again.models_loaded  # nothing was embedded: the models never loaded

    # replace one photo by another person's: only it is re-indexed, and search sees the change
    shutil.copyfile(KIT, aoc)
    os.utime(aoc, ns=(1, 1))
    engine, events = run(data, media)
    assert indexed(events) == [aoc.name]
    assert [Path(i.path) for i in engine.search(KIT).images] == [aoc]
    assert engine.search(LMM_PHOTO).images[0].path == str(lmm)

    # a deleted file leaves the results at once, and the catalog on the next run
    lmm.unlink()
    assert str(lmm) not in [
        i.path for i in build_engine(make_settings(data)).search(LMM_PHOTO).images
    ]
    engine, events = run(data, media)
    (done,) = [e for e in events if isinstance(e, IndexFinished)]
    assert done.removed == 1 and done.indexed == 0
    assert str(lmm) not in {p for p, _, _ in engine.status().files}
    parts = engine.internals
    assert parts.store.version == parts.catalog.version
    assert len(parts.store) == parts.catalog.face_count()


def test_a_failed_file_is_skipped_until_it_changes_or_retried(tmp_path):
    media, data = tmp_path / "media", tmp_path / "data"
    media.mkdir()
    bad = media / "clip.mp4"
    bad.write_text("not a video")
    _, events = run(data, media)
    assert [e.path for e in events if type(e).__name__ == "FileFailed"] == [str(bad)]
    _, events = run(data, media)
    assert [e for e in events if isinstance(e, IndexPlanned)][0].unchanged == 1
    shutil.copyfile(SHORT, bad)  # fixed: the same name now holds a real video
    _, events = run(data, media)
    assert indexed(events) == ["clip.mp4"]


def test_a_moved_or_renamed_file_keeps_its_faces_and_is_not_embedded_again(tmp_path, ris_env):
    """`ris index` after reorganising: a file renamed inside the folder, and one moved in from a
    folder indexed before, are recognised by their fingerprint; a copy is indexed as a file of
    its own, and its original stays."""
    media, outside, data = tmp_path / "media", tmp_path / "outside", tmp_path / "data"
    aoc, clip = copy_media(media, AOC_PHOTO, SHORT)
    (kit,) = copy_media(outside, KIT)
    engine, events = run(data, media, outside)
    assert len(indexed(events)) == 3
    catalog = engine.internals.catalog
    before = {Path(r.path).name: (r.id, r.faces) for r in catalog.files()}
    faces_before = catalog.face_ids()

    (media / "sub").mkdir()
    renamed, moved_in, copy = (
        media / "sub" / "renamed.mp4",
        media / "kit_moved.jpeg",
        media / "aoc copy.jpg",
    )
    clip.rename(renamed)
    kit.rename(moved_in)
    shutil.copy2(aoc, copy)

    done = run_ris(ris_env, "index", str(media), "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert "1 to index, 1 unchanged, 2 moved or renamed" in done.stderr, done.stderr
    assert "gone from disk" not in done.stderr

    engine = build_engine(make_settings(data))
    catalog = engine.internals.catalog
    after = {r.path: (r.id, r.faces) for r in catalog.files()}
    assert after[str(renamed)] == before[clip.name] and after[str(moved_in)] == before[kit.name]
    assert after[str(aoc)] == before[aoc.name] and str(copy) in after
    assert str(clip) not in after and str(kit) not in after
    kept = np.setdiff1d(catalog.face_ids(), faces_before)  # only the copy's faces are new
    assert len(kept) == after[str(copy)][1]
    store = engine.internals.store
    assert len(store) == catalog.face_count() and store.version == catalog.version

    found = json.loads(
        run_ris(ris_env, "search", str(KIT), "--json", "--data-dir", str(data)).stdout
    )
    assert [p["path"] for p in found["images"]][:1] == [str(moved_in)], found
    again = run_ris(ris_env, "index", str(media), "--data-dir", str(data))
    assert "nothing to re-embed" in again.stderr, again.stderr
