"""The vector-store contract, and the one invariant that crash safety rests on.

The catalog (SQLite) is the source of truth: it keeps every face with its vector. A store holds
a searchable copy of those vectors keyed by face id, and the catalog version it matches. Only
the functions of this module move that version:

- `reconcile(store, catalog)`: after a crash, a migration or another process's run, make the
  store hold exactly the catalog's faces (stale keys out, missing ones in, in batches);
- `apply_change(store, catalog, removed, added)`: mirror one committed catalog change;
- `adopt(store, catalog)`: a store filled with a verified copy of every face becomes current.

A store whose version lags the catalog's is never trusted as current: the next reconcile
catches it up from the catalog, so a crash between a catalog commit and a store save loses
nothing.

A store that many indexers write at once (a Milvus collection behind a PostgreSQL catalog)
cannot follow one version: commits come from everywhere, in any order. It follows the
catalog's *outbox* instead (`level`, `drain`): every commit queues the ids of the faces it
added and removed in the same transaction, and whichever process finds them there upserts or
deletes them in the store, then takes them off the queue. A crash at any moment leaves them
queued, and doing them again changes nothing, so no vector is lost or held twice. Such a store
is enrolled once by a full comparison; its version is then the outbox's token (kept in the
catalog's meta too), so a store that was cleared, or fed while the library used another store,
is compared in full again.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from engine.errors import StoreError

if TYPE_CHECKING:
    from engine.library.catalog import Catalog

RECONCILE_BATCH = 10_000  # vectors read from the catalog and added at a time


@dataclass(frozen=True)
class Entries:
    """Face vectors with the fields a store keeps beside them (Milvus groups by file and track)."""

    keys: np.ndarray  # catalog face ids
    vectors: np.ndarray  # (N, EMBEDDING_DIM) float32, unit length
    file_ids: np.ndarray
    tracks: np.ndarray
    times: np.ndarray  # seconds

    @classmethod
    def from_catalog(
        cls,
        catalog: Catalog,
        keys: np.ndarray,
        vectors: np.ndarray | None = None,
        known_only: bool = False,
    ) -> Entries:
        """The catalog's faces `keys`, with their vectors from the catalog or as given (in the
        order of `keys`). Keys the catalog does not know are an error, or with `known_only`
        (and no `vectors` given) left out."""
        rows = catalog.faces(keys)
        at = {int(k): i for i, k in enumerate(rows.ids.tolist())}
        lost = [int(k) for k in keys if int(k) not in at]
        if lost and known_only and vectors is None:
            keys = np.asarray([k for k in keys if int(k) in at], np.int64)
        elif lost:
            raise StoreError(
                f"the store holds {len(lost)} vectors the catalog does not know "
                f"(e.g. id {lost[0]})",
                "run `ris index` on the library first to reconcile them",
            )
        order = np.asarray([at[int(k)] for k in keys], dtype=np.int64)
        keys = np.asarray(keys, np.int64)
        if vectors is None:
            vectors = catalog.vectors(keys)
        return cls(
            keys,
            np.asarray(vectors, np.float32),
            rows.file_ids[order],
            rows.tracks[order],
            rows.times[order],
        )

    def __len__(self) -> int:
        return len(self.keys)


class VersionMark:
    """The catalog version a store holds, as `base` marks it: what both backends share."""

    _version = -1
    damaged = False  # a file backend sets it when its file did not match its checksum

    @property
    def version(self) -> int:
        return self._version

    def mark(self, version: int) -> None:
        self._version = version

    def refresh(self) -> None:
        """Read the recorded version again, where another process may have moved it."""


class VectorStore(Protocol):
    """What every backend does. Keys are the catalog's face ids; vectors are unit length."""

    damaged: bool
    """True when the store's own file was found damaged on opening (it then opened empty, at
    version -1, for `reconcile` to rebuild); what `ris check` reports."""

    shared: bool
    """True when other processes see this store's writes (a Milvus collection): then only the
    holder of the writer lock may change it. False for a copy in this process's memory."""

    @property
    def version(self) -> int:
        """The catalog version this store holds, as last marked; -1 when unknown (new, cleared,
        or its file could not be trusted). Read by `base`; callers never set it."""
        ...

    def mark(self, version: int) -> None:
        """Note that the store now holds catalog version `version`. Called only by `base`;
        durable at the next `save`."""
        ...

    def refresh(self) -> None:
        """Read the version as recorded again: a shared store's may have been moved by another
        process since this one opened it (a file store's is this process's alone)."""
        ...

    def describe(self) -> str:
        """One line for people: backend and where ('usearch /data/faces.usearch')."""
        ...

    def __len__(self) -> int:
        """How many vectors the store holds."""
        ...

    def keys(self, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """The keys held (int64) from `lo` up to `hi` (excluded; None: no end), in no
        particular order."""
        ...

    def add(self, entries: Entries) -> None:
        """Add vectors under new keys. Visible to this store's searches at once; durable at the
        next `save` (usearch) or when the server acknowledges (Milvus)."""
        ...

    def replace(self, entries: Entries) -> None:
        """Add vectors under their keys, replacing any held (an upsert): what the outbox
        carries, as several processes may carry one change, or one carry be done twice."""
        ...

    def remove(self, keys: np.ndarray) -> None:
        """Drop these keys; keys not held are ignored."""
        ...

    def save(self) -> None:
        """Make what was added and removed durable, with the marked version. Atomic: a crash
        leaves the previous save or this one, never a mix."""
        ...

    def search(
        self,
        queries: np.ndarray,
        min_similarity: float,
        one_per_track: bool = False,
        limit: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Keys within `min_similarity` (cosine) of any query, with their best similarity.

        All of them, or with `limit` about that many of the most similar per query; with
        `one_per_track` a store may return only the best face of each track (what matching
        needs to nominate appearances), which Milvus does on the server.
        """
        ...

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The stored vectors of `keys`, in that order; a key not held is an error."""
        ...

    def export(self, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every (keys, vectors) held, in batches of at most `batch`."""
        ...

    def clear(self) -> None:
        """Hold nothing, version -1 (a Milvus collection is dropped and made anew)."""
        ...

    def close(self) -> None:
        """Let go of the store's resources; unsaved additions are lost (the catalog has them)."""
        ...


def is_current(store: VectorStore, catalog: Catalog) -> bool:
    """Whether the store holds exactly the catalog's faces, by its recorded version (and, for a
    shared store that another process may have changed, its count)."""
    if store.version != catalog.version:
        return False
    return not store.shared or len(store) == catalog.face_count()


def reconcile(store: VectorStore, catalog: Catalog, save: bool = False) -> bool:
    """Make the store hold exactly the catalog's faces and mark it current; True if anything
    changed. With `save`, make that durable (the caller holds the writer lock)."""
    if is_current(store, catalog):
        return False
    changed = _compare_in_full(store, catalog, store.add)
    store.mark(catalog.version)
    if save:
        store.save()
    return changed


def _compare_in_full(
    store: VectorStore, catalog: Catalog, write: Callable[[Entries], None]
) -> bool:
    """Stale keys out of the store, the catalog's missing faces in (by `write`, in batches);
    True if anything changed.

    Other indexers may commit meanwhile (an enrolment: their changes are queued, and they may
    carry them into the store): a key that is not in the faces read first but is in the
    catalog now stays, and a face removed since it was read is not written."""
    want = catalog.face_ids()
    have = store.keys()
    stale = np.setdiff1d(have, want)
    if len(stale):
        stale = np.setdiff1d(stale, catalog.faces(stale).ids)
    missing = np.setdiff1d(want, have)
    store.remove(stale)
    for lo in range(0, len(missing), RECONCILE_BATCH):
        batch = Entries.from_catalog(catalog, missing[lo : lo + RECONCILE_BATCH], known_only=True)
        if len(batch):
            write(batch)
    return bool(len(stale) or len(missing))


def apply_change(
    store: VectorStore, catalog: Catalog, removed: np.ndarray, added: Entries | None
) -> None:
    """Mirror one committed catalog change (which bumped its version by one) in the store.

    The store is marked current only if it was current before the change; should it fail here,
    the catalog already holds the change and the store's version lags, so the next reconcile
    catches it up. A store fed by the outbox carries what is queued instead (this change and
    any other process's).
    """
    if follows_outbox(store, catalog):
        drain(store, catalog)
        return
    was_current = store.version == catalog.version - 1
    store.remove(removed)
    if added is not None and len(added):
        store.add(added)
    if was_current:
        store.mark(catalog.version)


def adopt(store: VectorStore, catalog: Catalog) -> None:
    """A store just filled with every face of the catalog (a verified copy) becomes current,
    durably (and, fed by an outbox, enrolled in it: the caller holds the library whole)."""
    if follows_outbox(store, catalog):
        _enrol(store, catalog)
        return
    store.mark(catalog.version)
    store.save()


# the outbox: a store many indexers write at once ---------------------------------------------
def follows_outbox(store: VectorStore, catalog: Catalog) -> bool:
    """Whether the store follows the catalog's outbox rather than its version."""
    return store.shared and catalog.keeps_outbox


def enrolled(store: VectorStore, catalog: Catalog) -> bool:
    """Whether the outbox feeds this store: every change since its last full comparison is
    in the store or still queued."""
    token = catalog.outbox_token()
    return token is not None and store.version == token


def level(store: VectorStore, catalog: Catalog, save: bool = False) -> bool:
    """Make the store hold the catalog's faces: `reconcile` for a store of one writer; for one
    fed by the outbox, a full comparison only if it is not enrolled, then `drain`. True if
    anything changed."""
    if not follows_outbox(store, catalog):
        return reconcile(store, catalog, save)
    changed = False
    if not enrolled(store, catalog):
        changed = _enrol(store, catalog)
    return drain(store, catalog) > 0 or changed


def _enrol(store: VectorStore, catalog: Catalog) -> bool:
    """Compare the store with the catalog in full and enrol it in the outbox. The token is set
    first: every commit after it queues its changes; every one before it is in what the
    comparison reads. One process enrols at a time; the next finds the store enrolled."""
    with catalog.enrolling():
        store.refresh()
        if enrolled(store, catalog):
            return False
        token = secrets.randbelow(2**62) + 2**40  # never a count of commits
        catalog.set_outbox_token(token)
        changed = _compare_in_full(store, catalog, store.replace)
        store.mark(token)
        store.save()
    return changed


def drain(store: VectorStore, catalog: Catalog) -> int:
    """Carry the outbox's queued changes into the store (upserts and deletes), taking each off
    the queue in the transaction that read it; how many were carried. Rows another process is
    carrying are left to it."""

    def carry(present: np.ndarray, gone: np.ndarray) -> None:
        store.remove(gone)
        if len(present):
            store.replace(Entries.from_catalog(catalog, present))

    return catalog.drain_outbox(carry, RECONCILE_BATCH)
