"""File names as people read them.

A Linux file name is any bytes but `/` and NUL: Python carries the bytes that are not UTF-8 as
lone surrogates (surrogateescape), and a name may hold a newline or a terminal escape. Text
meant for a terminal shows those as backslash escapes, the way `ls -b` does; JSON keeps the
exact name (an undecodable byte 0xNN is written `\\udcNN`, so `os.fsencode` gives the bytes
back).
"""

from __future__ import annotations

import os
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(name: str | os.PathLike[str]) -> str:
    """`name` with undecodable bytes and control characters as escapes: 'caf\\xe9\\n.mp4'."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: _NAMED.get(m[0], f"\\x{ord(m[0]):02x}"), text)
