"""The Milvus backend: Milvus Lite (a local .db path, in this process) or a Milvus server.

One collection per library, with the fields ranking needs beside each vector:

    id         INT64 primary key: the catalog's face id
    file_id    INT64: the file it was seen in
    track_key  INT64: file and appearance (file_id * 2**24 + track); searches group by it, so
               the server returns each appearance once, however many frames show it
    t          FLOAT: seconds into the file
    vector     FLOAT_VECTOR(EMBEDDING_DIM), cosine

The collection's properties name the library it belongs to and the catalog version it matches.
Inserts go in batches well under the server's 64 MB gRPC message limit. Every failure of the
server becomes a StoreError that says what to do; the catalog keeps every committed file, so
an interrupted run is resumed by running it again.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import numpy as np

from engine.errors import StoreBusyError, StoreError, StoreMismatchError, UserError
from engine.library.lock import held
from engine.library.stores.base import Entries, VersionMark
from engine.vocabulary import EMBEDDING_DIM

BATCH_ROWS = 4096  # about 8.5 MB per insert
DELETE_BATCH = 8192  # ids per delete expression
MAX_HITS = 16384  # Milvus' limit on the hits of one search
TRACK_BITS = 24  # tracks per file < 16.7 million
VERSION = "ris.version"
LIBRARY = "ris.library"
KEEPALIVE = {"grpc.keepalive_permit_without_calls": 0, "grpc.keepalive_time_ms": 60_000}
SERVER_SCHEMES = ("http://", "https://", "tcp://", "unix:")  # any other URI is a Lite file

T = TypeVar("T")


def is_server(uri: str) -> bool:
    """Whether a Milvus URI names a server (else it is a Milvus Lite file)."""
    return uri.startswith(SERVER_SCHEMES)


def public_uri(uri: str) -> str:
    """The URI with any password or token in it masked, for messages and `ris status`."""
    parts = urlsplit(uri)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':')[0]}:***@{host}" if ":" in user else f"***@{host}"
    query = "&".join(
        f"{k}=***" if k.lower() in ("token", "password", "api_key", "apikey") else f"{k}={v}"
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query)) if parts.scheme else uri


def track_keys(file_ids: np.ndarray, tracks: np.ndarray) -> np.ndarray:
    return (np.asarray(file_ids, np.int64) << TRACK_BITS) + np.asarray(tracks, np.int64)


class MilvusStore(VersionMark):
    shared = True

    def __init__(
        self,
        uri: str,
        collection: str,
        library: str,
        token: str | None = None,
        timeout: float = 30.0,
        index_type: str = "AUTOINDEX",
        create: bool = True,
        replace: bool = False,
        ndim: int = EMBEDDING_DIM,
    ) -> None:
        self.uri, self.name, self.library = uri, collection, library
        self.shown = public_uri(uri)  # the URI as messages show it, secrets masked
        self.timeout, self.index_type, self.ndim = timeout, index_type, ndim
        self.lite = not is_server(uri)
        self._version = self._recorded = -1  # as marked here; as recorded on the server
        self.grouping = True  # searches grouped by appearance on the server (Milvus 2.4+)
        self.client = self._connect(token)
        exists = self._call("looking up the collection", self.client.has_collection, collection)
        if exists and replace:
            self._call("dropping the collection", self.client.drop_collection, collection)
            exists = False
        if exists:
            self._check()
        elif create or replace:
            try:
                self._create()
            except StoreError:
                # indexers started at once on a new library each find no collection and
                # create it: those that lose the race open the winner's
                if not self._call(
                    "looking up the collection", self.client.has_collection, collection
                ):
                    raise
                self._check()
        else:
            raise StoreError(
                f"the Milvus collection {collection!r} is missing at {self.shown}",
                "`ris index FOLDER` or `ris migrate --to milvus` rebuilds it from this "
                "library's catalog",
            )

    # connection and errors ----------------------------------------------------------------
    def _connect(self, token: str | None) -> Any:
        # gRPC's C core prints keepalive chatter ("too_many_pings") to stderr on long runs
        # against Milvus Lite; failures reach the user as StoreError instead
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")
        try:
            from pymilvus import MilvusClient
        except ImportError as err:
            raise UserError(
                "the Milvus backend needs pymilvus, which is not installed",
                "pip install 'pymilvus[milvus-lite]' (or install ris with its milvus extra)",
            ) from err
        # Milvus Lite logs a traceback when it cannot open its file; the error below says why.
        logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)  # Milvus Lite's own server
        # pymilvus logs every failed call with a traceback; the StoreError raised says it once
        for name in ("pymilvus", "pymilvus.milvus_client"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        started = time.monotonic()
        try:
            # A connection of its own, closed with the store: pymilvus otherwise shares one
            # per URI across the process and, after a long idle spell, "recovers" it, which a
            # Milvus Lite server refuses ("Too many pings"). No keepalive pings while idle:
            # that server (gRPC's defaults) allows one per 5 minutes and hangs up on more.
            return MilvusClient(
                uri=self.uri,
                token=token or "",
                timeout=self.timeout,
                dedicated=True,
                grpc_options=KEEPALIVE,
            )
        except Exception as err:
            if time.monotonic() - started >= 0.9 * self.timeout:
                raise StoreError(
                    f"Milvus at {self.shown} did not answer within {self.timeout:g} s",
                    "is the server up, and is that its gRPC port (19530 by default)? A slow "
                    "server can be given longer with RIS_MILVUS_TIMEOUT",
                ) from err
            if self.lite and held(Path(self.uri) / "LOCK"):  # Milvus Lite's own lock
                raise StoreBusyError(
                    f"the Milvus Lite library {self.shown} is open in another process",
                    "Milvus Lite serves one process at a time: wait for it to finish, or run "
                    "a Milvus server for several indexers and searchers",
                ) from err
            raise self._error("connecting", err) from err

    def _error(self, doing: str, err: Exception) -> StoreError:
        message = str(getattr(err, "message", "") or err).strip().splitlines()[0]
        message = message.replace(self.uri, self.shown)[:300]
        if self.lite:
            hint = f"check that {self.shown} is a Milvus Lite library ris can write"
        else:
            hint = (
                "is the server up and the URI right (--milvus-uri, RIS_MILVUS_URI)? "
                "A server with authentication needs RIS_MILVUS_TOKEN"
            )
        return StoreError(
            f"Milvus at {self.shown} failed while {doing}: {message}",
            f"{hint}. Indexed files are kept in the catalog: run the same command again to go on",
        )

    def _call(self, doing: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # pymilvus raises MilvusException, grpc errors, timeouts
            raise self._error(doing, err) from err

    # the collection -----------------------------------------------------------------------
    def _create(self) -> None:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("file_id", DataType.INT64)
        schema.add_field("track_key", DataType.INT64)
        schema.add_field("t", DataType.FLOAT)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.ndim)
        index = self.client.prepare_index_params()
        index.add_index("vector", index_type=self.index_type, metric_type="COSINE")
        self._call(
            "creating the collection",
            self.client.create_collection,
            self.name,
            schema=schema,
            index_params=index,
            consistency_level="Strong",
            properties={LIBRARY: self.library, VERSION: "-1"},
        )
        self._version = self._recorded = -1

    def _check(self) -> None:
        info = self._call("describing the collection", self.client.describe_collection, self.name)
        vector = [f for f in info.get("fields", []) if f.get("name") == "vector"]
        dim = int(vector[0].get("params", {}).get("dim", 0)) if vector else 0
        if dim != self.ndim:
            raise StoreMismatchError(
                f"the Milvus collection {self.name!r} at {self.shown} holds "
                f"{dim or 'no'}-d vectors, not FaceNet's {self.ndim}-d",
                "give ris a collection of its own (--milvus-collection, RIS_MILVUS_COLLECTION)",
            )
        props = info.get("properties", {}) or {}
        if props.get(LIBRARY) != self.library:
            raise StoreMismatchError(
                f"the Milvus collection {self.name!r} at {self.shown} belongs to another ris library",
                "each library needs its own collection: pick one with --milvus-collection, "
                "or `ris migrate --to milvus --replace` to overwrite it with this library",
            )
        self._load()
        self._version = self._recorded = _recorded_version(info)

    def _load(self) -> None:
        """Load the collection for searching. One another process has just created may not have
        its index yet (pymilvus creates the collection, then its index, then loads it), and
        cannot be loaded until it has: that is waited for, up to the store's timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            state = self._call("loading the collection", self.client.get_load_state, self.name)
            if "Loaded" in str(state.get("state", "")):
                return
            try:
                self.client.load_collection(self.name)
                return
            except Exception as err:
                if time.monotonic() >= deadline:
                    raise self._error("loading the collection", err) from err
            time.sleep(0.2)

    def describe(self) -> str:
        return f"milvus {self.shown} (collection {self.name})"

    def __len__(self) -> int:
        rows = self._call(
            "counting vectors",
            self.client.query,
            self.name,
            filter="",
            output_fields=["count(*)"],
            consistency_level="Strong",
        )
        return int(rows[0]["count(*)"])

    def clear(self) -> None:
        self._call("dropping the collection", self.client.drop_collection, self.name)
        self._create()

    def close(self) -> None:
        self._call("closing", self.client.close)

    # writes -------------------------------------------------------------------------------
    def add(self, entries: Entries) -> None:
        self._write(entries, self.client.insert)

    def replace(self, entries: Entries) -> None:
        # a Milvus server keeps every insert of a key as another row: an upsert keeps one
        self._write(entries, self.client.upsert)

    def _write(self, entries: Entries, write: Callable[..., Any]) -> None:
        keys = track_keys(entries.file_ids, entries.tracks)
        for lo in range(0, len(entries), BATCH_ROWS):
            hi = min(lo + BATCH_ROWS, len(entries))
            rows = [
                {"id": int(k), "file_id": int(f), "track_key": int(tk), "t": float(t), "vector": v}
                for k, f, tk, t, v in zip(
                    entries.keys[lo:hi].tolist(),
                    entries.file_ids[lo:hi].tolist(),
                    keys[lo:hi].tolist(),
                    entries.times[lo:hi].tolist(),
                    np.asarray(entries.vectors[lo:hi], np.float32),
                    strict=True,
                )
            ]
            self._call("inserting vectors", write, self.name, rows)

    def remove(self, keys: np.ndarray) -> None:
        ids = [int(k) for k in keys]
        for lo in range(0, len(ids), DELETE_BATCH):
            self._call(
                "deleting vectors", self.client.delete, self.name, ids=ids[lo : lo + DELETE_BATCH]
            )

    def save(self) -> None:
        """Record the catalog version the collection matches. Inserts are durable once
        acknowledged; Milvus Lite also seals them into indexed segments here (its searches of
        unsealed rows are about ten times slower), while a server seals on its own schedule."""
        if self.lite:
            self._call("flushing", self.client.flush, self.name)
        if self._version == self._recorded:  # unmoved: never write back a version another
            return  # process has moved on since (the outbox token of a later enrolment)
        self._call(
            "recording the catalog version",
            self.client.alter_collection_properties,
            self.name,
            properties={VERSION: str(self._version)},
        )
        self._recorded = self._version

    def refresh(self) -> None:
        info = self._call("describing the collection", self.client.describe_collection, self.name)
        self._version = self._recorded = _recorded_version(info)

    # reads --------------------------------------------------------------------------------
    def keys(self, lo: int = 0, hi: int | None = None) -> np.ndarray:
        where = " and ".join(
            ([f"id >= {int(lo)}"] if lo > 0 else [])
            + ([f"id < {int(hi)}"] if hi is not None else [])
        )
        out = [keys for keys, _ in self._scan(16384, ["id"], where)]
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def _scan(
        self, batch: int, fields: list[str], where: str = ""
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        it = self._call(
            "reading vectors",
            self.client.query_iterator,
            self.name,
            batch_size=batch,
            filter=where,
            output_fields=fields,
        )
        try:
            while rows := self._call("reading vectors", it.next):
                keys = np.fromiter((r["id"] for r in rows), np.int64, len(rows))
                vectors = (
                    np.asarray([r["vector"] for r in rows], np.float32)
                    if "vector" in fields
                    else np.zeros((len(rows), 0), np.float32)
                )
                yield keys, vectors
        finally:
            it.close()

    def export(self, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield from self._scan(batch, ["id", "vector"])

    def get(self, keys: np.ndarray) -> np.ndarray:
        ids = [int(k) for k in keys]
        found: dict[int, np.ndarray] = {}
        for lo in range(0, len(ids), 1000):
            for row in self._call(
                "reading vectors",
                self.client.get,
                self.name,
                ids=ids[lo : lo + 1000],
                output_fields=["vector"],
            ):
                found[int(row["id"])] = np.asarray(row["vector"], np.float32)
        missing = [k for k in ids if k not in found]
        if missing:
            raise StoreError(
                f"Milvus at {self.shown} lacks {len(missing)} of the vectors asked for "
                f"(e.g. id {missing[0]})",
                "run `ris index` on the library to catch the store up with the catalog",
            )
        return np.stack([found[k] for k in ids]) if ids else np.zeros((0, self.ndim), np.float32)

    def search(
        self,
        queries: np.ndarray,
        min_similarity: float,
        one_per_track: bool = False,
        limit: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """A range search on the server; with `one_per_track`, grouped by appearance there.

        At most MAX_HITS hits (appearances, with `one_per_track`) come back per query: the
        most similar ones, which is what ranking needs.
        """
        best: dict[int, float] = {}
        params = {
            "metric_type": "COSINE",
            "params": {"radius": float(min_similarity) - 1e-6, "range_filter": 1.0 + 1e-4},
        }
        for q in np.atleast_2d(np.asarray(queries, np.float32)):
            request = {
                "data": [q.tolist()],
                "limit": min(MAX_HITS, limit or MAX_HITS),
                "search_params": params,
                "output_fields": [],
            }
            hits = None
            if one_per_track and self.grouping:
                try:
                    hits = self.client.search(self.name, group_by_field="track_key", **request)[0]
                except Exception:  # a server before 2.4 cannot group: ask for every face
                    self.grouping = False
            if hits is None:
                hits = self._call("searching", self.client.search, self.name, **request)[0]
            for hit in hits:
                key, sim = int(hit["id"]), float(hit["distance"])
                if sim >= min_similarity and sim > best.get(key, -2.0):
                    best[key] = sim
        keys = np.fromiter(best.keys(), np.int64, len(best))
        return keys, np.fromiter(best.values(), np.float32, len(best))


def _recorded_version(info: dict) -> int:
    """The catalog version (or outbox token) a collection's description records (-1: none)."""
    return int((info.get("properties") or {}).get(VERSION, -1))
