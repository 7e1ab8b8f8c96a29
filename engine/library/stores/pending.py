"""A store fed by the outbox, as a searcher sees it.

Indexers queue every change in the catalog's outbox and carry it into the shared store just
after they commit (`base.drain`). A searcher never writes, so what is still queued when it
searches (a commit a moment old, or the work of an indexer that died between its commit and
the store) is searched from the catalog beside the store: the queued faces the store may hold
stale are left out of its hits, and the queued faces the catalog holds are compared here.
The answer is the one a store fully caught up would give.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from engine.library.catalog import Catalog
    from engine.library.stores.base import VectorStore


class WithPending:
    """`store` searched together with the catalog's faces queued for it (`pending`)."""

    def __init__(self, store: VectorStore, catalog: Catalog, pending: np.ndarray) -> None:
        self.store = store
        self.hidden = np.asarray(pending, np.int64)
        self.keys_here = catalog.faces(self.hidden).ids
        self.vectors_here = catalog.vectors(self.keys_here)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def search(
        self,
        queries: np.ndarray,
        min_similarity: float,
        one_per_track: bool = False,
        limit: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        keys, sims = self.store.search(queries, min_similarity, one_per_track, limit)
        keep = ~np.isin(keys, self.hidden)
        keys, sims = keys[keep], sims[keep]
        if len(self.keys_here):
            best = (np.atleast_2d(np.asarray(queries, np.float32)) @ self.vectors_here.T).max(0)
            near = best >= min_similarity
            keys = np.concatenate([keys, self.keys_here[near]])
            sims = np.concatenate([sims, best[near].astype(np.float32)])
        return keys, sims
