"""How the TUI writes times, scores and paths."""

from __future__ import annotations

import os

from rich.text import Text

from .backend import clock, printable  # the engine's one clock format and name escaping

__all__ = ["clock", "printable", "score_cell", "short_path"]


def short_path(path: str, width: int) -> str:
    """The path relative to the working directory where shorter, trimmed from the left to fit,
    with undecodable bytes and control characters escaped. The file name is never cut (up to
    40 characters of it): a narrow column shows "…/name.mp4" rather than "…me.mp4"."""
    try:
        rel = os.path.relpath(path)
        if len(rel) < len(path) and not rel.startswith("../.."):
            path = rel
    except ValueError:
        pass
    path = printable(path)
    width = max(width, min(len(os.path.basename(path)) + 2, 40))
    return path if len(path) <= width else "…" + path[-(width - 1) :]


def score_cell(score: float, possible: bool) -> Text:
    """A result's score; a possible match (below the threshold) dim, with a question mark, so
    it reads as one without colour too."""
    return Text(f"{score:.3f}?", style="dim") if possible else Text(f"{score:.3f}")
