"""Options that take several values after one flag, as ``az backup`` writes them.

``az`` takes ``--diskslist 0 1`` (space separated); Click wants ``--diskslist 0 --diskslist
1``. ``expand`` rewrites the first form (and ``--diskslist 0,1``) into the second before Click
parses, so every form works: repeated flags, spaces, commas.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MULTI_VALUE_OPTIONS = frozenset({"--diskslist"})
_LUN = re.compile(r"^-?\d+$")


def _values(token: str) -> list[str] | None:
    """The LUNs in ``token`` (``"1"``, ``"-1"``, ``"0,1"``), or None if it is no list of them."""
    parts = [p for p in token.split(",") if p]
    return parts if parts and all(_LUN.match(p) for p in parts) else None


def expand(argv: Sequence[str]) -> list[str]:
    """``argv`` with each multi-value option's values after it given one flag each. A value
    that is not a LUN list is left for Click to refuse (or to parse as the next option)."""
    out: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        token = args[i]
        flag, eq, inline = token.partition("=")
        if token == "--":
            return out + args[i:]
        if flag not in MULTI_VALUE_OPTIONS:
            out.append(token)
            i += 1
            continue
        i += 1
        pending = [inline] if eq else []
        if not eq:
            while i < len(args) and _values(args[i]) is not None:
                pending.append(args[i])
                i += 1
        values = [v for p in pending for v in (_values(p) or [p])]
        if not values:
            out.append(token)  # no value: Click reports it
        for value in values:
            out += [flag, value]
    return out
