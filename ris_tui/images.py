"""Pictures in the terminal: sixel or kitty graphics where the terminal has them, else half-blocks.

The protocol must be chosen before the app starts (textual-image asks the terminal, which is
impossible once Textual owns it). Inside tmux or screen, and whenever stdout is not a terminal,
ris uses Unicode half-blocks: two pixels per cell, readable over any SSH link.

Half-blocks are drawn for the colours the terminal has (what Rich reads from `COLORTERM` and
`TERM`): true colour as is; in a 256-colour terminal (tmux's default, most SSH sessions) in the
palette's 24-step grey ramp, since colours mapped to the nearest of the palette's 216 come out
speckled; in a 16-colour terminal (`TERM=linux`, `screen`) in its four greys, ordered-dithered.
In both, a picture's greys are first stretched over the palette's (2nd to 98th percentile), so
that each level is used. A face stays recognisable in each.
"""

from __future__ import annotations

import os
import sys

import numpy as np
from PIL import Image
from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

MODES = ("auto", "halfblocks", "sixel", "kitty", "none")
_mode = "halfblocks"


def choose_mode(wanted: str = "auto") -> str:
    """Pick how pictures are drawn; call once, before the app runs. Returns the mode in force."""
    global _mode
    if wanted not in MODES:
        raise ValueError(f"unknown image mode {wanted!r}: pick one of {', '.join(MODES)}")
    if wanted == "auto":
        wanted = _detect()
    if wanted in ("sixel", "kitty"):
        import textual_image.widget  # noqa: F401  (measures the cell size while it still can)
    _mode = wanted
    return _mode


def mode() -> str:
    return _mode


def _detect() -> str:
    term = os.environ.get("TERM", "")
    multiplexed = "TMUX" in os.environ or term.startswith(("screen", "tmux"))
    if multiplexed or not sys.stdout.isatty() or not sys.stdin.isatty():
        return "halfblocks"
    try:  # asks the terminal (about 0.2 s at most)
        from textual_image.renderable import Image as Detected
        from textual_image.renderable.sixel import Image as Sixel
        from textual_image.renderable.tgp import Image as Kitty
    except Exception:
        return "halfblocks"
    return {Sixel: "sixel", Kitty: "kitty"}.get(Detected, "halfblocks")


