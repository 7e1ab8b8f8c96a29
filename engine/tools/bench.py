"""`just bench`: indexing throughput, per stage and against the naive loop, and search latency.

    python -m engine.tools.bench [--copies N] [--devices cpu,cuda] [--photos N] [--json FILE]

For each device, on a library of `--copies` copies of the dev videos (hard links, so each is
a file of its own to the index; 8 copies are about 3,000 sampled frames, enough for a steady
state), in the same run:

- the naive loop, as facenet-pytorch's README shows it: decord frame, `MTCNN.detect`,
  `extract`, `InceptionResnetV1`, one frame at a time (the baseline every ratio is against);
- decoding alone, with the index's decoders (the floor any indexer pays);
- `ris index`'s pipeline, committed to catalog and vector store: frames/s, faces/s, where the
  time went (busy and waiting, per stage), and the GPU's utilisation when there is one;
- photos: `--photos` LFW images indexed, against the naive loop on the same photos;
- search latency with the models loaded, for photo and clip queries.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from engine.api import build_engine
from engine.events import IndexFinished
from engine.media.decoding import Decoder
from engine.media.finding import MediaFile, media_kind, walk
from engine.settings import Settings
from engine.stage_clock import STAGES
from engine.vocabulary import MediaKind

DEV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dev"
QUERIES = [
    DEV / "images/Alexandria_Ocasio-Cortez/tencent-ailab_V-Express/ref.jpg",
    DEV / "images/Lin-Manuel_Miranda/ageitgey_face_recognition/lin-manuel-miranda.png",
    DEV / "videos/Alexandria_Ocasio-Cortez/tencent-ailab_V-Express/gt.mp4",
    DEV / "videos/Lin-Manuel_Miranda/ageitgey_face_recognition/short_hamilton_clip.mp4",
]


def library(videos: Path, copies: int, into: Path) -> list[Path]:
    """`copies` copies of every video under `videos`, hard-linked where the disk allows."""
    sources = [f.path for f in walk([videos]) if isinstance(f, MediaFile)]
    sources = [p for p in sources if media_kind(p) == MediaKind.VIDEO]
    for k in range(copies):
        for i, src in enumerate(sources):
            dst = into / f"copy{k:02d}" / f"{i:03d}{src.suffix}"
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
    return sources


def photo_folder(lfw: Path, count: int, into: Path) -> list[Path]:
    """`count` LFW photos (in name order; again from the first when there are fewer), linked
    into a folder of their own."""
    photos = sorted(lfw.rglob("*.jpg"))
    into.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        src = photos[i % len(photos)]
        try:
            os.link(src, into / f"{i:05d}.jpg")
        except OSError:
            shutil.copyfile(src, into / f"{i:05d}.jpg")
    return photos[:count]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class NaiveLoop:
    """facenet-pytorch as its README shows it, one frame at a time."""

    def __init__(self, settings: Settings, device: str) -> None:
        import torch
        from facenet_pytorch import MTCNN

        from engine.models.embedding import load_network
        from engine.models.face_models import pick_device
        from engine.models.weights import resolve_weights

        self.device = pick_device(device)
        self.mtcnn = MTCNN(keep_all=True, min_face_size=20, device=self.device)
        self.net = load_network(resolve_weights(settings.weights, None, None), self.device)
        self.torch = torch

    def frame(self, image: Any) -> int:
        with self.torch.inference_mode():
            boxes, _ = self.mtcnn.detect(image)
            if boxes is None:
                return 0
            faces = self.mtcnn.extract(image, boxes, None)
            self.net(faces.to(self.device)).cpu()
            return len(boxes)

    def videos(self, paths: list[Path], frames: int, rate: float) -> float:
        """Sampled frames per second over the first `frames` samples of `paths`."""
        import decord
        from PIL import Image

        done, t0 = 0, time.perf_counter()
        for path in paths:
            vr = decord.VideoReader(str(path))
            step = max(1, round(float(vr.get_avg_fps() or 25) / rate))
            for i in range(0, len(vr), step):
                self.frame(Image.fromarray(vr[i].asnumpy()))
                done += 1
                if done >= frames:
                    return done / (time.perf_counter() - t0)
        return done / (time.perf_counter() - t0)

    def photos(self, paths: list[Path]) -> float:
        from PIL import Image

        t0 = time.perf_counter()
        for path in paths:
            with Image.open(path) as im:
                self.frame(im.convert("RGB"))
        return len(paths) / (time.perf_counter() - t0)


class GpuMeter:
    """The GPU's utilisation sampled by nvidia-smi while it runs (None without one)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> GpuMeter:
        if shutil.which("nvidia-smi"):
            cmd = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
            self._proc = subprocess.Popen([*cmd, "-lms", "200"], stdout=subprocess.PIPE, text=True)
            self._thread = threading.Thread(target=self._read, daemon=True)
            self._thread.start()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            with contextlib.suppress(ValueError):
                self.samples.append(float(line.split(",")[0]))

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait()

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.samples) if self.samples else None


def index_run(settings: Settings, paths: list[Path]) -> tuple[IndexFinished, str, float | None]:
    engine = build_engine(settings)
    engine.load_models()  # model loading is reported apart from throughput
    setup = ""
    with GpuMeter() as gpu:
        for ev in engine.index(paths):
            if isinstance(ev, IndexFinished):
                done = ev
            elif getattr(ev, "setup", ""):
                setup = ev.setup  # type: ignore[union-attr]
    engine.close()
    return done, setup, gpu.mean


def stage_rows(done: IndexFinished) -> list[str]:
    if done.stages is None:
        return []
    rows = ["    stage    busy s   waited s  (decode busy: summed over the decoders)"]
    for stage in STAGES:
        busy, waited = done.stages.busy[stage], done.stages.waited[stage]
        rows.append(f"    {stage:7s} {busy:7.1f}   {waited:7.1f}")
    return rows


