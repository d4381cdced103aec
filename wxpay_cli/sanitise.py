"""The one sanitiser for text from outside on its way to a terminal.

Answer fields, unverified error bodies, headers echoed in messages, ids and file
contents may hold control characters (ESC, CSI U+009B, BEL, ...) or bidi
overrides that would rewrite what the operator sees. `for_terminal` escapes
them visibly; JSON output needs none of this (json.dumps escapes on its own).
"""

from __future__ import annotations

import re

# C0 controls except none (tab and newline are escaped too: one value, one line),
# DEL, C1 controls, and the bidi embeddings, overrides and isolates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(value: object) -> str:
    """`value` as text that cannot control the terminal or reorder what is shown."""
    return _UNSAFE.sub(_escape, "" if value is None else str(value))
