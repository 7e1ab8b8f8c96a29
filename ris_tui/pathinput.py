"""An input for file and folder paths, completing them as you type (tab or → accepts)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from urllib.parse import unquote, urlparse

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


def typed_path(text: str) -> Path:
    """The path a box's text names: unquoted, unescaped, ~ expanded."""
    return Path(os.path.expanduser(dropped_path(text)))


def typed_paths(text: str) -> list[Path]:
    """The paths a query box's text names: one path (quoted, escaped, a URI, or a name with
    spaces that exists), or several quoted or escaped as a shell takes them, as terminals give
    several files dragged in at once ('a.jpg' 'b c.jpg'), when each of them exists."""
    one = typed_path(text)
    if one.exists():
        return [one]
    try:
        parts = shlex.split(text.strip())
    except ValueError:
        return [one]
    several = [typed_path(p if not p.startswith("file://") else dropped_path(p)) for p in parts]
    if len(several) > 1 and all(p.exists() for p in several):
        return several
    return [one]


def dropped_path(text: str) -> str:
    """A path as typed, pasted or dragged in: terminals and file managers quote it ('a b.mp4'),
    escape it (a\\ b.mp4) or give a file:// URI (a%20b.mp4); each becomes the plain path."""
    text = text.strip()
    if os.path.exists(os.path.expanduser(text)):
        return text  # a name that really has quotes or backslashes in it
    if text.startswith("file://"):
        return unquote(urlparse(text).path)
    if any(c in text for c in "'\"\\"):
        try:
            parts = shlex.split(text)
        except ValueError:  # an unbalanced quote: take it as it is
            return text
        if len(parts) == 1:
            return parts[0]
    return text


class PathSuggester(Suggester):
    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        found = completions(value)
        return found[0] if found else None


class PathInput(Input):
    """A path box with completion and, when given one, a history: up and down step through the
    paths entered before (as a shell does), newest first."""

    BINDINGS = [
        Binding("tab", "complete", "complete", show=False),
        Binding("up", "history(1)", "earlier", show=False),
        Binding("down", "history(-1)", "later", show=False),
    ]

    def __init__(self, history: list[str] | None = None, **kw: object) -> None:
        super().__init__(suggester=PathSuggester(), **kw)  # type: ignore[arg-type]
        self.history = history  # oldest first; None: no history kept
        self._back = 0  # how far back up has gone (0: what is being typed)
        self._typed = ""

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        if self._back == 0:
            self._typed = self.value
        self._back = max(0, min(len(self.history), self._back + step))
        self.value = self.history[-self._back] if self._back else self._typed
        self.cursor_position = len(self.value)

    def remember(self, path: str) -> None:
        """Keep an entered path (once, as the newest) and start again from the bottom."""
        self._back = 0
        if self.history is not None and path:
            if path in self.history:
                self.history.remove(path)
            self.history.append(path)

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
                "  ".join(names[:12]) + more,
                title="Matches (type more, or → takes the first)",
                markup=False,  # file names, which may hold "[/"
            )
        else:
            self.screen.focus_next()
