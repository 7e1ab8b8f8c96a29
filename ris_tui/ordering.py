"""Which results a list shows, and in what order: words to find in the path, and a sort key,
over the engine's ranking (each row keeps its rank)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import Protocol, TypeVar

SORTS = {"videos": ("score", "name", "length"), "photos": ("score", "name")}


class Hit(Protocol):
    @property
    def path(self) -> str: ...


H = TypeVar("H", bound=Hit)


@dataclass(frozen=True)
class Ordering:
    sort: str = "score"  # score: the engine's ranking; name: file name A-Z; length: longest first
    text: str = ""  # every word of it in the path, any case, any order

    def apply(self, hits: Sequence[H]) -> list[tuple[int, H]]:
        """(rank, hit) of the hits shown, in the order shown."""
        words = self.text.casefold().split()
        rows = [
            (rank, hit)
            for rank, hit in enumerate(hits, 1)
            if all(word in hit.path.casefold() for word in words)
        ]
        if self.sort == "name":
            rows.sort(key=lambda row: (PurePath(row[1].path).name.casefold(), row[1].path))
        elif self.sort == "length":
            rows.sort(key=lambda row: -float(getattr(row[1], "duration", 0.0) or 0.0))
        return rows

    def next_sort(self, kind: str) -> Ordering:
        choices = SORTS[kind]
        at = choices.index(self.sort) if self.sort in choices else -1
        return replace(self, sort=choices[(at + 1) % len(choices)])

    def filtered(self, text: str) -> Ordering:
        return replace(self, text=text.strip())


class OrderedPane:
    """A pane listing results that the user may filter and sort: `ranked` as the engine gave
    them, shown through `ordering` by the pane's `_fill`."""

    ranked: tuple
    ordering: Ordering

    def show(self, hits: tuple) -> None:
        self.ranked = hits
        self._fill()

    def order(self, ordering: Ordering) -> None:
        """Show the results filtered and sorted anew, each with its rank."""
        self.ordering = ordering
        self._fill()

    def _fill(self) -> None:
        raise NotImplementedError
