"""face_recognition (dlib) as a peer on the video benchmarks, with ris's samples and segment rules.

What face_recognition's README shows, applied to the frames ris samples (2 per second, the same
decoder): dlib's HOG detector upsampled once (`face_locations(img, 1)`), its 128-d embedding
(`face_encodings`), and a match at distance <= 0.6, its documented tolerance. A photo query is
its largest face; a clip query is every face of its sampled frames, compared as
`face_distance(known_encodings, face)` compares a list of known faces (the nearest counts).
Matching frames become videos, scores and segments through ris's own ranking (`ranking.rank`:
the same moments, merge gap and coverage score), so only the face model and detector differ.

Install it offline: pip install dlib-bin face-recognition-models "setuptools<81" and
pip install --no-deps face_recognition (`just eval` does).
"""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from engine.media.sampling import FrameChunk, MediaInfo, SampleOptions, read_media
from engine.results import QueryInfo, SearchResult
from engine.search.ranking import FileInfo, Matches, rank
from engine.settings import usable_cores
from engine.vocabulary import MediaKind

TOLERANCE = 0.6
UPSAMPLE = 1


def _face_recognition():  # type: ignore[no-untyped-def]
    """The module, imported without the deprecation warnings its models' lookup prints."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import face_recognition
    return face_recognition


def missing() -> str | None:
    """Why face_recognition cannot run here, or None when it can."""
    try:
        _face_recognition()
    except Exception as e:  # ImportError, or its models' pkg_resources lookup failing
        return (
            f"face_recognition is not installed ({type(e).__name__}: {e}); `just eval` installs "
            "it: dlib-bin, face-recognition-models, setuptools<81, face_recognition --no-deps"
        )
    return None


def read_faces(path: Path, kind: MediaKind, opts: SampleOptions) -> dict:
    """Every face face_recognition finds in the sampled frames: times, boxes (x1, y1, x2, y2 in
    the file's pixels) and 128-d encodings, and the file's MediaInfo."""
    face_recognition = _face_recognition()
    info: MediaInfo | None = None
    times, boxes, vectors = [], [], []
    frames = 0
    for item in read_media(path, kind, opts):
        if isinstance(item, MediaInfo):
            info = item
            continue
        assert isinstance(item, FrameChunk) and info is not None
        for t, frame in zip(item.times.tolist(), item.frames, strict=True):
            frames += 1
            found = face_recognition.face_locations(frame, UPSAMPLE, model="hog")
            if not found:
                continue
            codes = face_recognition.face_encodings(frame, found)
            for (top, right, bottom, left), code in zip(found, codes, strict=True):
                times.append(t)
                boxes.append(np.array([left, top, right, bottom], float) * info.scale)
                vectors.append(code)
    assert info is not None
    return {
        "info": info,
        "times": np.asarray(times, float),
        "boxes": np.asarray(boxes, float).reshape(-1, 4),
        "vectors": np.asarray(vectors, float).reshape(-1, 128),
        "frames": frames,
    }


def _read_job(job: tuple[str, str, SampleOptions]) -> tuple[str, dict]:
    path, kind, opts = job
    return path, read_faces(Path(path), MediaKind(kind), opts)


class Library:
    """face_recognition's faces of every video of a benchmark, read once in parallel and kept
    under `work` (keyed by the file's size and time), so later runs reuse them."""

    def __init__(self, videos: list[Path], opts: SampleOptions, work: Path) -> None:
        self.files: dict[str, dict] = {}
        work.mkdir(parents=True, exist_ok=True)
        todo = []
        for p in videos:
            cached = self._load(p, work)
            if cached is None:
                todo.append(p)
            else:
                self.files[str(p)] = cached
        self.read_seconds = 0.0
        self.read_frames = 0
        if todo:
            t0 = time.perf_counter()
            ctx = get_context("spawn")  # never fork a process that may hold torch's threads
            with ProcessPoolExecutor(usable_cores(), mp_context=ctx) as pool:
                jobs = [(str(p), MediaKind.VIDEO.value, opts) for p in todo]
                for path, faces in pool.map(_read_job, jobs):
                    self.files[path] = faces
                    self._save(Path(path), work, faces)
                    self.read_frames += faces["frames"]
            self.read_seconds = time.perf_counter() - t0

    @staticmethod
    def _key(p: Path, work: Path) -> Path:
        st = p.stat()
        tag = hashlib.sha1(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
        return work / f"{p.stem}-{tag[:12]}.npz"

    def _load(self, p: Path, work: Path) -> dict | None:
        f = self._key(p, work)
        if not f.exists():
            return None
        z = np.load(f)
        i = z["info"].tolist()
        info = MediaInfo(MediaKind.VIDEO, int(i[0]), int(i[1]), i[2], i[3], int(i[4]), i[5], i[6])
        return {
            "info": info,
            "times": z["times"],
            "boxes": z["boxes"],
            "vectors": z["vectors"],
            "frames": int(z["frames"]),
        }

    def _save(self, p: Path, work: Path, faces: dict) -> None:
        i: MediaInfo = faces["info"]
        info = [i.width, i.height, i.duration, i.fps, i.samples, i.step, i.scale]
        np.savez(
            self._key(p, work),
            info=np.asarray(info, float),
            times=faces["times"],
            boxes=faces["boxes"],
            vectors=faces["vectors"],
            frames=faces["frames"],
        )

    def search(self, known: np.ndarray, query: Path, kind: MediaKind, top: int) -> SearchResult:
        """Videos whose faces lie within TOLERANCE of any known encoding, ranked as ris ranks."""
        ids, times, boxes, sims = [], [], [], []
        quality: dict[int, float] = {}
        infos: dict[int, FileInfo] = {}
        for fid, (path, f) in enumerate(self.files.items()):
            info: MediaInfo = f["info"]
            infos[fid] = FileInfo(path, MediaKind.VIDEO, info.duration, info.samples, info.step)
            if not len(f["vectors"]) or not len(known):
                continue
            d = np.linalg.norm(f["vectors"][:, None, :] - known[None, :, :], axis=2).min(axis=1)
            hit = d <= TOLERANCE
            if not hit.any():
                continue
            ids.append(np.full(int(hit.sum()), fid))
            times.append(f["times"][hit])
            boxes.append(f["boxes"][hit])
            sims.append(1.0 - d[hit])  # a similarity in [0.4, 1] where it matches
            quality[fid] = float(sims[-1].max())
        found = (
            Matches(np.concatenate(ids), np.concatenate(times), np.concatenate(boxes),
                    np.concatenate(sims), quality)
            if ids
            else Matches.none()
        )  # fmt: skip
        videos, _ = rank(found, infos, top)
        return SearchResult(QueryInfo(str(query), kind, (), 1), 1.0 - TOLERANCE, tuple(videos), ())


def query_encodings(path: Path, kind: MediaKind, opts: SampleOptions) -> np.ndarray:
    """The encodings a query stands for: a photo's largest face, or every face of a clip."""
    faces = read_faces(path, kind, opts)
    vectors, boxes = faces["vectors"], faces["boxes"]
    if not len(vectors):
        return np.zeros((0, 128))
    if kind == MediaKind.IMAGE:
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        return vectors[[int(np.argmax(area))]]
    return vectors
