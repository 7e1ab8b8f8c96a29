"""The words every layer of the engine uses: kinds of media, states of a file, the embedding width,
and what a library records about itself.

Enum values are the strings the catalog stores, so catalogs written before these enums existed
open unchanged, and a value read back compares equal to its plain string.
"""

from __future__ import annotations

import sys
from enum import Enum

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover (Python 3.10)

    class StrEnum(str, Enum):
        def __str__(self) -> str:
            return str(self.value)


EMBEDDING_DIM = 512  # FaceNet's (InceptionResnetV1) output: the catalog's vector column, float32


class MediaKind(StrEnum):
    VIDEO = "video"
    IMAGE = "image"
    UNKNOWN = "unknown"  # a file that is neither (recorded only as failed)


class FileStatus(StrEnum):
    INDEXED = "indexed"
    FAILED = "failed"


class FaceUpscale(StrEnum):
    """How a face crop smaller than FaceNet's 160 px input is enlarged to it (fixed per index:
    a query is read the way its library's faces were)."""

    BILINEAR = "bilinear"  # smooth: FaceNet's training crops were resized so (the default)
    AREA = "area"  # each source pixel repeated as a block: ris before 2026-11-26, facenet-pytorch


class LibraryKey(StrEnum):
    """What a library records about itself, in the catalog's meta table (key -> text)."""

    LIBRARY_ID = "library_id"  # random hex naming the library (a shared store tells them apart)
    FACES_VERSION = "faces_version"  # bumped by every change to the faces; stores record theirs
    OUTBOX_TOKEN = "outbox_token"  # PostgreSQL: the shared store the outbox feeds ('' none)
    WEIGHTS_ID = "weights_id"  # 'sha256:<hex>' of the FaceNet weights, or the vggface2 name
    WEIGHTS_PATH = "weights_path"  # where those weights were read from
    FACE_MARGIN = "face_margin"  # crop margin in pixels of the 160 px crop
    FACE_UPSCALE = "face_upscale"  # how crops under 160 px are enlarged (none: 'area', older ris)
    BACKEND = "backend"  # usearch | milvus: the store the library was last indexed into
    MILVUS_URI = "milvus_uri"  # its Milvus Lite file or server ('' for usearch)
    MILVUS_COLLECTION = "milvus_collection"  # its Milvus collection ('' for usearch)
    PEOPLE_CUTS = "people_cuts"  # JSON: the cuts the last people update grouped at, and whence
