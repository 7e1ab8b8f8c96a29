"""The queries searched in one library, kept in its data directory for ↑ and ↓ in the query
box. Best effort: a library on a read-only disk still searches, without a history."""

from __future__ import annotations

import os
from pathlib import Path

FILE_NAME = "tui-query-history"  # in the data directory: the queries of this library
KEPT = 200


class QueryHistory:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def load(self) -> list[str]:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if line][-KEPT:]

    def save(self, history: list[str]) -> None:
        try:
            if self.path.parent.is_dir():
                flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                fd = os.open(self.path, flags, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as fh:
                    fh.write("".join(f"{line}\n" for line in history[-KEPT:]))
        except OSError:
            pass
