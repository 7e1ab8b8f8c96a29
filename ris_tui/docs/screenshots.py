"""Screenshots of ris-tui's results in terminals with true colour, 256 and 16 colours, before
and after faces were drawn for the terminal's colours, rendered to PNG.

    python ris_tui/docs/screenshots.py DATA_DIR QUERY OUT_FOLDER

Each is the real app in tmux (160x48) searching QUERY in DATA_DIR, captured with
`tmux capture-pane -e` and drawn by capture_png.py as such a terminal shows it. "Before" is
the app drawing in true colour whatever the terminal (as it did until faces were drawn in the
palette's greys): the terminal then maps every colour to the nearest of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from capture_png import SYSTEMS, render

SHOTS = {  # name: (environment of the app, colours of the terminal)
    "truecolor": ({"TERM": "xterm-256color", "COLORTERM": "truecolor"}, "true"),
    "256-before": ({"TERM": "xterm-256color", "COLORTERM": "truecolor"}, "256"),
    "256-after": ({"TERM": "xterm-256color", "COLORTERM": ""}, "256"),
    "16-before": ({"TERM": "screen", "COLORTERM": "truecolor"}, "16"),
    "16-after": ({"TERM": "screen", "COLORTERM": ""}, "16"),
}


def capture(data_dir: Path, query: Path, env: dict[str, str]) -> str:
    tmux = ["tmux", "-L", f"ris-shot-{os.getpid()}"]
    app = f"{sys.executable} -m ris_tui.app --data-dir {data_dir}"
    subprocess.run([*tmux, "new-session", "-d", "-x", "160", "-y", "48", app], env=env, check=True)
    try:

        def screen() -> str:
            args = [*tmux, "capture-pane", "-e", "-p"]
            return subprocess.run(args, capture_output=True, text=True).stdout

        def wait(marker: str) -> None:
            end = time.monotonic() + 120
            while marker not in plain(screen()):
                if time.monotonic() > end:
                    raise RuntimeError(f"{marker!r} never appeared")
                time.sleep(0.1)

        wait("Type the path of a photo or clip")
        subprocess.run([*tmux, "send-keys", "-l", str(query)], check=True)
        subprocess.run([*tmux, "send-keys", "Enter"], check=True)
        wait("at similarity")
        time.sleep(3.0)  # the faces are drawn after the list
        return screen()
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def plain(screen: str) -> str:
    """The screen's characters, without its escapes."""
    from rich.text import Text

    return Text.from_ansi(screen).plain


def main() -> None:
    data_dir, query, out = (Path(a).resolve() for a in sys.argv[1:4])
    out.mkdir(parents=True, exist_ok=True)
    for name, (env, colors) in SHOTS.items():
        screen = capture(data_dir, query, {**os.environ, **env})
        (out / f"faces-{name}.ansi").write_text(screen)
        render(screen, SYSTEMS[colors]).save(out / f"faces-{name}.png", optimize=True)
        print(out / f"faces-{name}.png")


if __name__ == "__main__":
    main()
