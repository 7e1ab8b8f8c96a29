"""How long ris-tui takes to draw its first screen, in a real terminal (tmux), against a
minimal Textual app measured the same way in the same run; with --first-search PHOTO, how long
its first search takes to answer when the photo's path is typed DELAY seconds after launch.

    python -m ris_tui.bench [--runs 5] [--data-dir DIR] [--first-search PHOTO [--delay 3]]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MINIMAL = (
    "from textual.app import App\nfrom textual.widgets import Static\n"
    "class A(App):\n    def compose(self):\n        yield Static('READY')\nA().run()\n"
)


def first_draw(command: str, marker: str, timeout: float = 30.0) -> float:
    """Seconds from starting `command` in a fresh tmux window until `marker` is on screen."""
    server = f"ris-bench-{time.monotonic_ns()}"
    tmux = ["tmux", "-L", server]
    t0 = time.monotonic()
    subprocess.run([*tmux, "new-session", "-d", "-x", "120", "-y", "40", command], check=True)
    try:
        while time.monotonic() - t0 < timeout:
            shown = subprocess.run(
                [*tmux, "capture-pane", "-p"], capture_output=True, text=True
            ).stdout
            if marker in shown:
                return time.monotonic() - t0
            time.sleep(0.01)
        raise RuntimeError(f"{marker!r} did not appear within {timeout} s")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def first_search(command: str, photo: Path, delay: float, timeout: float = 60.0) -> float:
    """Seconds from Enter until the results of a photo search are on screen, the path typed
    `delay` seconds after `command` started in a fresh tmux window (as a person would)."""
    server = f"ris-bench-{time.monotonic_ns()}"
    tmux = ["tmux", "-L", server]

    def until(marker: str) -> float:
        while time.monotonic() - t0 < timeout + delay:
            shown = subprocess.run(
                [*tmux, "capture-pane", "-p"], capture_output=True, text=True
            ).stdout
            if marker in shown:
                return time.monotonic()
            time.sleep(0.01)
        raise RuntimeError(f"{marker!r} did not appear within {timeout} s")

    t0 = time.monotonic()
    subprocess.run([*tmux, "new-session", "-d", "-x", "120", "-y", "40", command], check=True)
    try:
        until("Type the path of a photo or clip")
        time.sleep(max(0.0, t0 + delay - time.monotonic()))
        subprocess.run([*tmux, "send-keys", "-l", str(photo)], check=True)
        enter = time.monotonic()
        subprocess.run([*tmux, "send-keys", "Enter"], check=True)
        return until("at similarity") - enter
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ris_tui.bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--first-search", type=Path, metavar="PHOTO")
    parser.add_argument("--delay", type=float, default=3.0, help="seconds from launch to typing")
    args = parser.parse_args(argv)
    if shutil.which("tmux") is None:
        print("needs tmux (apt-get install tmux)", file=sys.stderr)
        return 2
    if args.first_search:
        app = f"{sys.executable} -m ris_tui.app --data-dir {args.data_dir}"
        times = [
            first_search(app, args.first_search.resolve(), args.delay) for _ in range(args.runs)
        ]
        print(
            f"ris-tui's first photo search, typed {args.delay:g} s after launch: answered "
            f"{statistics.median(times):.2f} s after enter, median of {args.runs} "
            f"(runs: {', '.join(f'{t:.2f}' for t in times)})"
        )
        return 0
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(MINIMAL)
    py = sys.executable
    cases = {
        "minimal Textual app": (f"{py} {f.name}", "READY"),
        "ris-tui": (f"{py} -m ris_tui.app --data-dir {args.data_dir}", "Videos"),
    }
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, (cmd, marker) in cases.items():  # interleaved, so load affects both alike
            results[name].append(first_draw(cmd, marker))
    Path(f.name).unlink()
    base = statistics.median(results["minimal Textual app"])
    print(f"time to first screen in tmux, median of {args.runs} (data dir {args.data_dir})")
    for name, times in results.items():
        med = statistics.median(times)
        print(
            f"  {name:20s} {med:6.3f} s  (max {max(times):.3f} s, {med / base:.2f}x the minimal app)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
