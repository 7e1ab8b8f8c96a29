"""What the app's workers and panes tell it, as Textual messages.

Workers (threads) post these instead of calling into the UI and waiting for it: posting is
thread-safe and returns at once, so the engine never waits on the screen. Progress messages
replace a pending one of their kind (`can_replace`), as toolong's do, so a fast run cannot
flood the UI with updates it would draw only to overwrite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

from .backend import IndexProgressed

if TYPE_CHECKING:
    import threading

    from engine.events import FileFailed, IndexPlanned
    from engine.results import (
        IndexedFile,
        LibraryStatus,
        Moment,
        PhotoHit,
        SearchResult,
        VideoHit,
    )
    from engine.search.query import Query


# searching -----------------------------------------------------------------------------------
@dataclass
class SearchProgressed(Message):
    """A line of news about the search running (reading the clip, searching)."""

    search: threading.Event  # the stop event of the search it is about: stale ones are dropped
    text: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SearchProgressed)


@dataclass
class SearchFinished(Message):
    search: threading.Event
    result: SearchResult
    seconds: float


@dataclass
class SearchFailed(Message):
    search: threading.Event
    error: BaseException


@dataclass
class FacesToPick(Message):
    """The query has several faces (people): the user picks the one to search for."""

    search: threading.Event
    query: Query
    pictures: list[Any]


# pictures ------------------------------------------------------------------------------------
@dataclass
class ThumbsReady(Message):
    """The faces of a video's moments (and of the face searched for) are decoded."""

    video: VideoHit
    moments: list[Moment]
    pictures: list[Any]
    searched: Any


@dataclass
class PhotoReady(Message):
    """A photo's matched face and the whole photo (with it boxed) are decoded."""

    hit: PhotoHit
    face: Any
    whole: Any
    searched: Any


@dataclass
class PicturesFailed(Message):
    text: str


# the library ---------------------------------------------------------------------------------
@dataclass
class LibraryLoaded(Message):
    status: LibraryStatus


@dataclass
class FilesLoaded(Message):
    """The library's indexed files, for its list."""

    files: tuple[IndexedFile, ...]


@dataclass
class LibraryFailed(Message):
    error: BaseException


@dataclass
class IndexNews(Message):
    """What an index run's engine said: planned, progressed (a newer one replaces one not yet
    shown), a file failed."""

    event: IndexPlanned | IndexProgressed | FileFailed

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, IndexNews) and all(
            isinstance(m.event, IndexProgressed) for m in (self, message)
        )


@dataclass
class IndexEnded(Message):
    text: str
    error: BaseException | None = None


@dataclass
class LibraryChanged(Message):
    """Files were taken out of the index (or could not be): what to say."""

    text: str
    error: BaseException | None = None


# the panes -----------------------------------------------------------------------------------
@dataclass
class SegmentPlayed(Message):
    """enter on a segment: play the video there."""
