"""How ris writes a time: the one clock format of the CLI, its progress bars and the TUI."""

from __future__ import annotations


def clock(seconds: float) -> str:
    """Seconds as m:ss.s (`1:05.5`), or h:mm:ss from an hour on (`1:02:03`)."""
    seconds = max(0.0, float(seconds))
    if seconds >= 3600:
        whole = int(seconds)
        return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"
