"""`ris eval`: every benchmark through the real engine, one table, the full figures as JSON.

Work (indexes of LFW, the generated videos and the dev media) goes under --work; runs after the
first reuse those indexes, as `ris index` skips unchanged files.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.api import Engine, build_engine
from engine.errors import EngineError, NoFaceError
from engine.events import IndexEvent, IndexFinished
from engine.media.finding import media_kind
from engine.results import QueryFace, QueryInfo, SearchResult
from engine.search.query import Query
from engine.settings import Settings
from engine.tools.evaluation import SECTIONS
from engine.tools.evaluation import lfw as lfw_bench
from engine.tools.evaluation.ablations import search_per_frame, search_within_margin
from engine.tools.evaluation.videos import Judged, score
from engine.vocabulary import EMBEDDING_DIM, MediaKind

RESNET_NOTE = (
    "not measured: no ImageNet ResNet50 weights on this machine (offline). Set "
    "RIS_RESNET50_WEIGHTS to torchvision's resnet50 ImageNet state_dict to measure it; numbers "
    "from random weights would mean nothing"
)


Say = Callable[[str], None]
OnEvent = Callable[[IndexEvent], None]


def _index(engine: Engine, paths: list[Path], say: Say, on_event: OnEvent | None = None) -> dict:
    finished = None
    for ev in engine.index(paths):
        if on_event is not None:
            on_event(ev)
        if isinstance(ev, IndexFinished):
            finished = ev
    assert finished is not None
    say(
        f"  indexed {finished.indexed} files ({finished.unchanged} unchanged), "
        f"{finished.frames} frames in {finished.seconds:.0f} s"
    )
    # the speed of the run that built the index; a later run that only reuses it measures nothing
    record = engine.settings.data_dir / "index_speed.json"
    if finished.frames:
        speed = {
            "frames": finished.frames,
            "seconds": round(finished.seconds, 1),
            "ms_per_frame": round(1000 * finished.seconds / finished.frames, 1),
        }
        record.write_text(json.dumps(speed))
        return speed
    return json.loads(record.read_text()) if record.exists() else {"ms_per_frame": None}


def lfw_section(
    settings: Settings, lfw: Path, pairs: Path, say: Say, on_event: OnEvent | None = None
) -> dict:
    engine = build_engine(replace(settings, data_dir=settings.data_dir / "lfw"))
    say(f"LFW: indexing {lfw} through `ris index` (once; later runs reuse it)")
    speed = _index(engine, [lfw], say, on_event)
    paths, vectors = lfw_bench.chosen_faces(engine.internals.catalog)
    names = [str(Path(p).relative_to(lfw.resolve())) for p in paths]
    by_name = dict(zip(names, vectors, strict=True))
    out: dict = {"index": speed, "images_with_face": len(names)}

    pair_list = lfw_bench.read_pairs(pairs)
    say(f"LFW verification on {pairs.name}: ris, and plain facenet-pytorch with the same weights")
    out["verification"] = {"ris": lfw_bench.verification(pair_list, dict(by_name))}
    old_paths, old_vectors = lfw_bench.chosen_faces(engine.internals.catalog, before=True)
    old_names = [str(Path(p).relative_to(lfw.resolve())) for p in old_paths]
    out["verification"]["ris, before: the largest raw box is the face"] = lfw_bench.verification(
        pair_list, dict(zip(old_names, old_vectors, strict=True))
    )
    from engine.tools.evaluation.reference import PlainFacenet

    device = engine.load_models()
    plain = PlainFacenet(engine.internals.weights(), device)
    needed = sorted({p for a, b, _ in pair_list for p in (a, b)})
    t0 = time.perf_counter()
    ref = plain.embed(lfw / n for n in needed)
    ref_ms = 1000 * (time.perf_counter() - t0) / max(len(needed), 1)
    out["verification"]["facenet-pytorch"] = lfw_bench.verification(
        pair_list, {n: ref[lfw / n] for n in needed}
    )
    out["verification"]["facenet-pytorch"]["ms_per_image"] = round(ref_ms, 1)

    say("LFW retrieval: every image of a person with two or more is a query")
    ris_row = f"ris search (threshold {settings.match_threshold:.2f})"
    out["retrieval"] = {
        ris_row: lfw_bench.retrieval(names, _engine_ranker(engine, paths, names, vectors))
    }
    out["retrieval"][ris_row]["ms_per_indexed_frame"] = speed["ms_per_frame"]
    out["retrieval"]["facenet-512 exact"] = lfw_bench.retrieval(
        names, lfw_bench.exact_ranker(vectors)
    )
    for dims in (256, 128, 64):
        reduced = lfw_bench.pca_reduce(vectors, dims)
        row = lfw_bench.retrieval(names, lfw_bench.exact_ranker(reduced))
        row["bytes_per_vector"] = 4 * dims
        out["retrieval"][f"facenet-pca{dims} exact"] = row
        out["verification"][f"facenet-pca{dims}"] = lfw_bench.verification(
            pair_list, dict(zip(names, reduced, strict=True))
        )
    out["retrieval"]["facenet-512 exact"]["bytes_per_vector"] = 4 * EMBEDDING_DIM
    from engine.tools.evaluation.resnet import resnet50_features, resnet50_weights

    weights = resnet50_weights()
    if weights is None:
        out["resnet50"] = RESNET_NOTE
    else:
        say(f"ResNet50 baseline: whole-image features of {len(names)} images ({weights})")
        feats = resnet50_features(weights, [lfw / n for n in names], device)
        row = lfw_bench.retrieval(names, lfw_bench.exact_ranker(feats))
        row["bytes_per_vector"] = 4 * feats.shape[1]
        out["retrieval"]["resnet50 whole-image exact"] = row
        out["verification"]["resnet50 whole-image"] = lfw_bench.verification(
            pair_list, dict(zip(names, feats, strict=True))
        )
        out["resnet50"] = f"measured with {weights}"

    befores = {
        "ris, before: crop margin 0": (
            "facenet-pytorch's crop margin 0 (ris crops with 32 px)",
            replace(settings, face_margin=0),
        ),
        "ris, before: small faces enlarged by area": (
            "faces under 160 px enlarged by area, pixels repeated (ris enlarges them bilinearly)",
            replace(settings, face_upscale="area"),
        ),
    }
    library_weights = engine.internals.weights().path  # what built the library, whatever is set
    for variant, (what, changed) in befores.items():
        say(f"Before/after: ris with {what}")
        before = build_engine(
            replace(changed, data_dir=settings.data_dir / "none", weights=library_weights)
        )
        vec0 = {}
        for n in needed:
            try:
                vec0[n] = before.read_query(lfw / n).templates[0]
            except EngineError:
                vec0[n] = None
        out["verification"][variant] = lfw_bench.verification(pair_list, vec0)
    engine.close()
    return out


def _engine_ranker(engine: Engine, paths: list[str], names: list[str], vectors: np.ndarray):  # type: ignore[no-untyped-def]
    """Rank the indexed photos for photo i as `ris search` does: its threshold, 21 results
    (the query photo itself is among them)."""
    index_of = {str(Path(p).resolve()): i for i, p in enumerate(paths)}
    face = (QueryFace(1, (0.0, 0.0, 1.0, 1.0), 0.0, 1.0, 1),)

    def rank(i: int) -> list[int]:
        q = Query(names[i], MediaKind.IMAGE, face, vectors[i : i + 1])
        result = engine.search(q, top=lfw_bench.CUTOFF + 1)
        return [index_of[str(Path(h.path).resolve())] for h in result.images]

    return rank


def _truth_of(truth: dict, q: dict) -> tuple[frozenset[str], dict[str, list[tuple[float, float]]]]:
    segs = {
        v: [(float(s[0]), float(s[1])) for s in info["people"][q["person"]]["segments"]]
        for v, info in truth["videos"].items()
        if q["person"] in info["people"]
    }
    return frozenset(q["relevant"]), segs


def _nothing(path: Path, threshold: float) -> SearchResult:
    kind = media_kind(path) or MediaKind.IMAGE
    return SearchResult(QueryInfo(str(path), kind, (), 1), threshold, (), ())


def video_section(
    settings: Settings, bench: Path, say: Say, on_event: OnEvent | None = None
) -> dict:
    truth = json.loads((bench / "truth.json").read_text())
    engine = build_engine(replace(settings, data_dir=settings.data_dir / bench.name))
    say(f"Video benchmark: indexing {bench / 'videos'}")
    speed = _index(engine, [bench / "videos"], say, on_event)
    out: dict = {"index": speed}
    variants: dict[str, Callable[[Query], SearchResult]] = {
        "": lambda q: engine.search(q, top=100),
        ", before: matches only (no possible matches)": lambda q: engine.search(
            q, top=100, possible_margin=0.0
        ),
        ", possible matches only 0.15 below": lambda q: engine.search(
            q, top=100, possible_margin=0.15
        ),
        ", before: possible ones stop at the margin": lambda q: search_within_margin(
            engine, q, top=100
        ),
        ", before: per-frame decisions": lambda q: search_per_frame(engine, q, top=100),
    }
    for kind in ("photo", "clip"):
        judged: dict[str, list[Judged]] = {name: [] for name in variants}
        for q in (q for q in truth["queries"] if q["kind"] == kind):
            relevant, segs = _truth_of(truth, q)
            path = bench / "queries" / q["path"]
            t0 = time.perf_counter()
            try:
                query = engine.read_query(path)
            except NoFaceError:  # scored as a search that found nothing
                empty = _nothing(path, settings.match_threshold)
                for rows in judged.values():
                    rows.append(Judged(empty, relevant, segs, time.perf_counter() - t0))
                continue
            reading = time.perf_counter() - t0
            for name, search in variants.items():
                t0 = time.perf_counter()
                result = search(query)
                seconds = reading + time.perf_counter() - t0
                judged[name].append(Judged(result, relevant, segs, seconds))
        for name, rows in judged.items():
            out[kind + name] = score(rows)
        say(f"  {kind} queries: mAP {out[kind]['mAP']}")
    engine.close()
    return out


def peer_section(settings: Settings, bench: Path, say: Say) -> dict:
    """face_recognition through the same benchmark (see `peer`), or why it was not run."""
    from engine.tools.evaluation import peer

    why = peer.missing()
    if why is not None:
        return {"not measured": why}
    truth = json.loads((bench / "truth.json").read_text())
    opts = build_engine(settings).sample_options
    videos = sorted((bench / "videos").glob("*.mp4"))
    say(
        f"face_recognition on {bench.name}: reading {len(videos)} videos (once; later runs reuse it)"
    )
    library = peer.Library(videos, opts, settings.data_dir / bench.name / "face_recognition")
    out: dict = {}
    if library.read_frames:
        out["index"] = {
            "frames": library.read_frames,
            "seconds": round(library.read_seconds, 1),
            "ms_per_frame": round(1000 * library.read_seconds / library.read_frames, 1),
        }
    for kind, media in (("photo", MediaKind.IMAGE), ("clip", MediaKind.VIDEO)):
        judged = []
        for q in (q for q in truth["queries"] if q["kind"] == kind):
            relevant, segs = _truth_of(truth, q)
            t0 = time.perf_counter()
            path = bench / "queries" / q["path"]
            known = peer.query_encodings(path, media, opts)
            result = library.search(known, path, media, top=100)
            judged.append(Judged(result, relevant, segs, time.perf_counter() - t0))
        out[kind] = score(judged)
        say(f"  face_recognition {kind} queries: mAP {out[kind]['mAP']}")
    return out


def people_section(
    settings: Settings,
    benches: list[tuple[str, Path, bool]],
    lfw: Path,
    say: Say,
    on_event: OnEvent | None = None,
) -> dict:
    """People against true identities (`people`): per benchmark (title, folder, with LFW
    photos), ris's rows and face_recognition's recipe, measured on the same files."""
    import shutil

    from engine.library.catalogs import open_catalog
    from engine.tools.evaluation import peer
    from engine.tools.evaluation import people as people_bench

    out: dict = {}
    for title, bench, with_photos in benches:
        truth = json.loads((bench / "truth.json").read_text())
        name = bench.name + ("+lfw-photos" if with_photos else "")
        engine = build_engine(replace(settings, data_dir=settings.data_dir / name))
        paths = [bench / "videos"]
        photos: dict[str, Path] = {}
        if with_photos:  # up to 4 photos of each person of the videos, 50 strangers once each
            folder = settings.data_dir / f"{name}-photos"
            folder.mkdir(parents=True, exist_ok=True)
            seen = sorted({p for v in truth["videos"].values() for p in v["people"]})
            for photo in people_bench.lfw_photos(lfw, seen, 4, 50, truth.get("seed", 0)):
                if not (folder / photo.name).exists():
                    shutil.copy2(photo, folder / photo.name)
                photos[photo.name] = folder / photo.name
            paths.append(folder)
        say(f"People, {title}: indexing {', '.join(str(p) for p in paths)}")
        _index(engine, paths, say, on_event)
        catalog = open_catalog(engine.settings)
        t0 = time.perf_counter()
        lib = people_bench.read_library(catalog)
        catalog.close()
        seconds = time.perf_counter() - t0
        labels = {n: Path(n).stem.rsplit("_", 1)[0] for n in photos}
        rows = people_bench.ris_rows(truth, labels, lib)
        rows["ris (ris people)"]["seconds"] = round(seconds, 2)
        why = peer.missing()
        if why is None:
            opts = engine.sample_options
            videos = sorted((bench / "videos").glob("*.mp4"))
            faces = peer.Library(videos, opts, settings.data_dir / bench.name / "face_recognition")
            rows["face_recognition: Chinese whispers at 0.5"] = people_bench.peer_row(
                truth,
                photos,
                {Path(p).name: f for p, f in faces.files.items()},
                functools.partial(peer.read_faces, kind=MediaKind.IMAGE, opts=opts),
            )
        else:
            rows["face_recognition: not measured"] = {"why": why}
        engine.close()
        out[title] = {"appearances": len(lib.stored), "photos": len(photos), "rows": rows}
        best = rows["ris (ris people)"]
        say(
            f"  {title}: ris people BCubed F {best['f']} (P {best['precision']}, R {best['recall']})"
        )
    return out


def dev_section(settings: Settings, dev: Path, say: Say, on_event: OnEvent | None = None) -> dict:
    """The real labelled clips: Ocasio-Cortez (three clips) and Miranda (the Hamilton clip)."""
    engine = build_engine(replace(settings, data_dir=settings.data_dir / "dev"))
    say(f"Real clips: indexing {dev / 'videos'} and {dev / 'images'}")
    speed = _index(engine, [dev / "videos", dev / "images"], say, on_event)
    aoc = dev / "videos" / "Alexandria_Ocasio-Cortez"
    aoc_clips = frozenset(p.name for p in aoc.rglob("*.mp4"))
    hamilton = frozenset({"short_hamilton_clip.mp4"})
    queries = [
        (dev / "images/Alexandria_Ocasio-Cortez/tencent-ailab_V-Express/ref.jpg", aoc_clips),
        (
            dev / "images/Lin-Manuel_Miranda/ageitgey_face_recognition/lin-manuel-miranda.png",
            hamilton,
        ),
        (aoc / "tencent-ailab_V-Express/gt.mp4", aoc_clips),
    ]
    judged = []
    for path, relevant in queries:
        t0 = time.perf_counter()
        result = engine.search(path, top=100)
        judged.append(Judged(result, relevant, {}, time.perf_counter() - t0))
    row = score(judged)
    for k in (
        "segment_recall_iou_0.5",
        "segment_precision_iou_0.5",
        "segment_recall_with_possible",
        "segment_precision_with_possible",
        "first_match_error_s_median",
        "first_match_error_s_mean",
    ):
        row.pop(k)  # their times were read by eye: no exact ground truth
    engine.close()
    return {"index": speed, "queries": row}


def run(
    settings: Settings,
    shared: Path,
    bench: Path,
    say: Say,
    on_event: OnEvent | None = None,
    hard: Path | None = None,
    sections: tuple[str, ...] = SECTIONS,
) -> dict:
    dev = shared / "data" / "dev"
    lfw = dev / "lfw"
    t0 = time.monotonic()
    report: dict = {"weights": str(settings.weights), "device": settings.device}
    if "lfw" in sections:
        report["lfw"] = lfw_section(settings, lfw, lfw / "pairsDevTest.txt", say, on_event)
        full = lfw / "pairs.txt"
        report["lfw"]["full_view2"] = (
            "pairs.txt present but not run" if full.exists() else "not here: only the dev split"
        )
    if "video" in sections:
        report["video"] = video_section(settings, bench, say, on_event)
        report["video"]["face_recognition"] = peer_section(settings, bench, say)
    if "hard" in sections and hard is not None:
        report["hard"] = video_section(settings, hard, say, on_event)
        report["hard"]["face_recognition"] = peer_section(settings, hard, say)
    if "dev" in sections:
        report["dev"] = dev_section(settings, dev, say, on_event)
    if "people" in sections:
        benches = [
            ("easy benchmark, videos", bench, False),
            ("easy benchmark with LFW photos", bench, True),
        ]
        if hard is not None and (hard / "truth.json").exists():
            benches.append(("hard benchmark", hard, False))
        report["people"] = people_section(settings, benches, lfw, say, on_event)
    report["seconds"] = round(time.monotonic() - t0, 1)
    return report


def table(r: dict) -> str:
    lines: list[str] = []
    if "lfw" in r:
        lines += _lfw_table(r["lfw"])
    titles = {
        "video": "Video retrieval, generated benchmark",
        "hard": "Video retrieval, hard benchmark (small, degraded faces)",
    }
    for key, title in titles.items():
        if key in r:
            lines += _video_table(title, r[key])
    if "dev" in r:
        d = r["dev"]["queries"]
        lines.append(
            f"Real dev clips (Ocasio-Cortez photo and clip, Miranda photo): mAP {d['mAP']:.4f}, "
            f"P@1 {d['precision_at_1']:.4f}"
        )
    if "people" in r:
        lines += _people_table(r["people"])
    speeds = [
        f"{k} {r[k]['index']['ms_per_frame']} ms/frame" for k in ("video", "hard", "dev") if k in r
    ]
    for k in ("video", "hard"):
        peer = r.get(k, {}).get("face_recognition", {})
        if "index" in peer:
            speeds.append(f"face_recognition on {k} {peer['index']['ms_per_frame']} ms/frame")
    if "lfw" in r:
        speeds.append(
            f"LFW {r['lfw']['index']['ms_per_frame']} ms/image; plain facenet-pytorch "
            f"{r['lfw']['verification']['facenet-pytorch']['ms_per_image']} ms/image"
        )
    lines.append("Indexing: " + ", ".join(speeds))
    return "\n".join(lines)


def _people_table(people: dict) -> list[str]:
    lines = []
    for title, section in people.items():
        lines.append(
            f"People, {title} ({section['appearances']} appearances, {section['photos']} photos): "
            "BCubed  precision  recall  F"
        )
        for name, row in section["rows"].items():
            if "why" in row:
                lines.append(f"  {name}: {row['why']}")
                continue
            lines.append(
                f"  {name:52s}  {row['precision']:.4f}     {row['recall']:.4f}  {row['f']:.4f}"
            )
    return lines


def _lfw_table(lfw: dict) -> list[str]:
    lines = [
        "Face verification, LFW dev pairs (10-fold)        accuracy         TAR@FAR=1e-3"
        "  TAR/FAR at 0.45",
    ]
    for name, row in lfw["verification"].items():
        lines.append(
            f"  {name:46s}  {row['accuracy']:.4f} ± {row['accuracy_std']:.4f}  {row['tar_at_far_1e-3']:.4f}"
            f"        {row.get('tar_at_default', 0):.3f}/{row.get('far_at_default', 0):.3f}"
            + (
                f"   ({row['pairs_without_face']} pairs without a face)"
                if row["pairs_without_face"]
                else ""
            )
        )
    lines.append(
        "Image retrieval, LFW dev (query: each image of a person with ≥2)  mAP@20  P@1     R@20    ms/query  bytes/vector"
    )
    for name, row in lfw["retrieval"].items():
        lines.append(
            f"  {name:62s}  {row['mAP_at_20']:.4f}  {row['precision_at_1']:.4f}  {row['recall_at_20']:.4f}  "
            f"{row['query_ms_median']:8.2f}  {row.get('bytes_per_vector', 2048)}"
        )
    lines.append(f"  resnet50 whole-image kNN: {lfw['resnet50']}")
    return lines


def _num(x: float | None, width: int = 6) -> str:
    return f"{x:.4f}".ljust(width) if x is not None else "-".ljust(width)


def _video_table(title: str, section: dict) -> list[str]:
    lines = [
        f"{title}\n  {'':50s}  mAP     P@1     seg-recall  seg-precision  first-match err (median s)  s/query  "
        "with possible segments: recall, precision"
    ]
    rows = [(k, v) for k, v in section.items() if k not in ("index", "face_recognition")]
    peer = section.get("face_recognition", {})
    rows += [(f"face_recognition, {k}", v) for k, v in peer.items() if k in ("photo", "clip")]
    for name, row in rows:
        err = row["first_match_error_s_median"]
        lines.append(
            f"  {name:50s}  {_num(row['mAP'])}  {_num(row['precision_at_1'])}  "
            f"{_num(row['segment_recall_iou_0.5'])}      {_num(row['segment_precision_iou_0.5'])}         "
            f"{'-' if err is None else f'{err:.3f}':28s}{row['query_s_median']:.2f}     "
            f"{_num(row.get('segment_recall_with_possible'))}  "
            f"{_num(row.get('segment_precision_with_possible'))}"
        )
    if "not measured" in peer:
        lines.append(f"  face_recognition: {peer['not measured']}")
    return lines
