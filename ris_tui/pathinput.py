"""An input for file and folder paths, completing them as you type (tab or → accepts)."""

from __future__ import annotations

import os
from pathlib import Path

from textual.binding import Binding
from textual.suggester import Suggester
from textual.widgets import Input


def completions(value: str) -> list[str]:
    """Every existing path that extends `value`, sorted (folders get a trailing slash)."""
    if not value:
        return []
    folder, prefix = os.path.split(os.path.expanduser(value))
    try:
        names = sorted(os.listdir(folder or "."))
    except OSError:
        return []
    if not prefix.startswith("."):
        names = [n for n in names if not n.startswith(".")]
    out = []
    for name in names:
        if not name.startswith(prefix):
            continue
        slash = "/" if os.path.isdir(os.path.join(folder, name)) else ""
        if name != prefix or slash:  # a folder typed in full still gains its slash
            out.append(value + name[len(prefix) :] + slash)
    return out


def complete(value: str) -> str | None:
    """What tab gives, as in a shell: the part all matches share, or the only match."""
    found = completions(value)
    if not found:
        return None
    shared = os.path.commonprefix(found)
    return shared if len(shared) > len(value) else None


class PathSuggester(Suggester):
    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        found = completions(value)
        return found[0] if found else None


class PathInput(Input):
    BINDINGS = [Binding("tab", "complete", "complete", show=False)]

    def __init__(self, **kw: object) -> None:
        super().__init__(suggester=PathSuggester(), **kw)  # type: ignore[arg-type]

    def action_complete(self) -> None:
        """Tab completes as far as the matches agree; with none, it moves on like tab anywhere."""
        if not self.cursor_at_end:
            self.screen.focus_next()
            return
        done = complete(self.value)
        if done:
            self.value = done
            self.cursor_position = len(self.value)
            return
        found = completions(self.value)
        if found:  # ambiguous: list them, as a shell does
            names = [
                os.path.basename(f.rstrip("/")) + ("/" if f.endswith("/") else "") for f in found
            ]
            more = f" … and {len(names) - 12} more" if len(names) > 12 else ""
            self.notify(
                "  ".join(names[:12]) + more, title="Matches (type more, or → takes the first)"
            )
        else:
            self.screen.focus_next()

    @property
    def path(self) -> Path:
        return Path(os.path.expanduser(self.value.strip()))
