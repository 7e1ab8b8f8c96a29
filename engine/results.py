"""Plain frozen dataclasses that cross the engine's boundary: search results and status."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from engine.events import FileFailed
from engine.vocabulary import MediaKind

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in the file's own pixels


def as_box(values: object) -> Box:
    x1, y1, x2, y2 = (round(float(v), 1) for v in values)  # type: ignore[attr-defined]
    return (x1, y1, x2, y2)


@dataclass(frozen=True)
class Segment:
    start: float  # seconds
    end: float
    score: float  # mean similarity of the matching samples in it
    possible: bool = False  # below the threshold: a weaker appearance, or a possible video's


@dataclass(frozen=True)
class Moment:
    t: float  # seconds
    bbox: Box
    similarity: float


@dataclass(frozen=True)
class VideoHit:
    path: str
    score: float
    duration: float
    segments: tuple[Segment, ...]
    matches: tuple[Moment, ...]  # in time order, the best face per matching sample
    possible: bool = False  # no appearance reaches the threshold; listed after the matches
    reachable: bool = True  # False: not on this machine (a shared library's file elsewhere)

    @property
    def best(self) -> Moment:
        return max(self.matches, key=lambda m: m.similarity)


@dataclass(frozen=True)
class PhotoHit:
    path: str
    score: float
    bbox: Box
    possible: bool = False  # below the threshold; listed after the matches
    reachable: bool = True  # False: not on this machine (a shared library's file elsewhere)


@dataclass(frozen=True)
class QueryFace:
    """One face of a query photo, or one person of a query clip (numbered from 1, best first)."""

    number: int
    bbox: Box  # in the first frame it was seen
    t: float  # when it was first seen (0 for photos)
    prob: float
    samples: int  # how many samples show it (1 for photos)


@dataclass(frozen=True)
class QueryInfo:
    path: str
    kind: MediaKind  # IMAGE or VIDEO
    faces: tuple[QueryFace, ...]  # candidates: the faces of a photo, the people of a clip
    chosen: int  # number of the candidate searched for
    together: tuple[str, ...] = ()  # several photos or clips searched as one person


@dataclass(frozen=True)
class SearchResult:
    query: QueryInfo
    threshold: float
    videos: tuple[VideoHit, ...]
    images: tuple[PhotoHit, ...]
    possible: float | None = None  # similarity down to which possible matches are listed

    def to_json(self) -> dict:
        """The document `ris search --json` prints (a stable contract)."""
        q = self.query
        return {
            "query": {
                "path": q.path,
                "kind": q.kind,
                "faces": len(q.faces),
                "chosen": q.chosen,
                "candidates": [asdict(f) for f in q.faces],
                "threshold": self.threshold,
                "possible": self.possible,
                **({"together": list(q.together)} if q.together else {}),
            },
            "videos": [
                {
                    "path": v.path,
                    "score": v.score,
                    "possible": v.possible,
                    "duration": v.duration,
                    "segments": [asdict(s) for s in v.segments],
                    "matches": [
                        {"t": m.t, "bbox": list(m.bbox), "similarity": m.similarity}
                        for m in v.matches
                    ],
                    **({} if v.reachable else {"reachable": False}),
                }
                for v in self.videos
            ],
            "images": [
                {
                    "path": i.path,
                    "score": i.score,
                    "possible": i.possible,
                    "bbox": list(i.bbox),
                    **({} if i.reachable else {"reachable": False}),
                }
                for i in self.images
            ],
        }


@dataclass(frozen=True)
class IndexedFile:
    """A file the library holds faces of (or tried to)."""

    path: str
    kind: MediaKind
    faces: int
    duration: float | None  # seconds; None for a photo
    reachable: bool = True  # False: not on this machine (a shared library's file elsewhere)


@dataclass(frozen=True)
class Appearance:
    """One appearance of a face in a file (a track; a photo's face): when, how many sampled
    faces, and its largest face."""

    start: float
    end: float
    faces: tuple[Moment, ...]  # every sampled face of it, in time order (similarity 0)
    face: Moment  # the largest of them


@dataclass(frozen=True)
class LibraryStatus:
    data_dir: str
    weights: str | None
    videos: int
    images: int
    faces: int
    failed: tuple[FileFailed, ...]
    files: tuple[tuple[str, str, int], ...]  # (path, status, faces) for every file
    store: str = "usearch"  # where the vectors live (engine/stores/choice.py)
    vectors: int | None = None  # held by the store as saved; None if it cannot be opened now
    vectors_behind: int | None = None  # catalog changes the saved store lacks (0: in step)
    catalog: str = ""  # where the catalog is: DATA_DIR/catalog.sqlite, or a PostgreSQL URI


@dataclass(frozen=True)
class Migration:
    """What `ris migrate` did."""

    source: str
    target: str
    vectors: int
    checked: int  # vectors compared between the two stores
    seconds: float


@dataclass(frozen=True)
class PersonFile:
    """A file a person appears in, with when (a photo: no segments)."""

    path: str
    kind: MediaKind
    segments: tuple[tuple[float, float], ...]  # (start, end) seconds, in time order
    duration: float | None = None  # a video's length


@dataclass(frozen=True)
class Person:
    """A person found across the library (engine/people/)."""

    id: int
    name: str | None
    files: int
    appearances: int
    seconds: float  # time on screen in videos, overlaps counted once
    first_seen: float | None  # the oldest of their files' times (seconds since the epoch)
    last_seen: float | None
    face_path: str  # their best face: the file, when and where
    face_t: float
    face_box: Box
    in_files: tuple[PersonFile, ...] = ()  # filled by `person`, not by `people`


@dataclass(frozen=True)
class PeopleCuts:
    """The similarities a library's appearances were grouped into people at, and how many
    pairs of faces seen at once each was read from (0: the default; engine/people/
    calibration.py)."""

    cut: float  # for anything holding a track (read from faces on screen together)
    pairs: int
    photo_cut: float  # for groups of photos alone (read from the faces of one photo)
    photo_pairs: int


@dataclass(frozen=True)
class PeopleList:
    """Everyone, most time on screen first (then most files), and how many appearances are
    in no one."""

    people: tuple[Person, ...]
    unsorted: int
    updated: bool  # whether this listing brought them up to date first
    cuts: PeopleCuts | None = None  # the similarities the last update grouped at (None: not known)
