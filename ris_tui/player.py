"""Opening a video at a moment in the user's player, or saying how to where there is none.

RIS_PLAYER is a command line; {path} and {t} (seconds) are filled in, and the path is appended
when there is no {path}. Otherwise mpv, vlc or ffplay is used, whichever is found first.

Where there is no display (over SSH), a video can still play in the terminal itself:
RIS_TERMINAL_PLAYER (with {path}, {t} and {end}), else mpv drawing in text cells (--vo=tct),
while ris-tui steps aside (it suspends, and comes back when the player ends).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass

KNOWN = (
    ("mpv", "mpv --start={t} {path}"),
    ("vlc", "vlc --start-time={t} {path}"),
    ("ffplay", "ffplay -ss {t} {path}"),
)


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    found: bool  # False: nothing to run it with; show the command instead
    why_not: str = ""  # when not found

    @property
    def text(self) -> str:
        return shlex.join(self.argv)


def player_command(path: str, t: float, env: dict[str, str] | None = None) -> Launch:
    """A video at `t` seconds in RIS_PLAYER, else mpv, vlc or ffplay."""
    seconds = f"{max(t, 0.0):.2f}"
    missing = "no mpv, vlc or ffplay found (set RIS_PLAYER)"
    return _launch("RIS_PLAYER", KNOWN, missing, path, {"{t}": seconds}, env)


def _launch(
    variable: str,
    known: tuple[tuple[str, str], ...],
    missing: str,
    path: str,
    fill: dict[str, str],
    env: dict[str, str] | None,
    display: bool = True,
) -> Launch:
    """The command line of `variable`, else of the first program of `known` found, with
    `fill`'s fields and {path} filled in (the path appended where there is no {path}).
    `display`: the program needs one (not found on Linux without one)."""
    env = dict(os.environ) if env is None else env
    template = env.get(variable, "").strip()
    found, why_not = bool(template), ""
    if not template:
        for exe, line in known:
            if shutil.which(exe, path=env.get("PATH")):
                template, found = line, True
                break
        else:
            template, why_not = known[0][1], missing
        if found and display and sys.platform.startswith("linux") and not _has_display(env):
            found, why_not = False, "no display here (an SSH session?); run it where you watch"
    argv = shlex.split(template)
    for field, value in fill.items():
        argv = [part.replace(field, value) for part in argv]
    if any("{path}" in part for part in argv):
        argv = [part.replace("{path}", path) for part in argv]
    else:
        argv.append(path)
    return Launch(argv, found, why_not)


IN_TERMINAL = (("mpv", "mpv --vo=tct --really-quiet --start={t} --end={end} {path}"),)


def terminal_player_command(
    path: str, t: float, end: float, env: dict[str, str] | None = None
) -> Launch:
    """A video from `t` to `end` seconds played in this terminal: RIS_TERMINAL_PLAYER, else
    mpv's text-cell output; found where one of them is (a display is not needed)."""
    env = dict(os.environ) if env is None else env
    fill = {"{t}": f"{max(t, 0.0):.2f}", "{end}": f"{max(end, t):.2f}"}
    missing = "no mpv to play in the terminal (set RIS_TERMINAL_PLAYER)"
    return _launch("RIS_TERMINAL_PLAYER", IN_TERMINAL, missing, path, fill, env, display=False)


VIEWERS = (
    ("xdg-open", "xdg-open {path}"),
    ("open", "open {path}"),  # macOS
    ("feh", "feh {path}"),
    ("imv", "imv {path}"),
    ("eog", "eog {path}"),
)


def viewer_command(path: str, env: dict[str, str] | None = None) -> Launch:
    """A photo in RIS_VIEWER, else the desktop's viewer (a player would not show it)."""
    missing = "no image viewer found (set RIS_VIEWER)"
    return _launch("RIS_VIEWER", VIEWERS, missing, path, {}, env)


def _has_display(env: dict[str, str]) -> bool:
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def play_here(cmd: Launch) -> int:
    """Run a terminal player in this terminal until it ends (the caller has given the terminal
    up to it); its exit status. Raises OSError."""
    return subprocess.run(cmd.argv).returncode


def launch(cmd: Launch) -> None:
    """Start the player detached from the terminal (the TUI keeps it). Raises OSError."""
    subprocess.Popen(
        cmd.argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
