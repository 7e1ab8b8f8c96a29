"""Which catalog a library has: the data directory's SQLite file (the default), or a
PostgreSQL database many machines share (`--catalog postgresql://...`). Everything that opens,
locks or names the catalog asks here, so the rest of the engine does not care which it is."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from engine.library import catalog as sqlite_catalog
from engine.library.catalog import Catalog
from engine.library.lock import WriterLock
from engine.library.roots import Roots
from engine.settings import Settings


def on_postgres(settings: Settings) -> bool:
    return settings.catalog is not None


def open_catalog(settings: Settings, read_only: bool | None = None) -> Catalog:
    """The library's catalog, opened (and created or upgraded where this process may write)."""
    if settings.catalog is not None:
        from engine.library.postgres_catalog import PostgresCatalog

        # a transaction idle past a claim's lease is a paused process's: its claims are
        # another's by then, and its locks must not hold the other indexers up
        return PostgresCatalog(
            settings.catalog, read_only, Roots.parse(settings.roots), settings.claim_lease
        )
    return Catalog(settings.catalog_path, read_only)


def catalog_exists(settings: Settings) -> bool:
    """Whether anything was ever indexed into the library's catalog."""
    if settings.catalog is not None:
        from engine.library.postgres_catalog import schema_exists

        return schema_exists(settings.catalog)
    return settings.catalog_path.exists()


def catalog_name(settings: Settings) -> str:
    """The catalog as messages name it (a URI's password masked)."""
    if settings.catalog is not None:
        from engine.library.postgres_catalog import masked

        return masked(settings.catalog)
    return str(settings.catalog_path)


def writer_lock(settings: Settings) -> AbstractContextManager[object]:
    """The library to oneself (a repair, a migration; an index run on SQLite): a lock file in
    the data directory, or a PostgreSQL advisory lock that keeps out every index run on every
    machine."""
    if settings.catalog is not None:
        from engine.library.postgres_catalog import LOCK_WRITER, AdvisoryLock

        return AdvisoryLock(
            settings.catalog, LOCK_WRITER, "ris index runs or another repair are writing"
        )
    return WriterLock(settings.lock_path)


def indexing_lock(settings: Settings) -> AbstractContextManager[object]:
    """What an index run holds: on SQLite the writer lock (one run at a time); on PostgreSQL
    a shared one, so that any number of runs share the work (by claims, see claims.py) while
    a repair or migration, which takes it whole, waits for none of them."""
    if settings.catalog is not None:
        from engine.library.postgres_catalog import LOCK_WRITER, AdvisoryLock

        return AdvisoryLock(
            settings.catalog, LOCK_WRITER, "a repair or migration holds the library", shared=True
        )
    return WriterLock(settings.lock_path)


@contextmanager
def reported(settings: Settings) -> Iterator[None]:
    """The catalog's own errors inside the block as a CatalogError naming the catalog."""
    if settings.catalog is not None:
        from engine.library import postgres_catalog

        with postgres_catalog.reported(settings.catalog):
            yield
    else:
        with sqlite_catalog.reported(settings.catalog_path):
            yield
