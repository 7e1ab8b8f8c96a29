"""Which FaceNet weights to use, and how they are named in the catalog."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import MissingWeightsError

VGGFACE2 = "facenet-pytorch:vggface2"


@dataclass(frozen=True)
class Weights:
    """A weights choice: facenet-pytorch's vggface2 download, or a local state_dict file."""

    id: str  # recorded in the catalog: 'facenet-pytorch:vggface2' or 'sha256:<hex>'
    path: Path | None  # None for the vggface2 download

    @property
    def label(self) -> str:
        return "vggface2 (facenet-pytorch download)" if self.path is None else str(self.path)


def file_weights(path: Path) -> Weights:
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise MissingWeightsError(
            f"FaceNet weights not found: {path}",
            "set --weights or RIS_FACENET_WEIGHTS to an InceptionResnetV1 state_dict file",
        )
    return Weights(_digest(path), path)


def _digest(path: Path) -> str:
    """'sha256:<hex>' of the file, hashed again only when its size, time or inode changed
    since the last time (a user cache, `$XDG_CACHE_HOME/ris/weights.json`): hashing the
    110 MB file took 0.2 s of every cold search."""
    st = path.stat()
    stamp = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev]
    cache = _cache_path()
    try:
        known = json.loads(cache.read_text())
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    entry = known.get(str(path))
    if isinstance(entry, dict) and entry.get("stamp") == stamp and entry.get("id"):
        return str(entry["id"])
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    found = f"sha256:{digest.hexdigest()}"
    known[str(path)] = {"stamp": stamp, "id": found}
    try:  # a cache that cannot be written only costs the next run a hash
        cache.parent.mkdir(parents=True, exist_ok=True)
        part = cache.with_name(f".{cache.name}.{os.getpid()}")
        part.write_text(json.dumps(known))
        part.replace(cache)
    except OSError:
        pass
    return found


def _cache_path() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "ris" / "weights.json"


def resolve_weights(
    explicit: Path | None, recorded_id: str | None, recorded_path: str | None
) -> Weights:
    """The weights to use: the explicit path; else those that built the index; else vggface2."""
    if explicit is not None:
        return file_weights(explicit)
    if recorded_id and recorded_id != VGGFACE2 and recorded_path:
        if Path(recorded_path).is_file():
            return file_weights(Path(recorded_path))
        raise MissingWeightsError(
            f"the index was built with weights that are gone: {recorded_path}",
            "put the file back, or point --weights / RIS_FACENET_WEIGHTS at a copy",
        )
    return Weights(VGGFACE2, None)
