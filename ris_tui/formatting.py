"""How the TUI writes times, scores and paths."""

from __future__ import annotations

import os

from rich.text import Text

from .backend import clock, printable  # the engine's one clock format and name escaping

__all__ = ["clock", "count", "keys_line", "plain", "printable", "score_cell", "short_path"]


def count(n: int, noun: str) -> str:
    """ "1 file", "2 files"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def plain(text: str, style: str = "") -> Text:
    """Text shown as it is written: file names, reasons and messages are never markup."""
    return Text(text, style=style)


AWAY = "⊘ "  # before a path whose file is not reachable on this machine


def short_path(path: str, width: int, reachable: bool = True) -> Text:
    """The path relative to the working directory where shorter, fitted to `width`: trimmed
    from the left ("…/name.mp4"), and when the file name alone is too long, cut in its middle
    so that its start and its end (a number, the extension) stay ("WDA_Alex…_000.mp4").
    Undecodable bytes and control characters are escaped; the result is plain text, never
    markup (a name may hold "[/" or "[bold]"). A file not reachable here (a shared library's
    file on a share not mounted on this machine) is marked, dim."""
    if not reachable:
        return Text(AWAY + _fitted(path, width - len(AWAY)), style="dim")
    return Text(_fitted(path, width))


def _fitted(path: str, width: int) -> str:
    try:
        rel = os.path.relpath(path)
        if len(rel) < len(path) and not rel.startswith("../.."):
            path = rel
    except ValueError:
        pass
    path = printable(path)
    width = max(width, 8)
    if len(path) <= width:
        return path
    name = os.path.basename(path)
    if len(name) + 2 <= width:
        return "…" + path[-(width - 1) :]
    head = (width - 1) // 2
    return name[:head] + "…" + name[-(width - 1 - head) :]


def score_cell(score: float, possible: bool) -> Text:
    """A result's score; a possible match (below the threshold) dim, with a question mark, so
    it reads as one without colour too."""
    return Text(f"{score:.3f}?", style="dim") if possible else Text(f"{score:.3f}")


def keys_line(keys: tuple[tuple[str, str], ...]) -> Text:
    """A screen's own keys in one line: each key in bold, then what it does."""
    return Text.assemble(*(part for key, does in keys for part in ((key, "bold"), f" {does}  ")))
