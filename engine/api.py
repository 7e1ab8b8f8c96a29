"""The engine's facade and composition root: what the CLI, the TUI and the tests use.

engine = build_engine(Settings.from_env())
for event in engine.index([Path("videos")]): ...
result = engine.search(Path("photo.jpg"))
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from pathlib import Path

from .catalog import Catalog
from .errors import IndexBusyError, UserError, WeightsMismatchError
from .events import IndexEvent
from .lock import WriterLock
from .matching import Matches, match_appearances
from .models import FaceModels
from .query import Query, read_query
from .ranking import FileInfo, rank
from .results import FailedFile, LibraryStatus, QueryInfo, SearchResult
from .sampling import SampleOptions
from .settings import Settings
from .store import StoreChoice, VectorStore, choose, open_store, record
from .weights import Weights, resolve_weights


class Engine:
    def __init__(self, settings: Settings, models: FaceModels | None = None) -> None:
        self.settings = settings
        self._models = models
        self._catalog: Catalog | None = None
        self._vectors: VectorStore | None = None

    # parts, opened on first use ------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog(self.settings.catalog_path)
        return self._catalog

    @property
    def store_choice(self) -> StoreChoice:
        """The vector store this engine uses: asked for, else the library's, else usearch."""
        return choose(self.settings, self.catalog if self.exists() else None)

    @property
    def vectors(self) -> VectorStore:
        """The vector store, opened for searching (a missing Milvus collection is an error)."""
        if self._vectors is None:
            self._vectors = open_store(self.store_choice, self.settings, self.catalog, create=False)
        return self._vectors

    def _writable_vectors(self) -> VectorStore:
        """The vector store for an index run: made when missing, and remembered as the library's."""
        choice = self.store_choice
        if self._vectors is None:
            self._vectors = open_store(choice, self.settings, self.catalog, create=True)
        record(choice, self.catalog)
        return self._vectors

    @property
    def models(self) -> FaceModels:
        if self._models is None:
            s = self.settings
            self._models = FaceModels(
                self.weights(),
                s.device,
                s.min_face_size,
                s.min_face_prob,
                s.face_batch,
                s.face_margin,
            )
        return self._models

    def weights(self) -> Weights:
        """The weights to embed with, refused if the index was built with others."""
        recorded = self.catalog.meta("weights_id") if self.exists() else None
        path = self.catalog.meta("weights_path") if recorded else None
        weights = resolve_weights(self.settings.weights, recorded, path)
        if recorded and weights.id != recorded and self.catalog.face_count():
            raise WeightsMismatchError(
                f"this index was built with other FaceNet weights ({path or recorded})",
                "search with the same --weights, or index into another --data-dir",
            )
        return weights

    @property
    def sample_options(self) -> SampleOptions:
        s = self.settings
        return SampleOptions(s.sample_rate, s.min_frames, s.max_frame_side, s.frame_batch)

    def exists(self) -> bool:
        return self.settings.catalog_path.exists()

    def close(self) -> None:
        if self._vectors is not None:
            vectors, self._vectors = self._vectors, None
            vectors.close()
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    # work -------------------------------------------------------------------------------------
    def index(
        self, paths: Sequence[Path], retry_failed: bool = False
    ) -> Generator[IndexEvent, None, None]:
        """Add or update everything under `paths`; yields progress. Holds the writer lock."""
        from .decoding import Decoder
        from .indexing import Indexer, plan

        for p in paths:
            if not Path(p).expanduser().exists():
                raise UserError(f"no such file or folder: {p}")
        with WriterLock(self.settings.lock_path):
            vectors = self._writable_vectors()  # an unreachable server fails before any work
            models = self.models
            work = plan(paths, self.catalog, retry_failed, skip=[self.settings.data_dir])
            if work.to_index:
                self._record_weights(models.weights)
            decoder = Decoder(self.sample_options, timeout=self.settings.decode_timeout)
            indexer = Indexer(self.catalog, vectors, models, decoder, self.settings.save_every)
            yield from indexer.run(work)

    def _record_weights(self, weights: Weights) -> None:
        """What makes embeddings comparable: the weights and the crop margin (the index keeps it)."""
        if self.catalog.meta("weights_id") != weights.id:
            self.catalog.set_meta("weights_id", weights.id)
            self.catalog.set_meta("weights_path", str(weights.path or ""))
        if self.catalog.meta("face_margin") is None:
            self.catalog.set_meta("face_margin", str(self.settings.face_margin))

    def read_query(self, query: Path) -> Query:
        """The faces of a query photo, or the people of a query clip, best first."""
        return read_query(query, self.sample_options, self.models, self.settings.match_threshold)

    def search(
        self,
        query: Path | Query,
        face: int | None = None,
        threshold: float | None = None,
        top: int | None = None,
    ) -> SearchResult:
        if not self.exists() or not self.catalog.face_count():
            raise UserError(
                f"nothing is indexed in {self.settings.data_dir}",
                "run `ris index FOLDER` first, or point --data-dir at an index",
            )
        thr = self.settings.match_threshold if threshold is None else threshold
        q = query if isinstance(query, Query) else self.read_query(query)
        chosen = face or 1
        if not 1 <= chosen <= len(q.faces):
            what = "people" if q.kind == "video" else "faces"
            raise UserError(
                f"--face {chosen}: the query has {len(q.faces)} {what}", f"pick 1 to {len(q.faces)}"
            )
        self._catch_up()
        found = match_appearances(q.templates[chosen - 1], self.catalog, self.vectors, thr)
        return self.rank_matches(found, QueryInfo(q.path, q.kind, q.faces, chosen), thr, top)

    def _catch_up(self) -> None:
        """Level the store with the catalog before a search (after a crash, say): usearch in
        this process's memory; a shared Milvus collection only while no index run is writing,
        as that run does it."""
        store = self.vectors
        if not store.shared:
            store.sync(self.catalog)
            return
        try:
            with WriterLock(self.settings.lock_path):
                store.sync(self.catalog)
        except IndexBusyError:
            pass

    def rank_matches(
        self, found: Matches, info: QueryInfo, threshold: float, top: int | None = None
    ) -> SearchResult:
        """Matched faces -> ranked videos and photos, leaving out files gone from disk."""
        files = {
            fid: FileInfo(r.path, r.kind, r.duration, r.samples, r.step)
            for fid, r in self.catalog.files_by_id(found.quality).items()
            if os.path.exists(r.path)
        }
        videos, images = rank(
            found.file_ids,
            found.times,
            found.boxes,
            found.similarities,
            found.quality,
            files,
            top or self.settings.top,
        )
        return SearchResult(info, threshold, tuple(videos), tuple(images))

    def status(self) -> LibraryStatus:
        data_dir = str(self.settings.data_dir.resolve())
        if not self.exists():
            return LibraryStatus(data_dir, None, 0, 0, 0, (), (), self.store_choice.describe())
        files = self.catalog.files()
        indexed = [f for f in files if f.status == "indexed"]
        path = self.catalog.meta("weights_path")
        return LibraryStatus(
            data_dir=data_dir,
            weights=path or self.catalog.meta("weights_id"),
            videos=sum(f.kind == "video" for f in indexed),
            images=sum(f.kind == "image" for f in indexed),
            faces=self.catalog.face_count(),
            failed=tuple(FailedFile(f.path, f.error or "") for f in files if f.status == "failed"),
            files=tuple((f.path, f.status, f.faces) for f in files),
            store=self.store_choice.describe(),
        )


def build_engine(settings: Settings | None = None) -> Engine:
    return Engine(settings or Settings.from_env())
