"""People against true identities: BCubed precision, recall and F (`ris eval --only people`).

Items, as issue 25 defines them: each true segment of a generated benchmark is an item, its
predicted person the one whose appearances overlap it most in that video (none: an item of its
own); each photo of an LFW photo library is an item, its predicted person the one of its
largest face. BCubed scores every item by how many of the items sharing its predicted person
share its true identity (precision) and the other way round (recall).

Rows, measured in the same run on the same faces: ris as `ris people` places them (a sweep of
the cut), plain average linkage of the track templates (all pairs: small benchmarks only), and
Chinese whispers on them; and face_recognition's own recipe, dlib's Chinese whispers on its
128-d encodings of every sampled face at 0.5, as in dlib's face clustering example.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.library.catalog import Catalog
from engine.library.people_records import PeopleRecords, StoredAppearances
from engine.people.calibration import PEOPLE_CUT
from engine.people.clustering import chinese_whispers
from engine.people.roster import grouped_at_once, update_people
from engine.vocabulary import MediaKind

CUTS = (0.40, 0.45, 0.50, 0.55, 0.60)
DLIB_THRESHOLD = 0.5  # dlib's face clustering example


def bcubed(true: list, pred: list) -> dict[str, float]:
    """BCubed precision, recall and F of predicted labels against true ones (one per item)."""
    n = len(true)
    if not n:
        return {"precision": 0.0, "recall": 0.0, "f": 0.0, "items": 0}
    pairs: dict[tuple, int] = defaultdict(int)
    by_pred: dict = defaultdict(int)
    by_true: dict = defaultdict(int)
    for t, p in zip(true, pred, strict=True):
        pairs[(t, p)] += 1
        by_pred[p] += 1
        by_true[t] += 1
    precision = sum(c * c / by_pred[p] for (_, p), c in pairs.items()) / n
    recall = sum(c * c / by_true[t] for (t, _), c in pairs.items()) / n
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f": round(f, 4),
        "items": n,
    }


@dataclass(frozen=True)
class Library:
    """A benchmark library's appearances with what is known of each file."""

    stored: StoredAppearances
    names: dict[int, str]  # file id -> file name
    kinds: dict[int, MediaKind]
    areas: np.ndarray  # per appearance: its best face's area
    best_at: np.ndarray  # per appearance: its best face's time and box, (N, 5)


def read_library(catalog: Catalog) -> Library:
    update_people(catalog)  # sums up every appearance (and places people, as `ris people` does)
    stored = PeopleRecords(catalog).stored()
    files = catalog.files_by_id(np.unique(stored.files).tolist())
    best = catalog.faces(stored.best)
    area_of = {
        int(k): float((b[2] - b[0]) * (b[3] - b[1]))
        for k, b in zip(best.ids.tolist(), best.boxes, strict=True)
    }
    at = {
        int(k): [float(t), *map(float, b)]
        for k, t, b in zip(best.ids.tolist(), best.times.tolist(), best.boxes, strict=True)
    }
    return Library(
        stored,
        {k: Path(r.path).name for k, r in files.items()},
        {k: r.kind for k, r in files.items()},
        np.asarray([area_of.get(int(b), 0.0) for b in stored.best]),
        np.asarray([at.get(int(b), [0.0] * 5) for b in stored.best], np.float64).reshape(-1, 5),
    )


def items(
    truth: dict | None,
    photos: dict[str, str],
    lib: Library,
    labels: np.ndarray,
    by: str = "iou",
) -> tuple[list, list]:
    """(true, predicted) per item; `labels` per appearance, -1 for none (unsorted). A true
    segment's person is the one overlapping it most: by temporal IoU (`by="iou"`: a long
    appearance of someone else on screen at the same time does not outweigh the person's own)
    or by seconds of overlap (`by="seconds"`)."""
    true: list = []
    pred: list = []
    rows_of: dict[str, list[int]] = defaultdict(list)
    for row, f in enumerate(lib.stored.files.tolist()):
        rows_of[lib.names[f]].append(row)
    for video, info in (truth or {}).get("videos", {}).items():
        spans: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for row in rows_of.get(video, []):
            if labels[row] >= 0:
                spans[int(labels[row])].append((lib.stored.starts[row], lib.stored.ends[row]))
        merged = {label: _merged(found) for label, found in spans.items()}
        for person, d in info["people"].items():
            for s, e in d["segments"]:
                score: dict[int, float] = {}
                for label, runs in merged.items():
                    touching = [(a, b) for a, b in runs if min(e, b) - max(s, a) > 0]
                    if not touching:
                        continue
                    inter = sum(min(e, b) - max(s, a) for a, b in touching)
                    # the label's runs that meet this segment only: a person's other segments
                    # in the video are not this one's union (they made a person seen twice
                    # lose their own segment to whoever was on screen with them once)
                    union = (e - s) + sum(b - a for a, b in touching) - inter
                    score[label] = inter / union if by == "iou" else inter
                true.append(person)
                pred.append(max(score, key=score.__getitem__) if score else ("alone", len(pred)))
    for name, person in photos.items():
        rows = rows_of.get(name, [])
        true.append(person)
        if rows:
            main = max(rows, key=lambda r: lib.areas[r])
            pred.append(int(labels[main]) if labels[main] >= 0 else ("alone", len(pred)))
        else:
            pred.append(("alone", len(pred)))
    return true, pred


def _merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def scored(truth: dict | None, photos: dict[str, str], lib: Library, labels: np.ndarray) -> dict:
    """BCubed by IoU, with F by seconds of overlap beside it."""
    row = bcubed(*items(truth, photos, lib, labels))
    row["f_by_seconds"] = bcubed(*items(truth, photos, lib, labels, by="seconds"))["f"]
    return row


