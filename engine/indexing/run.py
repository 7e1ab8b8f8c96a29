"""The indexing pipeline: find files, decode them ahead in a worker, detect and embed faces,
and commit each file's faces in one transaction. A cancellable generator of events.

Stopping at any point (Ctrl-C, a closed generator, a killed process) loses no committed work:
each file is all-or-nothing in the catalog, and the vector index catches up on the next open.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from engine.appearances.frame_sketches import FrameSketches
from engine.appearances.tracking import assign_tracks
from engine.errors import ClaimLost, StoreError
from engine.events import (
    FileFailed,
    FileIndexed,
    FileLeft,
    IndexEvent,
    IndexFinished,
    IndexPlanned,
    IndexProgressed,
    ModelsLoaded,
)
from engine.library.catalog import Catalog, Fence, FileRecord
from engine.library.claims import MAX_ATTEMPTS, Claims
from engine.library.stores.base import Entries, VectorStore, apply_change, level
from engine.media.decoding import Decoder
from engine.media.finding import MediaFile, WalkProblem, supported_types, walk
from engine.media.fingerprint import fingerprint
from engine.media.sampling import MediaInfo
from engine.models.face_models import FaceModels
from engine.models.faces import FramesRead, NewFace, faces_by_file
from engine.stage_clock import StageClock
from engine.vocabulary import FileStatus, MediaKind


@dataclass
class Plan:
    to_index: list[MediaFile] = field(default_factory=list)
    rejected: list[tuple[MediaFile | WalkProblem, str]] = field(default_factory=list)
    unreadable: list[WalkProblem] = field(default_factory=list)  # reported; what is indexed stays
    unchanged: int = 0
    vanished: list[str] = field(default_factory=list)
    moved: list[tuple[str, MediaFile]] = field(default_factory=list)  # (recorded path, now)
    found: int = 0


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip(os.sep) + os.sep)


def plan(roots: Sequence[Path], catalog: Catalog, retry_failed: bool, skip: Sequence[Path]) -> Plan:
    """What a run must do: new and changed files to index, bad ones to record, vanished to drop.

    A file or folder that cannot be read now is not gone: what the catalog holds under it is
    kept (and reported); only one the catalog has never seen is recorded as failed.
    """
    p = Plan()
    seen: set[str] = set()
    fresh: list[MediaFile] = []  # to index, and at a path the catalog has never held
    records = catalog.files()
    for item in walk(roots, skip):
        if str(item.path) in seen:
            continue  # overlapping roots (`ris index media media/2024`): each file once
        p.found += 1
        seen.add(str(item.path))
        if isinstance(item, WalkProblem):
            if any(_under(r.path, str(item.path)) for r in records):
                p.unreadable.append(item)
            else:
                p.rejected.append((item, item.reason))
            continue
        old = catalog.file(str(item.path))
        if (
            old
            and (old.size, old.mtime_ns) == (item.size, item.mtime_ns)
            and (old.status == FileStatus.INDEXED or not retry_failed)
        ):
            p.unchanged += 1
        elif item.kind == MediaKind.UNKNOWN:
            p.rejected.append(
                (item, f"not a supported photo or video type (ris reads {supported_types()})")
            )
        elif item.size == 0:
            p.rejected.append((item, "empty file (0 bytes)"))
        else:
            p.to_index.append(item)
            if old is None:
                fresh.append(item)
    prefixes = [str(Path(r).expanduser().resolve()) for r in roots]
    for folder in prefixes:  # an empty mount point is a share not mounted, not a deletion
        held = sum(1 for r in records if _under(r.path, folder))
        if held and os.path.isdir(folder) and not any(_under(x, folder) for x in seen):
            with suppress(OSError):
                if not any(os.scandir(folder)):
                    p.unreadable.append(
                        WalkProblem(
                            Path(folder),
                            f"the folder is empty, though {held} indexed files were in it: "
                            "is its share or disk mounted?",
                        )
                    )
    kept = [str(u.path) for u in p.unreadable]
    for rec in records:
        if (
            any(_under(rec.path, pre) for pre in prefixes)
            and rec.path not in seen
            and not any(_under(rec.path, k) for k in kept)
        ):
            p.vanished.append(rec.path)
    if fresh:
        _recognise_moves(p, fresh, records, prefixes, catalog)
    return p


def _recognise_moves(
    p: Plan,
    fresh: list[MediaFile],
    records: list[FileRecord],
    prefixes: list[str],
    catalog: Catalog,
) -> None:
    """New paths that are indexed files moved or renamed: taken off the work, their records to
    be moved. A candidate is a record gone from its path: one this run would drop, or one
    outside its folders whose folder is there and the file not (a file moved in from a folder
    not given). A record whose folder is gone too is left alone: it may be on a share not
    mounted now."""
    gone = set(p.vanished)
    sizes = {f.size for f in fresh}
    candidates = [
        r.path
        for r in records
        if r.size in sizes
        and r.status == FileStatus.INDEXED
        and (
            r.path in gone
            or (
                os.path.isabs(r.path)
                and not any(_under(r.path, pre) for pre in prefixes)
                and os.path.isdir(os.path.dirname(r.path))
                and not os.path.lexists(r.path)
            )
        )
    ]
    if not candidates:
        return
    size_of = {r.path: r.size for r in records}
    waiting: dict[tuple[int, bytes], list[str]] = {}
    for path, print_ in sorted(catalog.fingerprints(candidates).items()):
        waiting.setdefault((size_of[path], print_), []).append(path)
    waiting_sizes = {size for size, _ in waiting}
    for f in fresh:
        if f.size not in waiting_sizes:
            continue
        now = fingerprint(f.path)
        olds = waiting.get((f.size, now)) if now else None
        if olds:
            old = olds.pop(0)
            p.moved.append((old, f))
            p.to_index.remove(f)
            if old in gone:
                p.vanished.remove(old)


STARTING = "loading the face models…"  # the first progress of a run, before any frame


class FrameEstimate:
    """How many sampled frames a run will look at in all: exact for the files opened so far
    (their samples; what a file ended with, once it has) and for photos (one each); for the
    videos not yet opened, their bytes at the samples per byte of the videos that were."""

    def __init__(self, files: Sequence[MediaFile], before: int = 0) -> None:
        self.before = before  # frames counted before these files (an earlier batch)
        self.photos = sum(1 for f in files if f.kind == MediaKind.IMAGE)
        self.video_bytes = sum(f.size for f in files if f.kind != MediaKind.IMAGE)
        self.samples: dict[Path, int] = {}  # each video opened: its samples
        self.sizes: dict[Path, int] = {}

    def opened(self, f: MediaFile, samples: int) -> None:
        if f.kind != MediaKind.IMAGE and f.path not in self.samples:
            self.samples[f.path], self.sizes[f.path] = samples, f.size

    def ended(self, f: MediaFile, frames: int) -> None:
        """A video is done: what it was read to counts, not what it was expected to hold."""
        if f.kind != MediaKind.IMAGE:
            self.samples[f.path], self.sizes[f.path] = frames, f.size

    def total(self) -> int:
        """0 while there are videos and none has been opened: nothing to go on yet."""
        seen_bytes = sum(self.sizes.values())
        if self.video_bytes and not seen_bytes:
            return 0
        seen = sum(self.samples.values())
        rest = max(0, self.video_bytes - seen_bytes) * seen / seen_bytes if seen_bytes else 0
        return self.before + self.photos + seen + round(rest)


class Indexer:
    def __init__(
        self,
        catalog: Catalog,
        vectors: VectorStore,
        models: FaceModels,
        decoder: Decoder,
        save_every: float = 30.0,
        claims: Claims | None = None,
        retry_failed: bool = False,
    ) -> None:
        self.catalog = catalog
        self.vectors = vectors
        self.models = models
        self.decoder = decoder
        self.save_every = save_every
        self.clock = StageClock()  # where the run's time went (IndexFinished.stages)
        # shared work (a PostgreSQL library): each file is claimed just before it is decoded
        self.claims = claims
        self.retry_failed = retry_failed
        self._fences: dict[str, Fence] = {}  # path -> the claim its commit is made under
        self._elsewhere: list[MediaFile] = []  # planned files another indexer held
        self._given_up: list[FileFailed] = []  # files whose claims kept running out
        self._done = 0  # files of the plan done, here or by another indexer

    def run(self, work: Plan) -> Iterator[IndexEvent]:
        t0 = time.monotonic()
        moved = self._move(work)
        total_bytes = sum(f.size for f in work.to_index)
        yield IndexPlanned(
            work.found,
            len(work.to_index),
            work.unchanged,
            len(work.vanished),
            total_bytes,
            moved,
        )
        if work.to_index:  # the models load now: said first (they take seconds), then where
            if not self.models.loaded:
                yield IndexProgressed(0, len(work.to_index), 0, total_bytes, 0, 0, STARTING)
            yield ModelsLoaded(
                f"{self.models.device}, {self.decoder.workers} decoders, "
                f"{self.models.frame_batch} frames per detection batch, "
                f"{self.models.detect_threads} detecting"
            )
        # caught up with the catalog: after a crash, another run, or (a store many indexers
        # write) what they queued and did not carry
        level(self.vectors, self.catalog)
        if work.vanished:
            apply_change(self.vectors, self.catalog, self.catalog.remove(work.vanished), None)
        failed = 0
        for item, reason in work.rejected:
            yield self._fail(item, reason)
            failed += 1
        for problem in work.unreadable:
            yield FileFailed(str(problem.path), f"{problem.reason}; what was indexed there is kept")
            failed += 1
        counts = {"indexed": 0, "frames": 0, "faces": 0, "bytes": 0}
        last_save = time.monotonic()
        total = len(work.to_index)
        try:
            batch = work.to_index
            while batch:  # what this run indexes, then what others held and left undone
                for event in self._files(batch, counts, total, total_bytes):
                    if isinstance(event, FileFailed):
                        failed += 1
                    elif isinstance(event, FileIndexed):
                        counts["indexed"] += 1
                    yield event
                    if time.monotonic() - last_save > self.save_every:
                        with self.clock.busy_in("store"):
                            self.vectors.save()
                        last_save = time.monotonic()
                batch = yield from self._wait_for_others(counts, total, total_bytes)
        except BaseException:  # Ctrl-C, a closed generator, a store that went away
            with suppress(StoreError):  # the error in flight says more
                self.vectors.save()
            raise
        with self.clock.busy_in("store"):
            self.vectors.save()
        yield IndexFinished(
            counts["indexed"],
            failed,
            work.unchanged,
            len(work.vanished),
            counts["frames"],
            counts["faces"],
            time.monotonic() - t0,
            self.clock,
        )

    def _claimed(self, files: list[MediaFile]) -> Iterator[MediaFile]:
        """The files this run may index, claimed one by one as the decoders need them: a file
        another indexer holds is left to it (and waited for at the end), one it finished
        meanwhile is skipped, one whose claims kept running out is given up."""
        assert self.claims is not None
        for f in files:
            got = self.claims.claim(str(f.path))
            if got is None:
                self._elsewhere.append(f)
                continue
            fence, attempts = got
            if self._finished(f):
                self.claims.release(str(f.path))
                self._done += 1
                continue
            if attempts > MAX_ATTEMPTS:
                reason = (
                    f"given up after {MAX_ATTEMPTS} indexers stopped while indexing it (killed, "
                    "out of memory?); --retry-failed tries it again"
                )
                self._fences[str(f.path)] = fence
                self._given_up.append(self._fail(f, reason))
                self._done += 1
                continue
            self._fences[str(f.path)] = fence
            yield f

    def _finished(self, f: MediaFile) -> bool:
        """Whether the catalog holds this very file (same size and time) as done."""
        rec = self.catalog.file(str(f.path))
        return (
            rec is not None
            and (rec.size, rec.mtime_ns) == (f.size, f.mtime_ns)
            and (rec.status == FileStatus.INDEXED or not self.retry_failed)
        )

    def _wait_for_others(
        self, counts: dict[str, int], total: int, total_bytes: int
    ) -> Generator[IndexEvent, None, list[MediaFile]]:
        """Wait while other indexers hold files of this run's plan; what they leave undone
        (their claims ran out: killed) comes back, for this run to claim and index."""
        while self._elsewhere:
            assert self.claims is not None  # only a claiming run leaves files elsewhere
            held = self.claims.held_elsewhere([str(f.path) for f in self._elsewhere])
            waiting, undone = [], []
            for f in self._elsewhere:
                if str(f.path) in held:
                    waiting.append(f)
                elif self._finished(f):
                    self._done += 1
                else:
                    undone.append(f)
            self._elsewhere = waiting
            if undone:
                return undone
            if waiting:
                yield IndexProgressed(
                    self._done,
                    total,
                    counts["bytes"],
                    total_bytes,
                    counts["frames"],
                    counts["faces"],
                    f"waiting for {len(waiting)} files other indexers are indexing",
                    len(waiting),
                )
                time.sleep(1.0)
        return []

    def _files(
        self, files: list[MediaFile], counts: dict[str, int], total: int, total_bytes: int
    ) -> Iterator[IndexEvent]:
        if not files:
            return  # nothing to embed: the models are never loaded
        reading: dict[int, float] = {}  # bytes of the files in flight already looked at
        expect = FrameEstimate(files, counts["frames"])
        found = 0  # faces seen, committed or not
        models = self.models
        source = files if self.claims is None else self._claimed(files)
        reads = faces_by_file(
            self.decoder.decode(source),
            models,
            models.frame_batch,
            self.clock,
            models.detect_threads,
        )
        for read in reads:
            if isinstance(read, FramesRead):
                f, info = read.file, read.file.info
                assert info is not None
                reading[id(f)] = f.file.size * min(1.0, f.frames / max(info.samples, 1))
                expect.opened(f.file, info.samples)
                counts["frames"] += read.frames
                found += read.faces
                current = str(f.file.path)
            else:
                reading.pop(id(read), None)
                expect.ended(read.file, read.frames)
                self._done += 1
                counts["bytes"] += read.file.size
                with self.clock.busy_in("store"):
                    try:
                        if read.error is None and read.info is not None and read.ended:
                            outcome: IndexEvent = self._commit(
                                read.file, read.info, read.faces, read.sketches()
                            )
                            counts["faces"] += len(read.faces)
                        else:
                            found -= len(read.faces)
                            outcome = self._fail(read.file, read.error or "decoding ended early")
                    except ClaimLost as lost:
                        found -= len(read.faces)
                        outcome = FileLeft(str(read.file.path), lost.title)
                yield outcome
                current = str(read.file.path)
            while self._given_up:
                yield self._given_up.pop(0)
            yield IndexProgressed(
                self._done,
                total,
                counts["bytes"] + int(sum(reading.values())),
                total_bytes,
                counts["frames"],
                found,
                current,
                frames_expected=expect.total(),
            )

    def _commit(
        self,
        f: MediaFile,
        info: MediaInfo,
        faces: list[NewFace],
        sketches: FrameSketches | None = None,
    ) -> FileIndexed:
        if faces and info.step:
            times = np.asarray([x.t for x in faces])
            vectors = np.stack([x.vector for x in faces])
            boxes = np.asarray([x.box for x in faces], dtype=np.float64)
            tracks = assign_tracks(times, vectors, info.step, boxes, sketches)
            faces = [replace(x, track=int(k)) for x, k in zip(faces, tracks, strict=True)]
        else:  # a photo: each face is an appearance of its own (never averaged with the others)
            faces = [replace(x, track=k) for k, x in enumerate(faces)]
        file_id, removed, new = self.catalog.save_indexed(
            str(f.path),
            f.size,
            f.mtime_ns,
            info,
            faces,
            self._fence(str(f.path)),
            fingerprint(f.path),
            sketches.cuts() if sketches is not None and info.step else None,
        )
        added = None
        if faces:  # the vectors in hand, with the fields a store keeps beside them
            added = Entries(
                new,
                np.stack([x.vector for x in faces]).astype(np.float32),
                np.full(len(new), file_id, np.int64),
                np.asarray([x.track for x in faces], np.int64),
                np.asarray([x.t for x in faces]),
            )
        apply_change(self.vectors, self.catalog, removed, added)
        return FileIndexed(str(f.path), f.kind, info.samples, len(faces))

    def _move(self, work: Plan) -> int:
        """Moves the records of the plan's moved files to their new paths (their faces and
        vectors are kept: nothing is embedded again); how many moved. One that cannot (another
        indexer moved or indexed it first) is indexed, unless it is recorded by now."""
        moved = 0
        for old, f in work.moved:
            if self.catalog.move(old, str(f.path), f.mtime_ns):
                moved += 1
            elif self.catalog.file(str(f.path)) is None:
                work.to_index.append(f)
        return moved

    def _fence(self, path: str) -> Fence | None:
        """The claim a file's commit is made under (None: no shared work), no longer renewed:
        the commit ends it, or finds it lost."""
        if self.claims is not None:
            self.claims.done(path)
        return self._fences.pop(path, None)

    def _fail(self, item: MediaFile | WalkProblem, reason: str) -> FileFailed:
        size, mtime, kind = (
            (item.size, item.mtime_ns, item.kind)
            if isinstance(item, MediaFile)
            else (0, 0, MediaKind.UNKNOWN)
        )
        removed = self.catalog.save_failed(
            str(item.path), kind, size, mtime, reason, self._fence(str(item.path))
        )
        apply_change(self.vectors, self.catalog, removed, None)
        return FileFailed(str(item.path), reason)
