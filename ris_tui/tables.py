"""Row tables that move with j/k as well as the arrows, and jump with g/G or Home/End."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.widgets import DataTable

from .formatting import short_path

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from textual.widgets.data_table import ColumnKey, RowKey

    from engine.results import IndexedFile, PhotoHit, VideoHit

STACK_BELOW = 100  # columns: a narrower terminal shows a list above its detail, not beside


def list_width(screen_width: int) -> int:
    """A result list's width: the screen's when stacked, else its 3/5 beside the detail."""
    return screen_width if screen_width < STACK_BELOW else screen_width * 3 // 5


class KeyTable(DataTable):
    BINDINGS = [
        Binding("j", "cursor_down", "down", show=False),
        Binding("k", "cursor_up", "up", show=False),
        Binding("g", "scroll_top", "first", show=False),
        Binding("G", "scroll_bottom", "last", show=False),
        # DataTable's own home/end go to the first and last column: a list of rows moves
        Binding("home", "scroll_top", "first", show=False),
        Binding("end", "scroll_bottom", "last", show=False),
    ]

    def __init__(self, **kw: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)  # type: ignore[arg-type]

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """DataTable sets its columns' widths here, on idle after cells or rows changed, but
        kept the lines it drew in between at the old widths: a widened column's header stayed
        narrow over its rows until the cursor moved. A new update count draws them anew."""
        super()._update_dimensions(new_rows)
        self._update_count += 1
        self.refresh()

    def fit_paths(
        self, column: ColumnKey, hits: Sequence[VideoHit | PhotoHit | IndexedFile], width: int
    ) -> None:
        """The path column's rows (keyed by their index) fitted to `width`, the column
        narrowing or widening with them, and drawn at once."""
        for i, hit in enumerate(hits):
            cell = short_path(hit.path, width, hit.reachable)
            self.update_cell(str(i), column, cell, update_width=True)
        # the header's cached line too: it kept the column's old width at times (a snapshot
        # caught the header of a widened column still narrow, about one run in two)
        self._clear_caches()
        self.refresh()

    @property
    def row(self) -> int | None:
        """The highlighted row, None when empty."""
        return self.cursor_row if self.row_count else None
