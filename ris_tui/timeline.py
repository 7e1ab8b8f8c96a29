"""A video's timeline: the whole duration as a bar, matching segments marked, possible ones
shaded, one selected, and its shot cuts where they are known."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from .formatting import clock

_WINS = (0, 3, 1, 2)  # which mark a shared cell shows: the later wins


class Timeline(Widget):
    DEFAULT_CSS = """
    Timeline { height: 2; width: 1fr; }
    """

    selected: reactive[int | None] = reactive(None)

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.duration = 0.0
        self.segments: list[tuple[float, float]] = []
        self.possible: frozenset[int] = frozenset()
        self.cuts: tuple[float, ...] = ()

    def show(
        self,
        duration: float,
        segments: list[tuple[float, float]],
        possible: frozenset[int] = frozenset(),
        cuts: tuple[float, ...] = (),
    ) -> None:
        """`possible`: the indices of segments below the threshold (shaded, not solid);
        `cuts`: the video's shot cuts (seconds), each a thin bar."""
        self.duration, self.segments, self.possible = duration, segments, possible
        self.cuts = cuts
        self.selected = 0 if segments else None
        self.refresh()

    def cut_cells(self, width: int) -> set[int]:
        """The cells where a shot starts."""
        if self.duration <= 0 or width <= 0:
            return set()
        return {min(width - 1, int(c / self.duration * width)) for c in self.cuts}

    def cells(self, width: int) -> list[int]:
        """Per cell: 0 no match, 1 a segment, 2 the selected segment, 3 a possible segment.
        Where they share a cell the selected segment wins, then a match's, then a possible."""
        out = [0] * width
        if self.duration <= 0 or width <= 0:
            return out
        for i, (start, end) in enumerate(self.segments):
            mark = 2 if i == self.selected else 3 if i in self.possible else 1
            lo = min(width - 1, int(start / self.duration * width))
            hi = max(lo + 1, min(width, round(end / self.duration * width)))
            for c in range(lo, hi):
                out[c] = max(out[c], mark, key=_WINS.index)
        return out

    def render(self) -> Text:
        width = self.size.width
        if not self.duration or width < 10:
            return Text("")
        styles = {0: ("─", "dim"), 1: ("█", "green"), 2: ("█", "bold yellow"), 3: ("░", "green")}
        bar = Text()
        cuts = self.cut_cells(width)
        for k, c in enumerate(self.cells(width)):
            char, style = styles[c]
            bar.append(*(("┃", "magenta") if k in cuts else (char, style)))
        labels = Text()
        if self.selected is not None:
            start = self.segments[self.selected][0]
            pos = min(width - 1, int(start / self.duration * width))
            mark = f"▲{clock(start)}"
            if pos > len(clock(0)):
                labels.append(clock(0), "dim")
            pad = max(len(labels), min(pos, width - len(mark) - len(clock(self.duration)) - 1))
            labels.append(" " * (pad - len(labels)))
            labels.append(mark, "yellow")
        else:
            labels.append(clock(0), "dim")
        end = clock(self.duration)
        labels.append(" " * max(1, width - len(labels) - len(end)))
        labels.append(end, "dim")
        return Text("\n").join([bar, labels])

    def watch_selected(self) -> None:
        self.refresh()
