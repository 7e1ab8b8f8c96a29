"""Incremental indexing: unchanged files are skipped, changed re-indexed, vanished dropped."""

import os
import shutil
from pathlib import Path

import pytest

from engine.api import build_engine
from engine.events import FileIndexed, IndexFinished, IndexPlanned
from tests.conftest import AOC_PHOTO, IMAGES, LMM_PHOTO, VIDEOS, copy_media, make_settings

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
