"""A terminal screen captured by tmux (`tmux capture-pane -e -p`), drawn to PNG as a terminal
with true colour, 256 colours or 16 colours would show it.

    python ris_tui/docs/capture_png.py SCREEN.ansi OUT.png [--colors true|256|16]

Colours the terminal does not have are mapped the way terminals and tmux map them, to the
nearest of its palette (Rich's downgrade: the 6x6x6 cube and grey ramp, or the 16 ANSI
colours), so a true-colour picture shown on a 256-colour terminal comes out as users saw it.
Half-block characters are drawn as exact half cells, the rest with DejaVu Sans Mono.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from rich.color import Color, ColorSystem
from rich.style import Style
from rich.text import Text

CELL = (9, 18)  # pixels per character cell
FOREGROUND, BACKGROUND = (204, 204, 204), (0, 0, 0)  # the terminal's defaults
SYSTEMS = {"true": ColorSystem.TRUECOLOR, "256": ColorSystem.EIGHT_BIT, "16": ColorSystem.STANDARD}
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"

RGB = tuple[int, int, int]


def rgb(color: Color | None, system: ColorSystem, default: RGB) -> RGB:
    if color is None or color.is_default:
        return default
    shown = color.downgrade(system) if system != ColorSystem.TRUECOLOR else color
    t = shown.get_truecolor()
    return (t.red, t.green, t.blue)


def colours(style: Style, system: ColorSystem) -> tuple[RGB, RGB]:
    fg = rgb(style.color, system, FOREGROUND)
    bg = rgb(style.bgcolor, system, BACKGROUND)
    if style.reverse:
        fg, bg = bg, fg
    if style.dim:
        fg = (
            (fg[0] + bg[0]) // 2,
            (fg[1] + bg[1]) // 2,
            (fg[2] + bg[2]) // 2,
        )
    return fg, bg


def render(screen: str, system: ColorSystem) -> Image.Image:
    lines = screen.rstrip("\n").split("\n")
    texts = [Text.from_ansi(line) for line in lines]
    width = max((t.cell_len for t in texts), default=1)
    w, h = CELL
    image = Image.new("RGB", (width * w, len(texts) * h), BACKGROUND)
    draw = ImageDraw.Draw(image)
    regular = ImageFont.truetype(FONT, 14)
    bold = ImageFont.truetype(BOLD, 14)
    for row, text in enumerate(texts):
        y = row * h
        col = 0
        for chars, style in _segments(text):
            fg, bg = colours(style, system)
            for ch in chars:
                x = col * w
                draw.rectangle((x, y, x + w - 1, y + h - 1), fill=bg)
                if ch == "▀":
                    draw.rectangle((x, y, x + w - 1, y + h // 2 - 1), fill=fg)
                elif ch == "▄":
                    draw.rectangle((x, y + h // 2, x + w - 1, y + h - 1), fill=fg)
                elif ch == "█":
                    draw.rectangle((x, y, x + w - 1, y + h - 1), fill=fg)
                elif ch.strip():
                    font = bold if style.bold else regular
                    draw.text((x, y + 1), ch, fill=fg, font=font)
                col += 1
    return image


def _segments(text: Text) -> list[tuple[str, Style]]:
    """(characters, style) runs of a line, styles layered as Rich layers them."""
    plain = text.plain
    styles = [Style() for _ in plain]
    base = text.style if isinstance(text.style, Style) else Style()
    for span in text.spans:
        style = span.style if isinstance(span.style, Style) else Style.parse(str(span.style))
        for i in range(span.start, min(span.end, len(plain))):
            styles[i] = styles[i] + style
    runs: list[tuple[str, Style]] = []
    for ch, style in zip(plain, styles, strict=True):
        style = base + style
        if runs and runs[-1][1] == style:
            runs[-1] = (runs[-1][0] + ch, style)
        else:
            runs.append((ch, style))
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("screen", type=Path, help="tmux capture-pane -e -p output")
    ap.add_argument("out", type=Path, help="the PNG to write")
    ap.add_argument("--colors", choices=tuple(SYSTEMS), default="true")
    args = ap.parse_args()
    render(args.screen.read_text(), SYSTEMS[args.colors]).save(args.out, optimize=True)


if __name__ == "__main__":
    main()
