"""One settings object, built at the entry point, with RIS_* environment overrides."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class Option:
    """One setting as people give it: the `Settings` field it sets, its RIS_* variable, its
    flag of the `ris` command, what kind of value it takes and within which limits, and the
    flag's help. Everything about a setting but its default (the field's) is written here."""

    name: str
    variable: str | None = None
    flag: str | None = None
    kind: type = str
    low: float | None = None  # None: no limits checked
    high: float = math.inf
    closed: bool = True  # whether `low` itself is allowed
    help: str | None = None

    @property
    def dest(self) -> str:
        """The flag's attribute on parsed arguments."""
        return (self.flag or "").lstrip("-").replace("-", "_")


# fmt: off
OPTIONS: tuple[Option, ...] = (
    Option("data_dir", "RIS_DATA_DIR", "--data-dir", Path,
           help="index and catalog folder (RIS_DATA_DIR; default ./data)"),
    Option("catalog", "RIS_CATALOG", "--catalog",
           help="postgresql://user@host/db keeps the catalog on PostgreSQL, shared by many "
           "machines (RIS_CATALOG, which keeps a password out of the process list; default: "
           "DATA_DIR/catalog.sqlite)"),
    Option("device", "RIS_DEVICE", "--device",
           help="auto, cpu, cuda or cuda:N (RIS_DEVICE; default auto)"),
    Option("weights", "RIS_FACENET_WEIGHTS", "--weights", Path,
           help="FaceNet InceptionResnetV1 state_dict (RIS_FACENET_WEIGHTS; default: the "
           "weights that built the index, else facenet-pytorch's vggface2 download)"),
    Option("sample_rate", "RIS_SAMPLE_RATE", "--sample-rate", float, 0.0, closed=False,
           help="video frames sampled per second (default 2)"),
    Option("min_face_size", "RIS_MIN_FACE_SIZE", "--min-face-size", int, 1,
           help="smallest face kept, in pixels (default 20)"),
    Option("min_face_prob", "RIS_MIN_FACE_PROB", "--min-face-prob", float, 0.0, 1.0,
           help="lowest detection probability kept (default 0.9)"),
    Option("threshold", "RIS_THRESHOLD", "--threshold", float, 0.0, 1.0,
           help=f"cosine similarity that counts as a match (default {DEFAULT_THRESHOLD})"),
    Option("possible_margin", "RIS_POSSIBLE_MARGIN", "--possible-margin", float, 0.0, 1.0,
           help="also list possible matches down to M below the threshold, after the matches "
           f"and marked as such (default {DEFAULT_POSSIBLE_MARGIN}; 0: matches only; "
           "RIS_POSSIBLE_MARGIN)"),
    Option("top", None, "--top", int, 1, help="videos and photos to list (default 20)"),
    Option("decode_timeout", "RIS_DECODE_TIMEOUT", None, float, 0.0, closed=False),
    Option("decode_workers", "RIS_DECODE_WORKERS", "--decoders", int, 0, 256,
           help="decoding processes (RIS_DECODE_WORKERS)"),
    Option("frame_batch", "RIS_FRAME_BATCH", "--frame-batch", int, 0, 4096,
           help="frames per detection batch (RIS_FRAME_BATCH)"),
    Option("detect_threads", "RIS_DETECT_THREADS", "--detect-threads", int, 0, 64,
           help="batches detected at once (RIS_DETECT_THREADS)"),
    Option("face_batch", "RIS_FACE_BATCH", None, int, 0, 65536),
    Option("face_margin", "RIS_FACE_MARGIN", None, int),
    Option("face_upscale", "RIS_FACE_UPSCALE", None, str),
    Option("backend", "RIS_BACKEND", "--backend",
           help="usearch (embedded file) or milvus (RIS_BACKEND); an index run makes it the "
           "library's store"),
    Option("milvus_uri", "RIS_MILVUS_URI", "--milvus-uri",
           help="a local path ending in .db runs Milvus Lite; http://host:19530 is a server "
           "(RIS_MILVUS_URI; default DATA_DIR/milvus.db)"),
    Option("milvus_token", "RIS_MILVUS_TOKEN", "--milvus-token",
           help="user:password or API key of a server with authentication (RIS_MILVUS_TOKEN, "
           "which keeps it out of the process list)"),
    Option("milvus_collection", "RIS_MILVUS_COLLECTION", "--milvus-collection",
           help="the library's collection (RIS_MILVUS_COLLECTION; ris_faces)"),
    Option("roots", "RIS_ROOTS", "--roots",
           help="where this machine mounts a shared library's roots: NAME=FOLDER[,...], the "
           "same names on every machine (a PostgreSQL catalog; RIS_ROOTS)"),
    Option("claim_lease", "RIS_CLAIM_LEASE", "--claim-lease", float, 1.0,
           help="seconds an indexer's claim on a file lasts unless renewed (a PostgreSQL "
           "catalog's shared work; RIS_CLAIM_LEASE; default 60)"),
    Option("milvus_timeout", "RIS_MILVUS_TIMEOUT", None, float, 0.0, closed=False),
    Option("milvus_index", "RIS_MILVUS_INDEX", None, str),
)
# fmt: on
_BY_NAME = {o.name: o for o in OPTIONS}


