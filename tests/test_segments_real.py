"""Segments as a user gets them from `ris search --json` (issue 27): a person who steps out of
the frame for two seconds and comes back to the same place is two segments, not one, on a
real video through the real models; a person on screen throughout is one."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DEV, run_ris

pytestmark = pytest.mark.slow


def generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "make_video_benchmark", Path(__file__).parents[1] / "data" / "make_video_benchmark.py"
    )
    gen = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["make_video_benchmark"] = gen  # its dataclasses look themselves up there
    spec.loader.exec_module(gen)  # type: ignore[union-attr]
    return gen


def test_a_person_who_steps_out_and_back_is_two_segments_and_one_who_stays_is_one(
    tmp_path: Path, ris_env
):
    gen = generator()
    photos = sorted((DEV / "lfw" / "Adrien_Brody").glob("*.jpg"))
    media = tmp_path / "media"
    media.mkdir()
    rng = np.random.default_rng(5)
    still = ((320.0, 180.0), (330.0, 185.0))
    away = [
        gen.Appearance("p", photos[1], 1.0, 4.0, still[0], still[0], 220, 220),
        gen.Appearance("p", photos[1], 6.5, 9.5, still[0], still[1], 220, 225),  # 2.5 s away
    ]
    stays = [gen.Appearance("p", photos[2], 1.0, 9.5, still[0], still[1], 220, 225)]
    truth = {
        "away.mp4": gen.render(media / "away.mp4", 10.0, away, rng)["p"],
        "stays.mp4": gen.render(media / "stays.mp4", 10.0, stays, rng)["p"],
    }
    assert len(truth["away.mp4"]) == 2 and len(truth["stays.mp4"]) == 1
    data = tmp_path / "data"
    run = run_ris(ris_env, "index", str(media), "--data-dir", str(data))
    assert run.returncode == 0, run.stderr
    found = run_ris(ris_env, "search", str(photos[0]), "--json", "--data-dir", str(data))
    assert found.returncode == 0, found.stderr
    videos = {Path(v["path"]).name: v for v in json.loads(found.stdout)["videos"]}
    for name, segments in truth.items():
        got = [(s["start"], s["end"]) for s in videos[name]["segments"]]
        assert len(got) == len(segments), (name, got, segments)
        for (start, end), (t0, t1) in zip(got, segments, strict=True):
            assert abs(start - t0) <= 0.5 and abs(end - t1) <= 0.5, (name, got, segments)


def test_a_matched_videos_weaker_appearance_is_listed_as_a_possible_segment(
    tmp_path: Path, ris_env
):
    """One video shows the person twice, the second time smaller and less alike. Searched at a
    threshold just above the second appearance's score (read from a first search), the first
    is the match and the second is listed too, as a possible segment: marked in the JSON and in the
    text, where it was dropped before."""
    gen = generator()
    photos = sorted((DEV / "lfw" / "Adrien_Brody").glob("*.jpg"))
    media = tmp_path / "media"
    media.mkdir()
    twice = [
        gen.Appearance("p", photos[1], 1.0, 4.0, (200.0, 180.0), (205.0, 180.0), 220, 220),
        gen.Appearance("p", photos[5], 6.5, 9.5, (470.0, 200.0), (465.0, 200.0), 110, 110),
    ]
    truth = gen.render(media / "twice.mp4", 10.0, twice, np.random.default_rng(6))["p"]
    assert len(truth) == 2
    data = tmp_path / "data"
    run = run_ris(ris_env, "index", str(media), "--data-dir", str(data))
    assert run.returncode == 0, run.stderr

    def search(*flags: str) -> list[dict]:
        found = run_ris(ris_env, "search", str(photos[0]), "--data-dir", str(data), *flags)
        assert found.returncode == 0, found.stderr
        if "--json" not in flags:
            return [{"text": found.stdout}]
        [video] = json.loads(found.stdout)["videos"]
        assert not video["possible"]
        return video["segments"]

    everything = search("--json", "--threshold", "0.05", "--possible-margin", "0")
    assert len(everything) == 2, everything
    first, second = (s["score"] for s in everything)
    assert first - second >= 0.08, everything  # the smaller face is the less alike
    threshold = round(second + 0.04, 3)  # the weaker one within WEAKER_MARGIN below it
    flags = ("--threshold", str(threshold), "--possible-margin", "0.09")
    segments = search("--json", *flags)
    assert [s["possible"] for s in segments] == [False, True], (segments, threshold)
    for got, (t0, t1) in zip(segments, truth, strict=True):
        assert abs(got["start"] - t0) <= 0.5 and abs(got["end"] - t1) <= 0.5, (segments, truth)
    text = search(*flags)[0]["text"]
    assert text.count("possible\n") == 1, text  # the second segment's line says so
    before = search("--json", "--threshold", str(threshold), "--possible-margin", "0")
    assert [s["possible"] for s in before] == [False]  # no margin: matches only, as before


def test_a_shot_cut_ends_a_segment_in_search_and_in_people(tmp_path: Path, ris_env):
    """A person on screen throughout a video that cuts to another shot at 5 s (a new
    background; the person goes on where they were) is two segments meeting at the cut, in
    `ris search` and in `ris people`: the index run keeps the cuts it read, and segments are
    split there. Before, the two tracks (one per shot) were merged into one 1-9 s segment."""
    gen = generator()
    photos = sorted((DEV / "lfw" / "Adrien_Brody").glob("*.jpg"))
    media = tmp_path / "media"
    media.mkdir()
    stays = [gen.Appearance("p", photos[1], 1.0, 9.0, (320.0, 180.0), (330.0, 185.0), 220, 225)]
    truth = gen.render(media / "cut.mp4", 10.0, stays, np.random.default_rng(5), (5.0,))["p"]
    assert truth == [[1.0, 5.0], [5.0, 9.0]]
    data = tmp_path / "data"
    run = run_ris(ris_env, "index", str(media), "--data-dir", str(data))
    assert run.returncode == 0, run.stderr
    found = run_ris(ris_env, "search", str(photos[0]), "--json", "--data-dir", str(data))
    assert found.returncode == 0, found.stderr
    [video] = json.loads(found.stdout)["videos"]
    got = [(s["start"], s["end"]) for s in video["segments"]]
    assert len(got) == 2, got
    for (start, end), (t0, t1) in zip(got, truth, strict=True):
        assert abs(start - t0) <= 0.5 and abs(end - t1) <= 0.5, (got, truth)
    assert got[0][1] <= got[1][0]  # they meet at the cut, never overlap
    people = run_ris(ris_env, "people", "--json", "--data-dir", str(data))
    assert people.returncode == 0, people.stderr
    listed = [json.loads(line) for line in people.stdout.splitlines() if line.strip()]
    assert listed  # the photo shows a second face behind him: everyone on screen is cut alike
    for person in listed:
        [file] = person["files"]
        spans = [(s["start"], s["end"]) for s in file["segments"]]
        assert len(spans) == 2 and spans[0][1] <= 5.0 <= spans[1][0] + 0.5, spans
    # ris-tui's library: the file's timeline marks the cut where it is
    if shutil.which("tmux") is None:
        return
    from tests.test_tui_real import Tmux

    cmd = f'{sys.executable} -m ris_tui.app --data-dir {data}; echo "ris-tui exited $?"; sleep 30'
    term = Tmux(f"ris-cut-{tmp_path.name}", cmd, {**ris_env, "TERM": "xterm-256color"}, (100, 30))
    try:
        term.wait_for("faces indexed", 60)  # an indexed library opens on the search box
        term.keys("3")
        term.wait_for("Indexed files: 1")
        term.keys("Enter")
        shown = term.wait_for("2 shots (┃ a cut)", 60)
        bar = next(line for line in shown.splitlines() if "┃" in line and "─" in line)
        at = bar.index("┃") - bar.index(bar.strip()[0])  # cells from the bar's start
        assert abs(at / len(bar.strip()) - 0.5) < 0.03, bar  # 5 s of 10
    finally:
        term.close()
