"""The benchmark formulas, on cases worked by hand, and the video benchmark generator."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import DEV

from engine.tools.evaluation.metrics import (
    average_precision,
    kfold_accuracy,
    match_segments,
    recall_at,
    tar_at_far,
    temporal_iou,
)


def test_average_precision_and_recall():
    assert average_precision([True, False, True], 2) == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert average_precision([False, True], 3) == pytest.approx((1 / 2) / 3)  # two never found
    assert average_precision([], 2) == 0.0
    assert recall_at([False, True, True], 4, 2) == 0.25


def test_verification_metrics():
    sims = np.array([0.9, 0.8, 0.7, 0.2, 0.3, 0.75])
    same = np.array([True, True, True, False, False, False])
    separable = np.where(same, sims + 1, sims)
    assert kfold_accuracy(np.tile(separable, 10), np.tile(same, 10)) == (1.0, 0.0)
    # the 0.75 impostor sits between genuine 0.7 and 0.8: each fold's threshold, chosen on the
    # other nine, gets one of the two wrong in a third of its pairs
    mean, _ = kfold_accuracy(np.tile(sims, 10), np.tile(same, 10))
    assert mean == pytest.approx(2 / 3)
    tar, thr = tar_at_far(sims, same, 1e-3)  # no impostor may pass: above 0.75
    assert thr > 0.75 and tar == pytest.approx(2 / 3)


def test_segments_match_one_to_one_by_temporal_iou():
    assert temporal_iou((0, 2), (1, 3)) == pytest.approx(1 / 3)
    truth = [(0.0, 4.0), (6.0, 8.0)]
    assert match_segments([(0.5, 4.0), (6.5, 9.0)], truth) == (2, 2)
    assert match_segments([(0.0, 1.0), (0.0, 4.0), (5.0, 5.5)], truth) == (1, 1)
    assert match_segments([(0.0, 8.0)], truth) == (1, 1)  # one prediction finds one truth at most


def test_video_benchmark_generator(tmp_path: Path):
    spec = importlib.util.spec_from_file_location(
        "make_video_benchmark", Path(__file__).parents[1] / "data" / "make_video_benchmark.py"
    )
    gen = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["make_video_benchmark"] = gen  # its dataclasses look themselves up there
    spec.loader.exec_module(gen)  # type: ignore[union-attr]
    truth = gen.build(DEV / "lfw", tmp_path / "bench", seed=3, targets=2, videos=4)
    assert truth == json.loads((tmp_path / "bench" / "truth.json").read_text())
    import decord

    for name, info in truth["videos"].items():
        vr = decord.VideoReader(str(tmp_path / "bench" / "videos" / name))
        assert len(vr) == 100 and vr[0].shape == (360, 640, 3)
        assert 1 <= len(info["people"]) <= 3
        for person in info["people"].values():
            for start, end in person["segments"]:
                assert 0 <= start < end <= 10
    assert len(truth["queries"]) == 4
    for q in truth["queries"]:
        assert (tmp_path / "bench" / "queries" / q["path"]).exists()
        assert 2 <= len(q["relevant"]) <= 3
        shown = {p["photo"] for v in q["relevant"] for p in truth["videos"][v]["people"].values()}
        assert not any(q["person"] + "_0001" in s or q["person"] + "_0002" in s for s in shown)


@pytest.mark.slow
def test_per_frame_ablation_runs_the_old_decision_on_the_real_index(dev_index):
    """The 'before' rows of `ris eval`: every frame at the threshold counts, no tracks."""
    from conftest import AOC_CLIPS, AOC_PHOTO

    from engine.tools.evaluation.ablations import search_per_frame

    engine, _ = dev_index
    query = engine.read_query(AOC_PHOTO)
    before = search_per_frame(engine, query, top=50)
    after = engine.search(query, top=50)
    assert {Path(v.path) for v in before.videos[:3]} == set(AOC_CLIPS)
    thr = engine.settings.match_threshold
    assert all(m.similarity >= thr for v in before.videos for m in v.matches)
    # tracks never list a video the per-frame rule would not nominate
    assert {v.path for v in after.videos if not v.possible} <= {v.path for v in before.videos}


def test_resnet50_baseline_plumbing_and_the_plain_refusal(monkeypatch: pytest.MonkeyPatch):
    """Features are unit 2048-d per image (random weights here: plumbing only, never reported);
    without ImageNet weights the eval says so instead of reporting numbers."""
    from engine.tools.evaluation.resnet import resnet50_features, resnet50_weights

    monkeypatch.delenv("RIS_RESNET50_WEIGHTS", raising=False)
    assert resnet50_weights() is None
    images = sorted((DEV / "lfw").glob("*/*.jpg"))[:3]
    feats = resnet50_features(None, images)
    assert feats.shape == (3, 2048)
    assert np.allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-4)


def test_hard_video_benchmark_generator(tmp_path: Path):
    """The hard benchmark's files and truth agree: small faces, long enough videos made short
    here, every queried person's relevant videos really show them, distractors never queried."""
    data = Path(__file__).parents[1] / "data"
    sys.path.insert(0, str(data))
    try:
        spec = importlib.util.spec_from_file_location(
            "make_hard_video_benchmark", data / "make_hard_video_benchmark.py"
        )
        gen = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules["make_hard_video_benchmark"] = gen
        spec.loader.exec_module(gen)  # type: ignore[union-attr]
    finally:
        sys.path.remove(str(data))
    out = tmp_path / "hard"
    truth = gen.build(DEV / "lfw", out, seed=5, targets=2, videos=3, crowd=3, seconds=(8, 8))
    assert truth == json.loads((out / "truth.json").read_text())
    import decord

    queried = {q["person"] for q in truth["queries"]}
    for name, info in truth["videos"].items():
        vr = decord.VideoReader(str(out / "videos" / name))
        assert len(vr) == 80 and vr[0].shape == (360, 640, 3)
        for a in info["appearances"]:  # faces 24 to 48 px as MTCNN boxes them
            for side in (a["side0"], a["side1"]):
                assert 24 <= side * gen.BOX_PER_SIDE <= 48
        for person, seen in info["people"].items():
            spans: list[list[float]] = []  # the person's appearances, overlapping ones joined
            for a in sorted(
                (a for a in info["appearances"] if a["person"] == person), key=lambda a: a["start"]
            ):
                if spans and a["start"] <= spans[-1][1] + 0.1:
                    spans[-1][1] = max(spans[-1][1], a["end"])
                else:
                    spans.append([a["start"], a["end"]])
            for start, end in seen["segments"]:  # on screen only while they appear
                assert any(lo - 0.1 <= start < end <= hi + 0.1 for lo, hi in spans)
    assert len(truth["queries"]) == 4 and len(queried) == 2
    for q in truth["queries"]:
        assert (out / "queries" / q["path"]).exists()
        assert q["relevant"] == sorted(
            v for v, info in truth["videos"].items() if q["person"] in info["people"]
        )
    crowd = {p for info in truth["videos"].values() for p in info["people"]} - queried
    assert len(crowd) >= 3 * 3 - 1  # distractors: new identities, never queried