def option(name: str) -> Option:
    """The option that sets the `Settings` field `name`."""
    return _BY_NAME[name]


def add_flag(parser: Any, name: str, **extra: Any) -> None:
    """Add the flag of the setting `name` to an argparse parser or group, as the table says
    (each front end's flags for the engine's settings come from here)."""
    o = option(name)
    if o.flag is None:
        raise ValueError(f"the setting {name} has no flag")
    parser.add_argument(o.flag, type=None if o.kind is str else o.kind, help=o.help, **extra)


_WORDS = {int: "whole number", float: "number"}


def usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the host's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    catalog: str | None = None  # None: DATA_DIR/catalog.sqlite; postgresql://...: PostgreSQL
    roots: str | None = (
        None  # NAME=FOLDER,...: this machine's mount points (engine/library/roots.py)
    )
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
    claim_lease: float = 60.0  # seconds a claim on a file lasts unless its holder renews it
    milvus_timeout: float = 30.0  # seconds for one call to the server
    milvus_index: str = "AUTOINDEX"  # vector index type of a new collection (HNSW, IVF_FLAT...)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then RIS_* variables, then explicit overrides (None means not given)."""
        env = dict(os.environ) if env is None else env
        values: dict[str, object] = {}
        for o in OPTIONS:
            var = o.variable
            if var and env.get(var):
                try:
                    values[o.name] = o.kind(env[var])
                except ValueError:
                    raise UserError(
                        f"{var}={env[var]!r} is not a {_WORDS.get(o.kind, 'valid value')}",
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
        if self.catalog is not None and not self.catalog.startswith(
            ("postgresql://", "postgres://")
        ):
            raise UserError(
                "--catalog / RIS_CATALOG must be a postgresql:// URI",
                "leave it unset for the data directory's own SQLite catalog",
            )
        if self.face_upscale not in {u.value for u in FaceUpscale}:
            choices = " or ".join(u.value for u in FaceUpscale)
            raise UserError(f"RIS_FACE_UPSCALE must be {choices}, not {self.face_upscale!r}")
        for o in OPTIONS:
            value, low, high = getattr(self, o.name), o.low, o.high
            if value is None or low is None:
                continue
            above = value >= low if o.closed else value > low
            if not (math.isfinite(value) and above and value <= high):
                where = " / ".join(w for w in (o.flag, o.variable) if w)
                bound = f"at least {low}" if o.closed else f"more than {low}"
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

    # The data directory's files, named here only: the catalog (and SQLite's -wal and -shm
    # beside it), the usearch vectors (and their sidecar faces.json), the writer lock, a Milvus
    # Lite database when that is the store (ris-tui keeps its query history there too).
    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite"

    @property
    def vectors_path(self) -> Path:
        return self.data_dir / "faces.usearch"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "index.lock"

    @property
    def milvus_lite_path(self) -> Path:
        return self.data_dir / "milvus.db"
