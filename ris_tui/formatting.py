"""How the TUI writes times, scores and paths."""

from __future__ import annotations

import os


def clock(t: float) -> str:
    """Seconds as m:ss.s (h:mm:ss past an hour)."""
    if t >= 3600:
        return f"{int(t // 3600)}:{int(t % 3600 // 60):02d}:{int(t % 60):02d}"
    return f"{int(t // 60)}:{t % 60:04.1f}"


def short_path(path: str, width: int) -> str:
    """The path relative to the working directory where shorter, trimmed from the left to fit."""
    try:
        rel = os.path.relpath(path)
        if len(rel) < len(path) and not rel.startswith("../.."):
            path = rel
    except ValueError:
        pass
    return path if len(path) <= width else "…" + path[-(width - 1) :]
