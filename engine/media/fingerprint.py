"""A file's fingerprint: what recognises a moved or renamed file, so that it is not embedded
again (`ris index` after reorganising an archive).

Its size and a BLAKE2b hash of its first and last 64 KiB: two small reads, however large the
file. A video's container header and index sit at its ends, and an edit to a media file
changes its size or those ends in practice, so a match is the same file at a new path.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PART = 64 * 1024  # bytes read from each end


def fingerprint(path: Path | str) -> bytes | None:
    """The file's fingerprint (16 bytes), or None where it cannot be read now."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            digest = hashlib.blake2b(size.to_bytes(8, "little"), digest_size=16)
            digest.update(f.read(PART))
            if size > PART:
                f.seek(max(PART, size - PART))
                digest.update(f.read(PART))
    except OSError:
        return None
    return digest.digest()
