"""The vector store: the searchable copy of the catalog's face vectors, on one of two backends.

- usearch (engine/vectors.py): a file in the data directory. Embedded, nothing to set up; the
  default, and the right choice up to tens of millions of faces on one machine.
- Milvus (engine/milvus.py): Milvus Lite in this process when the URI is a local `.db` path,
  or a Milvus Standalone / Distributed server (http://host:19530) for libraries larger than
  one machine serves well.

Both hold a copy of the catalog's vectors (the catalog stays the source of truth), keyed by
face id, and record the catalog version they match, so either is caught up or rebuilt from the
catalog after a crash. The library remembers the backend it was last indexed or migrated
into, so `ris search` and `ris-tui` find it without flags.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .catalog import Catalog
from .errors import UserError
from .settings import Settings

BACKENDS = ("usearch", "milvus")
DEFAULT_COLLECTION = "ris_faces"
SERVER_SCHEMES = ("http://", "https://", "tcp://", "unix:")


@dataclass(frozen=True)
class Entries:
    """Face vectors with the fields a store keeps beside them (Milvus groups by file and track)."""

    keys: np.ndarray  # catalog face ids
    vectors: np.ndarray  # (N, 512) float32, unit length
    file_ids: np.ndarray
    tracks: np.ndarray
    times: np.ndarray  # seconds

    @classmethod
    def from_catalog(cls, catalog: Catalog, keys: np.ndarray) -> Entries:
        rows = catalog.faces(keys)
        return cls(rows.ids, catalog.vectors(rows.ids), rows.file_ids, rows.tracks, rows.times)

    def __len__(self) -> int:
        return len(self.keys)


class VectorStore(Protocol):
    version: int  # the catalog version this store matches; -1 when unknown
    shared: bool  # other processes see its writes (Milvus), so only a writer may change it

    def describe(self) -> str: ...

    def __len__(self) -> int: ...

    def sync(self, catalog: Catalog) -> bool:
        """Hold exactly the catalog's faces; True if anything changed."""
        ...

    def add(self, entries: Entries) -> None: ...

    def remove(self, keys: np.ndarray) -> None: ...

    def save(self, version: int) -> None:
        """Make what was added durable, recording the catalog version it matches."""
        ...

    def search(
        self, queries: np.ndarray, min_similarity: float, one_per_track: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Keys within `min_similarity` (cosine) of any query, with their best similarity.

        All of them; with `one_per_track` a store may return only the best face of each track
        (what matching needs to nominate appearances), which Milvus does on the server.
        """
        ...

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The stored vectors of `keys`, in that order."""
        ...

    def export(self, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every (keys, vectors) held, in batches."""
        ...

    def clear(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class StoreChoice:
    backend: str
    uri: str  # the usearch file, the Milvus Lite .db path or the Milvus server
    collection: str = ""  # Milvus only

    def describe(self) -> str:
        if self.backend == "milvus":
            return f"milvus {self.uri} (collection {self.collection})"
        return f"{self.backend} {self.uri}"


def choose(settings: Settings, catalog: Catalog | None) -> StoreChoice:
    """The backend asked for (a Milvus URI asks for Milvus), else the library's, else usearch."""
    recorded = (catalog.meta("backend") if catalog else None) or "usearch"
    backend = (settings.backend or ("milvus" if settings.milvus_uri else recorded)).lower()
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}", f"use one of: {', '.join(BACKENDS)}")
    if backend != "milvus":
        return StoreChoice(backend, str(settings.vectors_path.resolve()))
    same = recorded == "milvus" and catalog is not None
    uri = (
        settings.milvus_uri
        or (catalog.meta("milvus_uri") if same and catalog else None)
        or str(settings.data_dir / "milvus.db")
    )
    collection = (
        settings.milvus_collection
        or (catalog.meta("milvus_collection") if same and catalog else None)
        or DEFAULT_COLLECTION
    )
    return StoreChoice("milvus", normalise_uri(uri), collection)


def normalise_uri(uri: str) -> str:
    """A server URI as given; a Milvus Lite file as an absolute path ending in .db."""
    if uri.startswith(SERVER_SCHEMES):
        return uri
    if "://" in uri:
        raise UserError(
            f"cannot use the Milvus URI {uri}",
            "give http://host:19530 (https:// with TLS) for a server, or a local file "
            "ending in .db for Milvus Lite",
        )
    path = Path(uri).expanduser().resolve()
    if path.suffix != ".db":
        raise UserError(
            f"the Milvus Lite path {uri} does not end in .db",
            "Milvus Lite keeps a library in a path ending in .db, e.g. ./data/milvus.db",
        )
    return str(path)


def open_store(
    choice: StoreChoice,
    settings: Settings,
    catalog: Catalog,
    create: bool = True,
    replace: bool = False,
) -> VectorStore:
    """Open the store; without `create` a missing Milvus collection is an error, and with
    `replace` an existing one (another library's too) is dropped first."""
    if choice.backend == "milvus":
        from .milvus import MilvusStore

        if not choice.uri.startswith(SERVER_SCHEMES):
            Path(choice.uri).parent.mkdir(parents=True, exist_ok=True)
        return MilvusStore(
            choice.uri,
            choice.collection,
            catalog.library_id(),
            token=settings.milvus_token,
            timeout=settings.milvus_timeout,
            index_type=settings.milvus_index,
            create=create,
            replace=replace,
        )
    from .vectors import VectorIndex

    return VectorIndex(Path(choice.uri))


def record(choice: StoreChoice, catalog: Catalog) -> None:
    """Remember the backend in the library, so later commands use it without flags."""
    milvus = choice.backend == "milvus"
    for key, value in (
        ("backend", choice.backend),
        ("milvus_uri", choice.uri if milvus else ""),
        ("milvus_collection", choice.collection),
    ):
        if catalog.meta(key) != value:
            catalog.set_meta(key, value)
