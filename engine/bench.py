"""`just bench`: indexing throughput and search latency on real media, per device.

    python -m engine.bench [--media DIR ...] [--repeats N]

Indexing is compared with decoding alone (the floor any indexer pays), measured in the same run,
so the ratio means something on a shared, noisy machine. Search latency is measured with the
models loaded (as in the TUI, or a long-lived process), for photo and clip queries.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from .api import build_engine
from .decoding import Decoder
from .events import IndexFinished
from .media import MediaFile, media_kind, walk
from .settings import Settings
from .vocabulary import MediaKind

DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dev"


def decode_only(files: list[MediaFile], settings: Settings) -> tuple[int, float]:
    engine = build_engine(settings)
    t0 = time.perf_counter()
    frames = sum(
        len(ev.chunk.times) for ev in Decoder(engine.sample_options).decode(files) if ev.chunk
    )
    return frames, time.perf_counter() - t0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_device(device: str, media: list[Path], queries: list[Path], repeats: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(data_dir=Path(tmp), device=device)
        files = [f for f in walk(media) if isinstance(f, MediaFile)]
        frames0, decode_s = decode_only(files, settings)
        engine = build_engine(settings)
        device = engine.load_models()  # model loading is reported apart from throughput
        done = [e for e in engine.index(media) if isinstance(e, IndexFinished)][0]
        index_fps, decode_fps = done.frames / done.seconds, frames0 / decode_s
        rows = [
            f"device {device}: {len(files)} files, {done.frames} sampled frames, "
            f"{done.faces} faces",
            f"  decode only (baseline)  {decode_fps:8.1f} frames/s",
            f"  index                   {index_fps:8.1f} frames/s  {done.faces / done.seconds:8.1f} "
            f"faces/s  ({index_fps / decode_fps:.3f} x the decode-only rate)",
        ]
        for q in queries:
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                engine.search(q)
                times.append(time.perf_counter() - t0)
            kind = "clip " if media_kind(q) == MediaKind.VIDEO else "photo"
            rows.append(
                f"  search {kind} {q.name:32s} median {statistics.median(times) * 1000:7.0f} ms  "
                f"p95 {percentile(times, 0.95) * 1000:7.0f} ms  ({repeats} runs)"
            )
        engine.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description="ris speed figures")
    ap.add_argument("--media", type=Path, nargs="*", default=[DEV / "videos", DEV / "images"])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    queries = [
        DEV / "images/Alexandria_Ocasio-Cortez/tencent-ailab_V-Express/ref.jpg",
        DEV / "images/Lin-Manuel_Miranda/ageitgey_face_recognition/lin-manuel-miranda.png",
        DEV / "videos/Alexandria_Ocasio-Cortez/tencent-ailab_V-Express/gt.mp4",
        DEV / "videos/Lin-Manuel_Miranda/ageitgey_face_recognition/short_hamilton_clip.mp4",
    ]
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(
        f"ris bench: torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
        f"CUDA {'available' if torch.cuda.is_available() else 'not available (CPU only)'}"
    )
    for device in devices:
        for row in bench_device(device, args.media, queries, args.repeats):
            print(row, flush=True)


if __name__ == "__main__":
    main()