def true_people(truth: dict, lib: Library) -> np.ndarray | None:
    """Each appearance's true person (a label; -1: none), where the truth says where each
    person was (the hard benchmark's `appearances`: a path across the frame): the person
    whose face was nearest its best face at that time. Scored, this is the ceiling of any
    grouping of ris's appearances: what is lost below it is lost in the appearances
    themselves (faces missed, tracks that end early), not in grouping them."""
    videos = truth.get("videos", {})
    if not videos or not all("appearances" in v for v in videos.values()):
        return None
    ids: dict[str, int] = {}
    labels = np.full(len(lib.stored), -1, np.int64)
    for row, f in enumerate(lib.stored.files.tolist()):
        info = videos.get(lib.names[f])
        if info is None:
            continue
        t, x1, y1, x2, y2 = lib.best_at[row]
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        best, nearest = None, np.inf
        for a in info["appearances"]:
            if not a["start"] - 0.5 <= t <= a["end"] + 0.5:
                continue
            k = min(max((t - a["start"]) / max(a["end"] - a["start"], 1e-6), 0.0), 1.0)
            x = a["xy0"][0] + (a["xy1"][0] - a["xy0"][0]) * k
            y = a["xy0"][1] + (a["xy1"][1] - a["xy0"][1]) * k
            d = float(np.hypot(x - cx, y - cy))  # (x, y): the centre of its picture
            if d < nearest:
                best, nearest = a["person"], d
        if best is not None:
            labels[row] = ids.setdefault(best, len(ids))
    return labels


def ris_rows(truth: dict | None, photos: dict[str, str], lib: Library) -> dict[str, dict]:
    """ris's people and the alternatives on its templates, each scored."""
    out: dict[str, dict] = {}
    stored = lib.stored
    kept = np.asarray(stored.people, np.int64)
    out["ris (ris people)"] = scored(truth, photos, lib, kept)
    ceiling = true_people(truth, lib) if truth else None
    if ceiling is not None:
        out["each appearance in its true person (the ceiling)"] = scored(
            truth, photos, lib, ceiling
        )
    for cut in CUTS:
        labels = grouped_at_once(stored, cut)
        out[f"ris, cut {cut:.2f}"] = scored(truth, photos, lib, labels)
    from sklearn.cluster import AgglomerativeClustering

    for cut in (0.45, 0.50, 0.55):
        if len(stored) < 2:
            break
        full = AgglomerativeClustering(
            n_clusters=None, metric="cosine", linkage="average", distance_threshold=1 - cut
        ).fit_predict(stored.vectors)
        out[f"average linkage, all pairs, {cut:.2f}"] = scored(truth, photos, lib, full)
        whispers = chinese_whispers(stored.vectors, cut)
        out[f"Chinese whispers on templates, {cut:.2f}"] = scored(truth, photos, lib, whispers)
    return out


def peer_row(
    truth: dict | None,
    photos: dict[str, Path],
    videos: dict[str, dict],
    read_photo: Callable[[Path], dict],
) -> dict:
    """face_recognition's recipe: dlib's Chinese whispers on every face's encoding at 0.5.
    `videos`: name -> its faces as `peer.read_faces` gives them; `read_photo` reads a photo."""
    import dlib

    owners: list[tuple[str, float, float]] = []  # (file name, t, area) per face
    vectors: list[np.ndarray] = []
    for name, f in videos.items():
        for t, b, v in zip(f["times"], f["boxes"], f["vectors"], strict=True):
            owners.append((name, float(t), float((b[2] - b[0]) * (b[3] - b[1]))))
            vectors.append(v)
    for name, path in photos.items():
        f = read_photo(path)
        for b, v in zip(f["boxes"], f["vectors"], strict=True):
            owners.append((name, 0.0, float((b[2] - b[0]) * (b[3] - b[1]))))
            vectors.append(v)
    labels = (
        dlib.chinese_whispers_clustering([dlib.vector(v.tolist()) for v in vectors], DLIB_THRESHOLD)
        if vectors
        else []
    )
    faces_of: dict[str, list[int]] = defaultdict(list)
    for k, (name, _, _) in enumerate(owners):
        faces_of[name].append(k)
    true: list = []
    pred: list = []
    for video, info in (truth or {}).get("videos", {}).items():
        for person, d in info["people"].items():
            for s, e in d["segments"]:
                votes: dict[int, int] = defaultdict(int)
                for k in faces_of.get(video, []):
                    if s <= owners[k][1] <= e:
                        votes[labels[k]] += 1
                true.append(person)
                pred.append(max(votes, key=votes.__getitem__) if votes else ("alone", len(pred)))
    for name in photos:
        true.append(Path(name).stem.rsplit("_", 1)[0])
        faces = faces_of.get(name, [])
        pred.append(
            labels[max(faces, key=lambda k: owners[k][2])] if faces else ("alone", len(pred))
        )
    return bcubed(true, pred)


def lfw_photos(
    lfw: Path, people: list[str], per_person: int, strangers: int, seed: int
) -> list[Path]:
    """Photos of an LFW photo library: up to `per_person` photos of each of `people`, and one
    each of `strangers` others with a single photo, chosen by `seed`."""
    rng = np.random.default_rng(seed)
    chosen: list[Path] = []
    for person in people:
        found = sorted((lfw / person).glob("*.jpg"))
        chosen += found[:per_person]
    others = sorted(d for d in lfw.iterdir() if d.is_dir() and d.name not in set(people))
    for k in rng.permutation(len(others))[:strangers].tolist():
        found = sorted(others[k].glob("*.jpg"))
        chosen += found[:1]
    return chosen


__all__ = ["PEOPLE_CUT", "bcubed", "items", "lfw_photos", "peer_row", "read_library", "ris_rows"]
