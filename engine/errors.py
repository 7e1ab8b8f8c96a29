"""Typed errors: each carries a one-line title and a hint that names the fix."""

from __future__ import annotations


class EngineError(Exception):
    """An expected failure, shown to the user without a traceback."""

    exit_code = 1

    def __init__(self, title: str, hint: str = "") -> None:
        super().__init__(title)
        self.title = title
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.title} ({self.hint})" if self.hint else self.title


class UserError(EngineError):
    """The user asked for something that cannot be done as asked (exit code 2)."""

    exit_code = 2


class NothingIndexed(UserError):
    """A search of a library that holds no face yet."""


class QueryError(UserError):
    """This query cannot be searched (the library may well be searched with another)."""


class NoFaceError(QueryError):
    """The query has no usable face."""


class UnreadableMediaError(QueryError):
    """The query (or a path given on the command line) cannot be read as a photo or a video."""


class MissingWeightsError(UserError):
    """No FaceNet weights can be found or downloaded."""


class WeightsMismatchError(UserError):
    """The index was built with other weights than the ones asked for."""


class Cancelled(EngineError):
    """The caller asked the work to stop, and it stopped (exit code 130, as after Ctrl-C)."""

    exit_code = 130


class IndexBusyError(EngineError):
    """Another process is writing to the same index."""

    exit_code = 3


class CatalogError(EngineError):
    """The catalog on disk cannot be used (newer schema, damaged file)."""


class ClaimLost(CatalogError):
    """A file's claim passed to another indexer (this one's lease ran out while it was paused
    or cut off): its work on the file is not committed, the other's is."""


class StoreError(EngineError):
    """The vector store cannot be reached or used (a Milvus server down, timed out)."""


class StoreBusyError(StoreError):
    """Another process holds the vector store (Milvus Lite serves one process at a time)."""

    exit_code = 3


class StoreMismatchError(UserError):
    """The vector store holds something else: another dimension, another library's vectors."""