def detector_rows(settings: Settings, device: str, video: Path) -> list[str]:
    """The detector and embedder alone on one video's frames, by batch size (frames/s)."""
    import numpy as np

    from engine.media.sampling import FrameChunk, SampleOptions, read_media
    from engine.models.face_models import FaceModels
    from engine.models.weights import resolve_weights

    models = FaceModels(resolve_weights(settings.weights, None, None), device)
    chunks = [
        p.frames
        for p in read_media(video, MediaKind.VIDEO, SampleOptions())
        if isinstance(p, FrameChunk)
    ]
    frames = np.concatenate(chunks)
    rows = []
    for batch in (16, 64, 128):
        sample = np.concatenate([frames] * (batch // len(frames) + 1))[:batch]
        models.faces(sample)  # warm-up
        t0, runs = time.perf_counter(), 0
        while time.perf_counter() - t0 < 3 or runs < 2:
            models.faces(sample)
            runs += 1
        fps = batch * runs / (time.perf_counter() - t0)
        rows.append(
            f"  detect+embed alone, batches of {batch:3d} {sample.shape[2]}x{sample.shape[1]}"
            f" frames: {fps:8.1f} frames/s"
        )
    return rows


def bench_device(device: str, args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings.from_env(data_dir=root / "data", device=device)
        sources = library(args.videos, args.copies, root / "videos")
        naive = NaiveLoop(settings, device)
        naive.videos(sources, 4, settings.sample_rate)  # warm-up: first calls, cuDNN choices
        naive_fps = naive.videos(sources, args.naive_frames, settings.sample_rate)
        files = [f for f in walk([root / "videos"]) if isinstance(f, MediaFile)]
        decoders = settings.decoders(device)
        t0 = time.perf_counter()
        decoder = Decoder(build_engine(settings).sample_options, workers=decoders)
        decoded = sum(len(ev.chunk.times) for ev in decoder.decode(files) if ev.chunk)
        decode_fps = decoded / (time.perf_counter() - t0)
        done, setup, gpu = index_run(settings, [root / "videos"])
        index_fps = done.frames / done.seconds
        rows = [
            f"device {device} ({setup}): {len(files)} videos, {done.frames} sampled frames, "
            f"{done.faces} faces",
            f"  naive loop (baseline)   {naive_fps:8.1f} frames/s  ({args.naive_frames} frames)",
            f"  decode only             {decode_fps:8.1f} frames/s  ({decoders} decoders)",
            f"  index                   {index_fps:8.1f} frames/s  {done.faces / done.seconds:8.1f}"
            f" faces/s  {index_fps / naive_fps:6.1f} x the naive loop"
            + (f", GPU utilisation {gpu:.0f} %" if gpu is not None else ""),
            *stage_rows(done),
        ]
        entry: dict[str, Any] = {
            "setup": setup,
            "videos": len(files),
            "frames": done.frames,
            "faces": done.faces,
            "naive_fps": naive_fps,
            "decode_fps": decode_fps,
            "index_fps": index_fps,
            "gpu_utilisation": gpu,
            "stages": done.stages.busy if done.stages else None,
            "waited": done.stages.waited if done.stages else None,
        }
        if args.photos:
            photos = photo_folder(args.lfw, args.photos, root / "photos")
            naive_ips = naive.photos(photos[: max(8, args.photos // 8)])
            pdone, _, pgpu = index_run(
                Settings.from_env(data_dir=root / "photo-data", device=device), [root / "photos"]
            )
            ips = pdone.indexed / pdone.seconds
            rows.append(
                f"  photos: naive loop      {naive_ips:8.1f} images/s; index {ips:8.1f} images/s"
                f" ({pdone.indexed} LFW photos)  {ips / naive_ips:6.1f} x the naive loop"
                + (f", GPU utilisation {pgpu:.0f} %" if pgpu is not None else "")
            )
            entry.update(naive_photo_ips=naive_ips, photo_ips=ips, photos=pdone.indexed)
        if args.detector:
            rows += detector_rows(settings, device, sources[0])
        engine = build_engine(settings)
        engine.load_models()
        for q in [q for q in QUERIES if q.exists()]:
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                engine.search(q)
                times.append(time.perf_counter() - t0)
            kind = "clip " if media_kind(q) == MediaKind.VIDEO else "photo"
            rows.append(
                f"  search {kind} {q.name:32s} median {statistics.median(times) * 1000:7.0f} ms "
                f" p95 {percentile(times, 0.95) * 1000:7.0f} ms  ({args.repeats} runs)"
            )
        engine.close()
        report[device] = entry
    return rows


def main() -> None:
    import torch

    cuda = torch.cuda.is_available()
    ap = argparse.ArgumentParser(description="ris speed figures")
    ap.add_argument("--videos", type=Path, default=DEV / "videos")
    ap.add_argument("--lfw", type=Path, default=DEV / "lfw")
    ap.add_argument("--copies", type=int, default=8, help="copies of the videos (default 8)")
    ap.add_argument("--devices", default="cpu,cuda" if cuda else "cpu")
    ap.add_argument("--photos", type=int, default=400, help="LFW photos to index (0: none)")
    ap.add_argument("--naive-frames", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--detector", action="store_true", help="also time the detector alone")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    print(
        f"ris bench: torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
        f"{os.cpu_count()} cores, "
        f"{'CUDA ' + torch.cuda.get_device_name() if cuda else 'no CUDA (CPU only)'}",
        flush=True,
    )
    report: dict[str, Any] = {}
    for device in args.devices.split(","):
        for row in bench_device(device, args, report):
            print(row, flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
