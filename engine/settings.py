"""One settings object, built at the entry point, with RIS_* environment overrides."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from engine.errors import UserError
from engine.vocabulary import FaceUpscale

# Cosine similarity at which two faces are taken to be the same person. Chosen from the LFW
# dev pairs with the CASIA-WebFace weights and 32 px crop margin
# (`python data/calibrate_threshold.py`, see README): the best accuracy, 0.955, is at
# 0.35-0.40, where 2.4-1.2 % of different-person pairs match; at 0.45 only 0.4 % do (accuracy
# 0.949, true-accept 0.902). A search compares the query with every sampled frame of the
# library, so false accepts add up while true ones repeat across a person's frames: 0.45.
DEFAULT_THRESHOLD = 0.45
DEFAULT_POSSIBLE_MARGIN = 0.25  # see README, "Possible matches"

_ENV = {
    "data_dir": ("RIS_DATA_DIR", Path),
    "device": ("RIS_DEVICE", str),
    "weights": ("RIS_FACENET_WEIGHTS", Path),
    "sample_rate": ("RIS_SAMPLE_RATE", float),
    "min_face_size": ("RIS_MIN_FACE_SIZE", int),
    "min_face_prob": ("RIS_MIN_FACE_PROB", float),
    "threshold": ("RIS_THRESHOLD", float),
    "possible_margin": ("RIS_POSSIBLE_MARGIN", float),
    "decode_timeout": ("RIS_DECODE_TIMEOUT", float),
    "decode_workers": ("RIS_DECODE_WORKERS", int),
    "frame_batch": ("RIS_FRAME_BATCH", int),
    "detect_threads": ("RIS_DETECT_THREADS", int),
    "face_batch": ("RIS_FACE_BATCH", int),
    "face_margin": ("RIS_FACE_MARGIN", int),
    "face_upscale": ("RIS_FACE_UPSCALE", str),
    "backend": ("RIS_BACKEND", str),
    "milvus_uri": ("RIS_MILVUS_URI", str),
    "milvus_token": ("RIS_MILVUS_TOKEN", str),
    "milvus_collection": ("RIS_MILVUS_COLLECTION", str),
    "milvus_timeout": ("RIS_MILVUS_TIMEOUT", float),
    "milvus_index": ("RIS_MILVUS_INDEX", str),
}


_WORDS = {int: "whole number", float: "number"}


def usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the host's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    weights: Path | None = None  # None: the weights that built the index, else vggface2
    sample_rate: float = 2.0  # frames per second sampled from videos
    min_frames: int = 3  # at least this many samples from very short clips
    min_face_size: int = 20  # pixels, the shorter side of a face box in the original frame
    min_face_prob: float = 0.90  # MTCNN detection probability
    face_margin: int = 32  # context around the face box in the 160 px crop (fixed per index)
    face_upscale: str = "bilinear"  # bilinear | area: crops under 160 px enlarged so (per index)
    max_frame_side: int = 1280  # frames are decoded at most this large for detection
    frame_batch: int = 0  # frames per detection batch; 0: 16 on the CPU, up to 128 on a GPU
    face_batch: int = 0  # faces per embedding batch; 0: 64 on the CPU, 512 on a GPU
    detect_threads: int = 0  # batches detected at once; 0: 2 on a GPU or 8+ cores, else 1
    threshold: float | None = None  # None: DEFAULT_THRESHOLD
    possible_margin: float = DEFAULT_POSSIBLE_MARGIN  # possible matches this far below; 0: none
    top: int = 20
    decode_timeout: float = 120.0  # seconds without a decoded frame before a file is given up
    decode_workers: int = 0  # decoding processes, each on its own file; 0: see decoders()
    save_every: float = 30.0  # seconds between saves of the vector index during a run
    # Where the face vectors live (engine/store.py). None: what the library last used, else
    # usearch. Milvus: a local .db file runs Milvus Lite; http://host:19530 talks to a server.
    backend: str | None = None  # usearch | milvus
    milvus_uri: str | None = None  # None: the library's recorded URI, else DATA_DIR/milvus.db
    milvus_token: str | None = None  # "user:password" or an API key, for servers with auth
    milvus_collection: str | None = None  # None: the library's recorded one, else ris_faces
    milvus_timeout: float = 30.0  # seconds for one call to the server
    milvus_index: str = "AUTOINDEX"  # vector index type of a new collection (HNSW, IVF_FLAT...)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then RIS_* variables, then explicit overrides (None means not given)."""
        env = dict(os.environ) if env is None else env
        values: dict[str, object] = {}
        for name, (var, cast) in _ENV.items():
            if env.get(var):
                try:
                    values[name] = cast(env[var])
                except ValueError:
                    raise UserError(
                        f"{var}={env[var]!r} is not a {_WORDS.get(cast, 'valid value')}",
                        f"set {var} to a valid value, or unset it",
                    ) from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return replace(settings, data_dir=Path(settings.data_dir).expanduser())

    def check(self) -> None:
        """Refuse values that cannot work, naming the flag and the variable (UserError)."""
        limits = (
            ("sample_rate", "--sample-rate", "RIS_SAMPLE_RATE", 0.0, math.inf, False),
            ("min_face_size", "--min-face-size", "RIS_MIN_FACE_SIZE", 1, math.inf, True),
            ("min_face_prob", "--min-face-prob", "RIS_MIN_FACE_PROB", 0.0, 1.0, True),
            ("threshold", "--threshold", "RIS_THRESHOLD", 0.0, 1.0, True),
            ("possible_margin", "--possible-margin", "RIS_POSSIBLE_MARGIN", 0.0, 1.0, True),
            ("top", "--top", "", 1, math.inf, True),
            ("decode_timeout", "", "RIS_DECODE_TIMEOUT", 0.0, math.inf, False),
            ("decode_workers", "--decoders", "RIS_DECODE_WORKERS", 0, 256, True),
            ("frame_batch", "--frame-batch", "RIS_FRAME_BATCH", 0, 4096, True),
            ("face_batch", "", "RIS_FACE_BATCH", 0, 65536, True),
            ("detect_threads", "--detect-threads", "RIS_DETECT_THREADS", 0, 64, True),
            ("milvus_timeout", "", "RIS_MILVUS_TIMEOUT", 0.0, math.inf, False),
        )
        if self.face_upscale not in {u.value for u in FaceUpscale}:
            choices = " or ".join(u.value for u in FaceUpscale)
            raise UserError(f"RIS_FACE_UPSCALE must be {choices}, not {self.face_upscale!r}")
        for name, flag, var, low, high, closed in limits:
            value = getattr(self, name)
            if value is None:
                continue
            above = value >= low if closed else value > low
            if not (math.isfinite(value) and above and value <= high):
                where = " / ".join(w for w in (flag, var) if w)
                bound = f"at least {low}" if closed else f"more than {low}"
                span = bound if high == math.inf else f"from {low} to {high}"
                raise UserError(f"{where} must be a number {span}, not {value}")

    @property
    def match_threshold(self) -> float:
        return DEFAULT_THRESHOLD if self.threshold is None else self.threshold

    def possible_floor(self, threshold: float, margin: float | None = None) -> float | None:
        """The similarity down to which possible matches are listed below `threshold`; None
        when the margin is 0 (only matches)."""
        m = self.possible_margin if margin is None else margin
        return round(max(0.0, threshold - m), 4) if m > 0 else None

    def decoders(self, device: str = "cpu") -> int:
        """How many decoding workers an index run starts. With a GPU to detect and embed,
        decoding is the CPUs' work: one worker per core but the one this process needs. On
        the CPU, the models' threads need the cores: one worker per four."""
        if self.decode_workers > 0:
            return self.decode_workers
        cores = usable_cores()
        if device.startswith("cuda"):
            return max(1, min(32, cores - 1))
        return max(1, min(8, cores // 4))

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite"

    @property
    def vectors_path(self) -> Path:
        return self.data_dir / "faces.usearch"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "index.lock"
