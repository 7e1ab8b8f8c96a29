"""The line above the footer: what ris-tui is doing or just did."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class StatusLine(Static):
    def say(self, text: str) -> None:
        """One line of plain text (never markup: file names may hold brackets)."""
        self.update(Text(text))
