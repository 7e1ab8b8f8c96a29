"""How long ris-tui takes to draw its first screen, in a real terminal (tmux), against a
minimal Textual app measured the same way in the same run.

    python -m ris_tui.bench [--runs 5] [--data-dir DIR]
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ris_tui.bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    args = parser.parse_args(argv)
    if shutil.which("tmux") is None:
        print("needs tmux (apt-get install tmux)", file=sys.stderr)
        return 2
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