def test_people_items_and_the_ceiling_of_grouping():
    """ris eval people: a true segment's person is the label overlapping it most (by temporal
    IoU); each appearance's true person is the one whose face was nearest its best face (the
    hard benchmark's paths), and those labels score perfectly where the appearances are the
    true segments."""
    from engine.library.people_records import StoredAppearances
    from engine.tools.evaluation.people import Library, bcubed, items, true_people

    truth = {
        "videos": {
            "a.mp4": {
                "people": {"ann": {"segments": [[0, 4]]}, "bob": {"segments": [[1, 4], [6, 9]]}},
                "appearances": [
                    {"person": "ann", "start": 0, "end": 4, "xy0": [100, 100], "xy1": [100, 100]},
                    {"person": "bob", "start": 1, "end": 4, "xy0": [400, 100], "xy1": [500, 100]},
                    {"person": "bob", "start": 6, "end": 9, "xy0": [300, 200], "xy1": [300, 200]},
                ],
            }
        }
    }
    n = 3
    stored = StoredAppearances(
        np.zeros(n, np.int64), np.arange(n), np.arange(n),
        np.asarray([0.0, 1.0, 6.0]), np.asarray([4.0, 4.0, 9.0]), np.ones(n, np.int64),
        np.eye(n, 512, dtype=np.float32), np.full(n, -1), np.zeros(n, bool), np.full(n, -1),
    )  # fmt: skip
    best_at = np.asarray(
        [[2.0, 90, 90, 110, 110], [2.5, 440, 90, 460, 110], [7.0, 290, 190, 310, 210]]
    )  # bob's face halfway along his path
    lib = Library(stored, {0: "a.mp4"}, {}, np.ones(n), best_at)
    labels = true_people(truth, lib)
    assert labels is not None and labels[0] != labels[1] and labels[1] == labels[2]
    assert bcubed(*items(truth, {}, lib, labels))["f"] == 1.0
    # bob seen twice: his return does not cost him his first segment to ann, on screen with
    # him then (the union of a label's runs was over the whole video)
    assert items(truth, {}, lib, labels)[1][1] == labels[1]
    wrong = np.asarray([0, 0, 1])  # ann and bob as one; bob's return as another
    score = bcubed(*items(truth, {}, lib, wrong))
    assert score["precision"] < 1.0 and score["recall"] < 1.0
    assert true_people({"videos": {"a.mp4": {"people": {}}}}, lib) is None  # no paths: none