class HalfBlocks(Widget):
    """An image scaled into the widget, each cell an upper half-block: fg the top pixel, bg the bottom."""

    DEFAULT_CSS = "HalfBlocks { width: 1fr; height: 1fr; }"

    def __init__(self, image: Image.Image | None = None, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._image = image
        self._rows: list[Strip] = []
        self._drawn_size: tuple[int, int] = (0, 0)

    def set_image(self, image: Image.Image | None) -> None:
        self._image = image
        self._drawn_size = (0, 0)
        self.refresh()

    def _scale(self, width: int, height: int) -> list[Strip]:
        if self._image is None or width < 1 or height < 1:
            return []
        im = self._image.convert("RGB")
        scale = min(width / im.width, 2 * height / im.height)
        w, h = max(1, int(im.width * scale)), max(2, int(im.height * scale))
        h += h % 2
        px = np.asarray(im.resize((w, h), Image.Resampling.LANCZOS))
        system = self.app.console.color_system
        colours = cell_colours(px, system)
        box = self._image.info.get("box")  # a matched face (thumbnails.boxed)
        if box is not None:
            x1, y1, x2, y2 = (float(v) for v in box)
            sx, sy = w / im.width, h / im.height
            mark_box(colours, (x1 * sx, y1 * sy, x2 * sx, y2 * sy), system)
        rows = []
        for y in range(0, h, 2):
            segments = [
                Segment("▀", Style(color=colours[y][x], bgcolor=colours[y + 1][x]))
                for x in range(w)
            ]
            rows.append(Strip(segments, w))
        return rows

    def render_line(self, y: int) -> Strip:
        size = (self.size.width, self.size.height)
        if size != self._drawn_size:
            self._rows, self._drawn_size = self._scale(*size), size
        if y < len(self._rows):
            return self._rows[y]
        return Strip.blank(self.size.width, self.rich_style)  # styled: filters (NO_COLOR) read it


MARK = {"truecolor": "rgb(255,214,0)", "256": "color(226)"}  # else 16 colours: bright yellow


def mark_box(colours: list[list[str]], box: tuple[float, ...], system: str | None) -> None:
    """Draw a box one pixel wide into the pixels' colours, after they are scaled and mapped to
    the terminal's palette: the yellow frame drawn on the photo itself is a pixel or two wide
    once scaled to a few dozen cells, and a grey among greys in 256 or 16 colours (the matched
    face of a group photo was not marked at all in 16)."""
    if system is None or not colours:
        return  # no colour at all (NO_COLOR): the frame drawn on the photo is all there is
    h, w = len(colours), len(colours[0])
    colour = MARK.get(system, "color(11)")
    x1, x2 = (int(np.clip(round(v), 0, w - 1)) for v in (box[0], box[2]))
    y1, y2 = (int(np.clip(round(v), 0, h - 1)) for v in (box[1], box[3]))
    for x in range(x1, x2 + 1):
        colours[y1][x] = colours[y2][x] = colour
    for y in range(y1, y2 + 1):
        colours[y][x1] = colours[y][x2] = colour


def cell_colours(px: np.ndarray, system: str | None) -> list[list[str]]:
    """A colour for each pixel of an (H, W, 3) image, for a terminal with Rich's colour
    `system` ("truecolor", "256", "standard", "windows" or None)."""
    if system in ("truecolor", None):  # None: no colour at all; Textual's filter greys it
        return [[f"rgb({r},{g},{b})" for r, g, b in row] for row in px]
    grey = px.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    lo, hi = np.percentile(grey, [2, 98]) if grey.size else (0.0, 255.0)
    if hi - lo > 16:  # stretched over the palette's greys: a few levels, each one used
        grey = np.clip((grey - lo) * (255.0 / (hi - lo)), 0, 255)
    if system == "256":  # black, the ramp 232-255 (8 to 238), white: 26 even steps
        levels = np.array([0, *range(8, 239, 10), 255], np.float32)
        codes = np.array([16, *range(232, 256), 231])
        pick = np.abs(grey[..., None] - levels).argmin(axis=2)
        return [[f"color({c})" for c in row] for row in codes[pick]]
    # 16 colours: black, bright black, white, bright white, ordered (Bayer 4x4) dithering
    levels = np.array([0, 128, 192, 255], np.float32)
    codes = np.array([0, 8, 7, 15])
    bayer = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]]) / 16 - 0.5
    h, w = grey.shape
    step = np.interp(grey, levels, np.arange(4))  # 0..3 between the levels
    threshold = np.tile(bayer, (h // 4 + 1, w // 4 + 1))[:h, :w]
    pick = np.clip(np.floor(step + 0.5 + threshold), 0, 3).astype(int)
    return [[f"color({c})" for c in row] for row in codes[pick]]


class Picture(Vertical):
    """A picture with a caption below it, drawn the way choose_mode() decided."""

    DEFAULT_CSS = """
    Picture { width: 1fr; height: 1fr; margin: 0 1 0 0; }
    Picture > .picture { height: 1fr; }
    Picture > .caption { height: 1; width: 1fr; content-align: center middle; color: $text-muted; }
    """

    def __init__(self, image: Image.Image | None = None, caption: str = "", **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._image = image
        self._caption = caption

    def compose(self) -> ComposeResult:
        yield Static(self._caption, classes="caption", markup=False)
        yield _picture_widget(self._image)


def grid_columns(count: int, width: int, height: int) -> int:
    """How many columns lay out `count` square pictures largest in a width x height cell
    area (each with a caption row and a column of margin; a cell is two pixels tall)."""
    best, best_side = 1, -1.0
    for columns in range(1, count + 1):
        rows = -(-count // columns)
        side = min(width / columns - 1, 2 * (height / rows - 1))
        if side > best_side + 0.5:  # fewer columns only when clearly larger
            best, best_side = columns, side
    return best


class Gallery(Grid):
    """Pictures laid out in as many columns as makes them largest in the room there is: a row
    when wide, two by two or a column when tall."""

    DEFAULT_CSS = """
    Gallery { grid-size: 1; grid-gutter: 0; }
    """

    def show(self, pictures: list[Picture]) -> None:
        self.remove_children()
        self._fit(len(pictures))
        if pictures:
            self.mount_all(pictures)

    def on_resize(self) -> None:
        self._fit(len(self.children))

    def _fit(self, count: int) -> None:
        columns = grid_columns(count, self.size.width or 80, self.size.height or 12)
        self.styles.grid_size_columns = columns
        self.styles.grid_size_rows = max(1, -(-count // columns))


def _picture_widget(image: Image.Image | None) -> Widget:
    if _mode == "none" or image is None:
        return Static("", classes="picture")
    if _mode in ("sixel", "kitty"):
        from textual_image.widget import SixelImage, TGPImage

        cls = SixelImage if _mode == "sixel" else TGPImage
        return cls(image, classes="picture")
    return HalfBlocks(image, classes="picture")
