"""The engine's facade and composition root: the one door the CLI, the TUI and the tests use.

engine = build_engine(Settings.from_env())
for event in engine.index([Path("videos")]): ...
result = engine.search(Path("photo.jpg"))

Evaluation, benchmarks and white-box tests that must look inside use `engine.internals`, an
explicit view of the parts; front ends never do.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import (
    CatalogError,
    EngineError,
    IndexBusyError,
    NothingIndexed,
    QueryError,
    StoreError,
    UserError,
    WeightsMismatchError,
)
from engine.events import FileFailed, IndexEvent
from engine.library.catalog import Catalog
from engine.library.catalogs import (
    catalog_exists,
    catalog_name,
    indexing_lock,
    on_postgres,
    open_catalog,
    reported,
    writer_lock,
)
from engine.library.claims import Claims
from engine.library.people_records import PeopleRecords
from engine.library.repair import (
    CheckReport,
    RepairReport,
    VectorRepair,
    catalog_problems,
    check_vectors,
    repair_vectors,
    salvage,
)
from engine.library.roots import Roots
from engine.library.stores.base import (
    VectorStore,
    apply_change,
    enrolled,
    follows_outbox,
    level,
    reconcile,
)
from engine.library.stores.choice import StoreChoice, choose, open_store, record
from engine.library.stores.pending import WithPending
from engine.media.sampling import SampleOptions
from engine.models.face_models import FaceModels, resolve_device
from engine.models.weights import Weights, resolve_weights
from engine.people.listing import list_people
from engine.people.roster import update_people
from engine.printable_names import printable
from engine.results import (
    Appearance,
    IndexedFile,
    LibraryStatus,
    Migration,
    Moment,
    PeopleList,
    Person,
    QueryFace,
    QueryInfo,
    SearchResult,
    as_box,
)
from engine.search.face_listing import FileFaces, list_faces
from engine.search.matching import file_infos, match_appearances
from engine.search.query import Query, read_query, together
from engine.search.ranking import Matches, rank
from engine.settings import Settings
from engine.vocabulary import FaceUpscale, FileStatus, LibraryKey, MediaKind

if TYPE_CHECKING:
    from engine.library.catalog_copy import CatalogCopy

Notify = Callable[[str], None]


class Engine:
    def __init__(
        self,
        settings: Settings,
        models: FaceModels | None = None,
        notify: Notify = lambda text: None,
    ) -> None:
        self.settings = settings
        self._notify = notify  # told of slow first-time work (a weights download)
        self._models = models
        self._catalog: Catalog | None = None
        self._store: VectorStore | None = None
        self._device: str | None = None

    # parts, opened on first use ------------------------------------------------------------
    def _get_catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = open_catalog(self.settings)
        return self._catalog

    @property
    def store_choice(self) -> StoreChoice:
        """The vector store this engine uses: asked for, else the library's, else usearch."""
        return choose(self.settings, self._get_catalog() if self.exists() else None)

    def _get_store(self) -> VectorStore:
        """The vector store, opened for searching (a missing Milvus collection is an error)."""
        if self._store is None:
            self._store = open_store(
                self.store_choice, self.settings, self._get_catalog(), create=False
            )
        return self._store

    def _get_models(self) -> FaceModels:
        if self._models is None:
            s = self.settings
            self._models = FaceModels(
                self._weights(),
                self.device,
                s.min_face_size,
                s.min_face_prob,
                s.face_batch,
                s.face_margin,
                self._notify,
                s.frame_batch,
                s.detect_threads,
                self._upscale(),
            )
        return self._models

    @property
    def device(self) -> str:
        """The device the settings name, resolved once for this engine ("auto" becomes "cpu"
        or "cuda"): the models run on it and the decoders are counted for it."""
        if self._device is None:
            self._device = resolve_device(self.settings.device)
        return self._device

    def _upscale(self) -> FaceUpscale:
        """How this library enlarges small face crops: as recorded; a library with faces and no
        record predates the choice and enlarged by area; a new one takes the setting."""
        catalog = self._get_catalog() if self.exists() else None
        recorded = catalog.meta(LibraryKey.FACE_UPSCALE) if catalog else None
        if recorded:
            return FaceUpscale(recorded)
        if catalog is not None and catalog.has_faces():
            return FaceUpscale.AREA
        return FaceUpscale(self.settings.face_upscale)

    def _weights(self) -> Weights:
        """The weights to embed with, refused if the index was built with others."""
        catalog = self._get_catalog() if self.exists() else None
        recorded = catalog.meta(LibraryKey.WEIGHTS_ID) if catalog else None
        path = catalog.meta(LibraryKey.WEIGHTS_PATH) if catalog and recorded else None
        weights = resolve_weights(self.settings.weights, recorded, path)
        if recorded and catalog and weights.id != recorded and catalog.has_faces():
            raise WeightsMismatchError(
                f"this index was built with other FaceNet weights ({path or recorded})",
                "search with the same --weights, or index into another --data-dir",
            )
        return weights

    @property
    def internals(self) -> EngineInternals:
        """The parts, for evaluation, benchmarks and white-box tests (not for front ends)."""
        return EngineInternals(self)

    @property
    def sample_options(self) -> SampleOptions:
        s = self.settings
        return SampleOptions(s.sample_rate, s.min_frames, s.max_frame_side)

    @property
    def models_loaded(self) -> bool:
        return self._models is not None and self._models.loaded

    def load_models(self) -> str:
        """Load the face models now rather than at the first search; the device they run on."""
        models = self._get_models()
        models.load_photo_models()
        return models.device

    def models_current(self) -> bool:
        """Whether the loaded models (if any) embed with the weights this library would be
        searched with now: False once the weights file at their path was replaced, or when
        those weights are missing or refused (an in-process command then says why)."""
        if self._models is None:
            return True
        try:
            return self._models.weights.id == self._weights().id  # by what they are
        except EngineError:
            return False

    @property
    def models(self) -> FaceModels | None:
        """The face models, once loaded (None before)."""
        return self._models if self.models_loaded else None

    def share_models(self, models: FaceModels) -> bool:
        """Use `models`, loaded by another engine, if they embed as this library needs (its
        weights, its way of enlarging small faces; else this engine loads its own on first
        use); True if they are used."""
        if self._models is None:
            try:
                wanted = self._weights()
            except EngineError:  # the search says why, as it would have
                return False
            if models.weights == wanted and models.upscale == self._upscale():
                self._models = models
        return self._models is models

    def open_library(self) -> None:
        """Open the catalog and the vector store now, caught up, rather than at the first
        search (a resident engine does this before it answers)."""
        if self.exists():
            with reported(self.settings):
                self._catch_up()

    def exists(self) -> bool:
        if self.settings.catalog is not None and self._catalog is not None:
            return True  # open: its schema is there (no new connection per search to ask)
        data_dir = self.settings.data_dir
        if self.settings.catalog is None and data_dir.exists() and not data_dir.is_dir():
            raise UserError(
                f"the data directory {data_dir} is a file, not a folder",
                "--data-dir (RIS_DATA_DIR) names the folder that holds a library",
            )
        try:
            return catalog_exists(self.settings)
        except PermissionError:
            raise _not_yours(self.settings.data_dir) from None

    def close(self) -> None:
        if self._store is not None:
            store, self._store = self._store, None
            store.close()
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    # work -------------------------------------------------------------------------------------
    def index(
        self, paths: Sequence[Path], retry_failed: bool = False
    ) -> Generator[IndexEvent, None, None]:
        """Add or update everything under `paths`; yields progress. Holds the writer lock.

        The run has its own catalog connection and store, so searches of this engine may go on
        meanwhile and see each file once it is committed.
        """
        from engine.indexing.run import Indexer, plan
        from engine.media.decoding import Decoder

        _require(paths)
        with indexing_lock(self.settings), reported(self.settings):
            catalog = open_catalog(self.settings)
            if catalog.read_only:
                catalog.close()
                raise UserError(
                    f"the catalog {catalog.path} is read-only for this process",
                    "indexing needs write access to the data directory; searches work read-only",
                )
            store: VectorStore | None = None
            claims: Claims | None = None
            try:
                # a store other processes see (Milvus) is shared with this engine's searches
                shared = self._store if self._store is not None and self._store.shared else None
                choice = choose(self.settings, catalog)
                store = shared or open_store(choice, self.settings, catalog, create=True)
                record(choice, catalog)  # an unreachable server has failed before any work
                models = self._get_models()
                work = plan(paths, catalog, retry_failed, skip=[self.settings.data_dir])
                if work.to_index:
                    self._record_weights(catalog, models.weights)
                decoder = Decoder(
                    self.sample_options,
                    timeout=self.settings.decode_timeout,
                    workers=self.settings.decoders(self.device),
                )
                if self.settings.catalog is not None:  # shared with other indexers
                    claims = Claims(
                        self.settings.catalog,
                        self.settings.claim_lease,
                        Roots.parse(self.settings.roots),
                    )
                indexer = Indexer(
                    catalog, store, models, decoder, self.settings.save_every, claims, retry_failed
                )
                yield from indexer.run(work)
            finally:
                if claims is not None:
                    claims.close()
                if store is not None and store is not self._store:
                    with suppress(StoreError):
                        store.close()
                catalog.close()

    def _record_weights(self, catalog: Catalog, weights: Weights) -> None:
        """What makes embeddings comparable: the weights and the crop margin (the index keeps it)."""
        if catalog.meta(LibraryKey.WEIGHTS_ID) != weights.id:
            catalog.set_meta(LibraryKey.WEIGHTS_ID, weights.id)
            catalog.set_meta(LibraryKey.WEIGHTS_PATH, str(weights.path or ""))
        if catalog.meta(LibraryKey.FACE_MARGIN) is None:
            catalog.set_meta(LibraryKey.FACE_MARGIN, str(self.settings.face_margin))
        if catalog.meta(LibraryKey.FACE_UPSCALE) is None:
            catalog.set_meta(LibraryKey.FACE_UPSCALE, self._get_models().upscale.value)

    def indexed_files(self) -> tuple[IndexedFile, ...]:
        """Every indexed file, by path, with its faces and length."""
        with reported(self.settings):
            if not self.exists():
                return ()
            files = self._get_catalog().files(FileStatus.INDEXED)
            return tuple(
                IndexedFile(f.path, f.kind, f.faces, f.duration, not _gone(f.path)) for f in files
            )

    def appearances(self, path: str) -> tuple[Appearance, ...]:
        """The appearances of faces in an indexed file, in time order (none: not indexed)."""
        with reported(self.settings):
            catalog = self._get_catalog()
            record = catalog.file(path)
            if record is None or record.status != FileStatus.INDEXED:
                return ()
            rows = catalog.file_faces(record.id)
            out = []
            for track in np.unique(rows.tracks):
                at = np.flatnonzero(rows.tracks == track)
                boxes = rows.boxes[at]
                areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
                big = int(at[int(np.argmax(areas))])
                faces = tuple(
                    Moment(float(rows.times[i]), as_box(rows.boxes[i]), 0.0)
                    for i in sorted(at.tolist(), key=lambda i: float(rows.times[i]))
                )
                face = Moment(float(rows.times[big]), as_box(rows.boxes[big]), 0.0)
                out.append(Appearance(faces[0].t, faces[-1].t, faces, face))
            return tuple(sorted(out, key=lambda a: (a.start, a.end)))

    def shot_cuts(self, path: str) -> tuple[float, ...]:
        """The shot cuts (seconds) an index run found in a video; none for a photo, or a video
        indexed before they were kept."""
        with reported(self.settings):
            catalog = self._get_catalog()
            record = catalog.file(path)
            if record is None:
                return ()
            return tuple(round(float(c), 3) for c in catalog.cuts([record.id]).get(record.id, ()))

    def forget(self, paths: Sequence[str]) -> int:
        """Take files out of the index (their faces and vectors); the files themselves are not
        touched, and the next run over their folder indexes them again. How many were held."""
        with indexing_lock(self.settings), reported(self.settings):
            catalog = open_catalog(self.settings)
            store: VectorStore | None = None
            try:
                if catalog.read_only:
                    raise UserError(
                        f"the catalog {catalog.path} is read-only for this process",
                        "taking files out of the index needs write access to the data directory",
                    )
                held = [p for p in paths if catalog.file(p) is not None]
                if not held:
                    return 0
                shared = self._store if self._store is not None and self._store.shared else None
                choice = choose(self.settings, catalog)
                store = shared or open_store(choice, self.settings, catalog, create=True)
                level(store, catalog)
                apply_change(store, catalog, catalog.remove(held), None)
                store.save()
                return len(held)
            finally:
                if store is not None and store is not self._store:
                    with suppress(StoreError):
                        store.close()
                catalog.close()

    # people across the library (engine/people/) ----------------------------------------------
    def people(self, update: bool = True) -> PeopleList:
        """Everyone found across the library, most time on screen first; brought up to date
        with the library first (`update`, where this process may write the catalog)."""
        with self._people_catalog() as catalog:
            updated = False
            if update and not catalog.read_only:
                update_people(catalog)
                updated = True
            return list_people(catalog, updated, detail=set())

    def person(self, ref: str) -> Person:
        """One person (an id, or a name), with their files and segments."""
        with self._people_catalog() as catalog:
            key = self._person_id(catalog, ref)
            return self._listed(catalog, key)

    def name_person(self, ref: str, name: str | None) -> Person:
        """Give a person a name (None: take it away); stored as given."""
        with self._people_catalog(write=True) as catalog:
            key = self._person_id(catalog, ref)
            PeopleRecords(catalog).name(key, name)
            return self._listed(catalog, key)

    def merge_people(self, into: str, other: str) -> Person:
        """`other`'s appearances become `into`'s for good; `other` is gone."""
        with self._people_catalog(write=True) as catalog:
            a, b = self._person_id(catalog, into), self._person_id(catalog, other)
            if a == b:
                raise UserError(f"{into} and {other} are the same person", "name two people")
            PeopleRecords(catalog).merge(a, b)
            return self._listed(catalog, a)

    def take_out(self, ref: str, path: str, t: float | None = None) -> Person:
        """Take the person's appearance in `path` (at `t` seconds in a video; its only one,
        else) out of them for good: it is not theirs, and no update puts it back."""
        with self._people_catalog(write=True) as catalog:
            key = self._person_id(catalog, ref)
            records = PeopleRecords(catalog)
            stored = records.stored()
            record = catalog.file(str(Path(path).resolve())) or catalog.file(path)
            rows = (
                np.flatnonzero((stored.people == key) & (stored.files == record.id))
                if record is not None
                else np.zeros(0, np.int64)
            )
            if not len(rows):
                raise UserError(
                    f"person {key} does not appear in {path}",
                    f"`ris people show {key}` lists their files",
                )
            if t is not None:
                at = rows[(stored.starts[rows] <= t) & (stored.ends[rows] >= t)]
                if not len(at):
                    raise UserError(
                        f"person {key} is not on screen in {path} at {t:g} s",
                        f"`ris people show {key}` lists their segments",
                    )
                rows = at[:1]
            elif len(rows) > 1:
                raise UserError(
                    f"person {key} appears {len(rows)} times in {path}",
                    "say which with --at SECONDS",
                )
            for row in rows.tolist():
                records.take_out(int(stored.files[row]), int(stored.tracks[row]))
            return self._listed(catalog, key)

    def person_query(self, ref: str) -> Query:
        """A query standing for a person: the mean of their appearances (their template),
        searched for as a photo's face is."""
        with self._people_catalog() as catalog:
            key = self._person_id(catalog, ref)
            template = next(p.template for p in PeopleRecords(catalog).people() if p.id == key)
            shown = self._listed(catalog, key)
        if template is None:
            raise UserError(f"person {key} has no appearances to search with")
        vector = (template / max(float(np.linalg.norm(template)), 1e-12)).astype(np.float32)
        label = f"person {key}" + (f" ({shown.name})" if shown.name else "")
        face = QueryFace(1, shown.face_box, shown.face_t, 1.0, shown.appearances)
        return Query(label, MediaKind.IMAGE, (face,), vector[None, :])

    @contextlib.contextmanager
    def _people_catalog(self, write: bool = False) -> Iterator[Catalog]:
        with reported(self.settings):
            if not self.exists():
                raise NothingIndexed(
                    f"nothing is indexed in {self.settings.data_dir}",
                    "run `ris index FOLDER` first, or point --data-dir at an index",
                )
            catalog = open_catalog(self.settings)
            try:
                if write and catalog.read_only:
                    raise UserError(
                        f"the catalog {catalog.path} is read-only for this process",
                        "correcting people needs write access to the data directory",
                    )
                yield catalog
            finally:
                catalog.close()

    @staticmethod
    def _person_id(catalog: Catalog, ref: str) -> int:
        records = PeopleRecords(catalog)
        text = str(ref).strip()
        if text.isdigit() and records.exists(int(text)):
            return int(text)
        named = records.named(str(ref))
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise UserError(
                f"{len(named)} people are named {printable(str(ref))}: ids "
                + ", ".join(map(str, named)),
                "give the id instead",
            )
        raise UserError(
            f"no person {printable(str(ref))} in this library",
            "`ris people` lists them with their ids and names",
        )

    @staticmethod
    def _listed(catalog: Catalog, key: int) -> Person:
        found = list_people(catalog, False, detail={key}).people
        return next(p for p in found if p.id == key)

    def faces(self, paths: Sequence[Path]) -> Iterator[FileFaces]:
        """Every face in the photos and videos under `paths`, with embeddings, read by the index
        pipeline with this library's weights; the face a query would search for is marked."""
        _require(paths)
        s = self.settings
        yield from list_faces(
            paths,
            self.sample_options,
            self._get_models(),
            s.match_threshold,
            s.decode_timeout,
            s.decoders(self.device),
        )

    def read_query(
        self,
        query: Path,
        stop: threading.Event | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Query:
        """The faces of a query photo, or the people of a query clip, best first; a clip's
        reading stops soon after `stop` is set (Cancelled), and tells `progress(frames read,
        frames in all)` as it goes."""
        s = self.settings
        return read_query(
            query,
            self.sample_options,
            self._get_models(),
            s.match_threshold,
            s.decode_timeout,
            stop,
            progress,
        )

    def read_together(
        self,
        queries: Sequence[Path],
        stop: threading.Event | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Query:
        """Several photos or clips of one person read as one query (engine/search/query.py,
        together); `progress(read, in all)` counts the files."""
        read = []
        for n, path in enumerate(queries):
            read.append(self.read_query(path, stop))
            if progress is not None:
                progress(n + 1, len(queries))
        return together(read)

    def search(
        self,
        query: Path | Query,
        face: int | None = None,
        threshold: float | None = None,
        top: int | None = None,
        possible_margin: float | None = None,
    ) -> SearchResult:
        """Videos and photos showing the query's face (`face`, 1 = the main one), best first:
        those at `threshold` or more, then possible matches down to `possible_margin` below it
        (settings' defaults where None)."""
        with reported(self.settings):
            return self._search(query, face, threshold, top, possible_margin)

    def _search(
        self,
        query: Path | Query,
        face: int | None,
        threshold: float | None,
        top: int | None,
        possible_margin: float | None,
    ) -> SearchResult:
        if not self.exists() or not self._get_catalog().has_faces():
            raise NothingIndexed(
                f"nothing is indexed in {self.settings.data_dir}",
                "run `ris index FOLDER` first, or point --data-dir at an index",
            )
        thr = self.settings.match_threshold if threshold is None else threshold
        q = query if isinstance(query, Query) else self.read_query(query)
        chosen = face or 1
        if not 1 <= chosen <= len(q.faces):
            what = "people" if q.kind == MediaKind.VIDEO else "faces"
            raise QueryError(
                f"--face {chosen}: the query has {len(q.faces)} {what}", f"pick 1 to {len(q.faces)}"
            )
        store, catalog = self._catch_up(), self._get_catalog()
        floor = self.settings.possible_floor(thr, possible_margin)
        top = top or self.settings.top
        found = match_appearances(q.templates[chosen - 1], catalog, store, thr, floor, top)
        info = QueryInfo(q.path, q.kind, q.faces, chosen, q.together)
        result = self._rank(found, info, thr, top)
        return replace(result, possible=floor if found.floor is None else found.floor)

    def _catch_up(self) -> VectorStore:
        """The store to search, level with the catalog (after a crash, say): usearch in this
        process's memory; a shared Milvus collection of a SQLite library only while no index
        run is writing, as that run does it; one fed by a PostgreSQL library's outbox is never
        written by a searcher: what is still queued for it is searched beside it."""
        store, catalog = self._get_store(), self._get_catalog()
        if not store.shared:
            reconcile(store, catalog)
            return store
        if follows_outbox(store, catalog):
            if not enrolled(store, catalog):
                raise StoreError(
                    f"{store.describe()} is not in step with the catalog {catalog.path}",
                    "run `ris index` on the library once from a machine that may write it: "
                    "it compares them and keeps them in step from then on",
                )
            pending = catalog.pending()
            return WithPending(store, catalog, pending) if len(pending) else store  # type: ignore[return-value]
        try:
            with writer_lock(self.settings):
                reconcile(store, catalog, save=True)
        except IndexBusyError:
            pass
        return store

    def _rank(
        self, found: Matches, info: QueryInfo, threshold: float, top: int | None = None
    ) -> SearchResult:
        """Matched faces -> ranked videos and photos, leaving out files gone from disk."""
        known = found.files
        if known is None:  # matches found some other way (evaluation): read them now
            catalog = self._get_catalog()
            records = catalog.files_by_id(found.quality.keys())
            known = file_infos(catalog, records, records)
        if on_postgres(self.settings):
            # a shared library: the catalog, not this machine's disks, says what it holds; a
            # file not mounted here is listed, marked, never dropped
            videos, images = rank(found, known, top or self.settings.top)
            videos = [v if not _gone(v.path) else replace(v, reachable=False) for v in videos]
            images = [i if not _gone(i.path) else replace(i, reachable=False) for i in images]
        else:
            videos, images = rank(found, known, top or self.settings.top, lambda p: not _gone(p))
        return SearchResult(info, threshold, tuple(videos), tuple(images))

    def status(self) -> LibraryStatus:
        with reported(self.settings):
            return self._status()

    def _status(self) -> LibraryStatus:
        data_dir = str(self.settings.data_dir.resolve())
        if not self.exists():
            return LibraryStatus(
                data_dir,
                None,
                0,
                0,
                0,
                (),
                (),
                self.store_choice.describe(),
                catalog=catalog_name(self.settings),
            )
        catalog = self._get_catalog()
        files = catalog.files()
        indexed = [f for f in files if f.status == FileStatus.INDEXED]
        path = catalog.meta(LibraryKey.WEIGHTS_PATH)
        return LibraryStatus(
            data_dir=data_dir,
            weights=path or catalog.meta(LibraryKey.WEIGHTS_ID),
            videos=sum(f.kind == MediaKind.VIDEO for f in indexed),
            images=sum(f.kind == MediaKind.IMAGE for f in indexed),
            faces=catalog.face_count(),
            failed=tuple(
                FileFailed(f.path, f.error or "") for f in files if f.status == FileStatus.FAILED
            ),
            files=tuple((f.path, str(f.status), f.faces) for f in files),
            store=self.store_choice.describe(),
            **self._saved_vectors(catalog),
            catalog=catalog_name(self.settings),
        )

    def _saved_vectors(self, catalog: Catalog) -> dict[str, int | None]:
        """How many vectors the store holds as saved, and how many catalog changes behind it is
        (an interrupted run leaves it behind; the next run or search catches it up)."""
        try:
            store = open_store(choose(self.settings, catalog), self.settings, catalog, create=False)
        except EngineError:
            return {}
        try:
            if follows_outbox(store, catalog):  # faces queued for it, or all until enrolled
                enrolled_here = enrolled(store, catalog)
                behind = len(catalog.pending()) if enrolled_here else catalog.face_count()
            elif store.version >= 0:
                behind = catalog.version - store.version
            else:
                behind = catalog.version
            return {"vectors": len(store), "vectors_behind": max(0, behind)}
        finally:
            with suppress(StoreError):
                store.close()

    def migrate(
        self,
        to: str,
        replace_other: bool = False,
        progress: Callable[[int, int], None] = lambda done, total: None,
    ) -> Migration:
        """Copy the library's vectors into the `to` backend, verify the copy, and make it the
        library's store. The source is left as it was. Holds the writer lock."""
        from engine.library.stores.copying import copy_store

        if not self.exists():
            raise UserError(f"nothing is indexed in {self.settings.data_dir}", "nothing to migrate")
        t0 = time.monotonic()
        catalog = self._get_catalog()
        # the source is the library's own store; --milvus-uri and --milvus-collection name the target
        own = replace(self.settings, milvus_uri=None, milvus_collection=None)
        source_choice = choose(own, catalog)
        target_choice = choose(replace(self.settings, backend=to), catalog)
        if target_choice == source_choice:
            raise UserError(
                f"the library already uses {source_choice.describe()}",
                "name another target (--to, --milvus-uri, --milvus-collection)",
            )
        with writer_lock(self.settings):
            stores: list[VectorStore] = []
            try:
                stores.append(open_store(source_choice, self.settings, catalog, create=False))
                stores.append(
                    open_store(target_choice, self.settings, catalog, replace=replace_other)
                )
                total, checked = copy_store(stores[0], stores[1], catalog, progress)
                record(target_choice, catalog)
            finally:
                for store in stores:
                    with suppress(StoreError):
                        store.close()
        return Migration(
            source_choice.describe(),
            target_choice.describe(),
            total,
            checked,
            time.monotonic() - t0,
        )

    def migrate_catalog(
        self, progress: Callable[[int, int], None] = lambda done, total: None
    ) -> tuple[CatalogCopy, float]:
        """Copy the data directory's SQLite catalog into the PostgreSQL one the settings name
        (`--catalog`), verify it row by row, and leave the source as it was; (what was
        copied, seconds). The vectors need no copy: their keys are the same."""
        from engine.library.catalog_copy import copy_catalog
        from engine.library.lock import WriterLock

        uri, path = self.settings.catalog, self.settings.catalog_path
        if uri is None:
            raise UserError(
                "name the PostgreSQL catalog to copy into", "--catalog postgresql://..."
            )
        if not path.exists():
            raise UserError(
                f"nothing is indexed in {self.settings.data_dir} to copy",
                "--data-dir names the library whose catalog.sqlite to copy",
            )
        t0 = time.monotonic()
        with WriterLock(self.settings.lock_path):  # no index run changes the source meanwhile
            with reported(replace(self.settings, catalog=None)):
                source = Catalog(path, read_only=True)
            try:
                copied = copy_catalog(source, uri, progress, Roots.parse(self.settings.roots))
            finally:
                source.close()
        return copied, time.monotonic() - t0

    def check(self) -> CheckReport:
        """SQLite's integrity check of the catalog, and the vector store compared with it.
        Reads only; safe while an index run goes on (the store may then be reported behind)."""
        if not self.exists():
            raise UserError(f"nothing is indexed in {self.settings.data_dir}", "nothing to check")
        path = catalog_name(self.settings)
        try:
            catalog = open_catalog(self.settings, read_only=True)
        except CatalogError as err:
            return CheckReport(path, (err.title,), None)
        try:
            problems = catalog_problems(catalog)
            if problems:
                return CheckReport(path, problems, None)
            damaged = catalog.unsound_vectors()
            store = open_store(choose(self.settings, catalog), self.settings, catalog, create=False)
            try:
                vectors = check_vectors(store, catalog, store.damaged)
            finally:
                store.close()
            files = tuple(catalog.files_of_faces(damaged))
            return CheckReport(path, (), vectors, len(damaged), files)
        finally:
            catalog.close()

    def repair(self, progress: Notify = lambda text: None) -> RepairReport:
        """Recover a damaged catalog into a new one (the damaged file is kept beside it, never
        deleted) and rebuild the vectors from the catalog. Holds the writer lock."""
        if not self.exists():
            raise UserError(f"nothing is indexed in {self.settings.data_dir}", "nothing to repair")
        if on_postgres(self.settings):
            return self._repair_vectors(progress)
        path = self.settings.catalog_path
        with writer_lock(self.settings):
            self.close()
            try:
                catalog = Catalog(path)
                problems = catalog_problems(catalog)
                catalog.close()
            except CatalogError as err:
                problems = (err.title,)
            rescued, kept = None, None
            if problems:
                progress(f"the catalog is damaged: {problems[0]}")
                fresh = path.with_name(path.name + ".repairing")
                for leftover in _with_journals(fresh):
                    leftover.unlink(missing_ok=True)
                rescued = salvage(path, fresh, progress)
                kept = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
                for old, new in zip(_with_journals(path), _with_journals(kept), strict=True):
                    if old.exists():
                        os.replace(old, new)
                os.replace(fresh, path)
            count, mended = self._rebuild_vectors(progress)
        return RepairReport(problems, rescued, str(kept) if kept else None, count, mended)

    def _repair_vectors(self, progress: Notify) -> RepairReport:
        """Repair of a PostgreSQL catalog: the server keeps its own pages sound (and restores
        them from its backups), so what is left is ris's: damaged vectors, and the store."""
        with writer_lock(self.settings):
            self.close()
            count, mended = self._rebuild_vectors(progress)
        return RepairReport((), None, None, count, mended)

    def _rebuild_vectors(self, progress: Notify) -> tuple[int, VectorRepair]:
        """Restore or drop the catalog's damaged vectors, then rebuild the store from it."""
        with reported(self.settings):
            catalog = open_catalog(self.settings)
            try:
                choice = choose(self.settings, catalog)
                store = open_store(choice, self.settings, catalog, create=True)
                try:
                    mended = repair_vectors(catalog, store, progress)
                    progress(f"rebuilding the vectors in {store.describe()}")
                    store.clear()
                    level(store, catalog, save=True)
                    return len(store), mended
                finally:
                    store.close()
            finally:
                catalog.close()


def _with_journals(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def _require(paths: Sequence[Path]) -> None:
    """Every path given exists, or a UserError naming the first that does not."""
    for p in paths:
        if not Path(p).expanduser().exists():
            raise UserError(f"no such file or folder: {p}")


def _gone(path: str) -> bool:
    """Deleted or moved away; a file that is only unreadable now (its folder's permissions,
    an unmounted disk's mount point) still holds what was indexed."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False


class EngineInternals:
    """The engine's parts, for `ris eval`, benchmarks and white-box tests: the catalog, the
    store, the models and their weights, and ranking of matches found some other way. Front
    ends (the CLI's commands, the TUI) never use it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def catalog(self) -> Catalog:
        return self._engine._get_catalog()

    @property
    def store(self) -> VectorStore:
        """The search store, caught up with the catalog."""
        return self._engine._catch_up()

    @property
    def models(self) -> FaceModels:
        return self._engine._get_models()

    def weights(self) -> Weights:
        return self._engine._weights()

    def rank(
        self, found: Matches, info: QueryInfo, threshold: float, top: int | None = None
    ) -> SearchResult:
        return self._engine._rank(found, info, threshold, top)


def build_engine(settings: Settings | None = None, notify: Notify = lambda text: None) -> Engine:
    return Engine(settings or Settings.from_env(), notify=notify)


def _not_yours(data_dir: Path) -> UserError:
    """The data directory cannot be entered: another user's private library."""
    try:
        owner = data_dir.stat().st_uid
    except OSError:
        owner = None
    whose = f" (it belongs to uid {owner})" if owner is not None and owner != os.getuid() else ""
    return UserError(
        f"cannot read the library in {data_dir}: permission denied{whose}",
        "ris keeps a library private to its owner (0700); to share it, its owner widens the "
        "modes (chmod -R g+rX and a shared group), or use a --data-dir of your own",
    )
