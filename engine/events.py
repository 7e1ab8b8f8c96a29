"""What an index run reports, as it goes: small frozen messages, past tense."""

from __future__ import annotations

from dataclasses import dataclass

from engine.stage_clock import StageClock
from engine.vocabulary import MediaKind


@dataclass(frozen=True)
class IndexPlanned:
    files: int  # media files found under the paths
    to_index: int
    unchanged: int  # skipped: indexed before (or failed before) and not changed since
    removed: int  # gone from disk, dropped from the index
    total_bytes: int  # of the files to index
    moved: int = 0  # indexed before at another path (moved or renamed): not embedded again


@dataclass(frozen=True)
class ModelsLoaded:
    """The face models are ready for the run's work (they load after the plan is told)."""

    setup: str  # the device, decoders and batch size


@dataclass(frozen=True)
class FileIndexed:
    path: str
    kind: MediaKind
    samples: int
    faces: int


@dataclass(frozen=True)
class FileFailed:
    """A file that could not be indexed, and why (also what `ris status` lists)."""

    path: str
    reason: str


@dataclass(frozen=True)
class FileLeft:
    """A file this run worked on but did not commit: another indexer sharing the library took
    it over (this run's claim ran out while it was paused); that one commits it."""

    path: str
    reason: str


@dataclass(frozen=True)
class IndexProgressed:
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    frames: int
    faces: int
    current: str
    waiting: int = 0  # files of this run's plan other indexers hold (a shared catalog)
    # sampled frames the run will look at in all, as far as it can tell (0: not yet): the
    # samples of each file opened so far, each photo one, and the videos not yet opened at
    # the samples per byte of those that were; `frames` counts toward it
    frames_expected: int = 0


@dataclass(frozen=True)
class IndexFinished:
    indexed: int
    failed: int
    unchanged: int
    removed: int
    frames: int
    faces: int
    seconds: float
    stages: StageClock | None = None  # where the time went


IndexEvent = (
    IndexPlanned
    | ModelsLoaded
    | FileIndexed
    | FileFailed
    | FileLeft
    | IndexProgressed
    | IndexFinished
)
