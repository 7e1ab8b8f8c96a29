"""Which vector store a library uses: the only module that knows, and the only one that imports
both backends.

- usearch (`stores/usearch.py`): a file in the data directory. Embedded, nothing to set up; the
  default, and the right choice up to tens of millions of faces on one machine.
- Milvus (`stores/milvus.py`): Milvus Lite in this process when the URI is a local `.db` path,
  or a Milvus Standalone / Distributed server (http://host:19530) for libraries larger than
  one machine serves well.

The library remembers the store it was last indexed or migrated into (`record`), so `ris search`
and `ris-tui` find it without flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserError
from engine.library.catalog import Catalog
from engine.library.stores.base import VectorStore
from engine.library.stores.milvus import is_server, public_uri
from engine.settings import Settings
from engine.vocabulary import LibraryKey

BACKENDS = ("usearch", "milvus")
DEFAULT_COLLECTION = "ris_faces"


@dataclass(frozen=True)
class StoreChoice:
    backend: str
    uri: str  # the usearch file, the Milvus Lite .db path or the Milvus server
    collection: str = ""  # Milvus only

    def describe(self) -> str:
        if self.backend == "milvus":
            return f"milvus {public_uri(self.uri)} (collection {self.collection})"
        return f"{self.backend} {self.uri}"


def choose(settings: Settings, catalog: Catalog | None) -> StoreChoice:
    """The backend asked for (a Milvus URI asks for Milvus), else the library's, else usearch."""
    recorded = (catalog.meta(LibraryKey.BACKEND) if catalog else None) or "usearch"
    backend = (settings.backend or ("milvus" if settings.milvus_uri else recorded)).lower()
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}", f"use one of: {', '.join(BACKENDS)}")
    if backend != "milvus":
        return StoreChoice(backend, str(settings.vectors_path.resolve()))
    same = recorded == "milvus" and catalog is not None
    uri = (
        settings.milvus_uri
        or (catalog.meta(LibraryKey.MILVUS_URI) if same and catalog else None)
        or str(settings.milvus_lite_path)
    )
    collection = (
        settings.milvus_collection
        or (catalog.meta(LibraryKey.MILVUS_COLLECTION) if same and catalog else None)
        or DEFAULT_COLLECTION
    )
    return StoreChoice("milvus", normalise_uri(uri), collection)


def normalise_uri(uri: str) -> str:
    """A server URI as given; a Milvus Lite file as an absolute path ending in .db."""
    if is_server(uri):
        return uri
    if "://" in uri:
        raise UserError(
            f"cannot use the Milvus URI {public_uri(uri)}",
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
        from engine.library.stores.milvus import MilvusStore

        if not is_server(choice.uri):
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
    from engine.library.stores.usearch import (
        UsearchStore,  # loads the usearch library only when it is used
    )

    return UsearchStore(Path(choice.uri))


def record(choice: StoreChoice, catalog: Catalog) -> None:
    """Remember the store in the library, so later commands use it without flags."""
    milvus = choice.backend == "milvus"
    for key, value in (
        (LibraryKey.BACKEND, choice.backend),
        (LibraryKey.MILVUS_URI, choice.uri if milvus else ""),
        (LibraryKey.MILVUS_COLLECTION, choice.collection),
    ):
        if catalog.meta(key) != value:
            catalog.set_meta(key, value)
