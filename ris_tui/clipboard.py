"""Copying for the user: by OSC 52 to the terminal, and inside tmux into tmux's own buffer.

The app sends OSC 52 itself (Textual's `copy_to_clipboard`); whether it arrives cannot be known
in general. Inside tmux it can: tmux's default (`set-clipboard external`) drops an application's
OSC 52, so a copy that only sent it said "Copied" and copied nothing. There the text also goes
into tmux's paste buffer (`tmux load-buffer -w -`: prefix ] pastes it), which tmux passes on to
the terminal's clipboard itself unless `set-clipboard` is off, and the user is told which.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

FIX = "`set -g set-clipboard on` in ~/.tmux.conf"


@dataclass(frozen=True)
class Copied:
    """What a copy did, in the words the user is told."""

    title: str
    how: str = ""  # where it went, how to paste it, or what to change
    done: bool = True


def copy_beside(text: str, env: dict[str, str] | None = None) -> Copied:
    """Whatever copying the terminal needs beyond the OSC 52 the app has sent, and what it did."""
    env = dict(os.environ) if env is None else env
    if "TMUX" not in env or not shutil.which("tmux", path=env.get("PATH")):
        return Copied("Copied (OSC 52)")  # the terminal's: nothing here says otherwise
    mode = _tmux(["show-options", "-gv", "set-clipboard"], env)
    to_both = _tmux(["load-buffer", "-w", "-"], env, text) is not None
    buffered = to_both or _tmux(["load-buffer", "-"], env, text) is not None  # tmux < 3.2: no -w
    if mode == "on":
        return Copied("Copied (OSC 52, and tmux's buffer: prefix ] pastes)")
    if to_both and mode == "external":
        return Copied("Copied (tmux's buffer and clipboard: prefix ] pastes)")
    if buffered:
        return Copied("Copied to tmux's buffer only", f"prefix ] pastes; for the clipboard: {FIX}")
    return Copied("Not copied", f"tmux drops clipboard copies: {FIX}", done=False)


def _tmux(args: list[str], env: dict[str, str], stdin: str | None = None) -> str | None:
    """tmux's answer (stripped), None where it failed."""
    try:
        run = subprocess.run(
            ["tmux", *args], input=stdin, capture_output=True, text=True, timeout=2, env=env
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return run.stdout.strip() if run.returncode == 0 else None
