"""The one sanitiser for text from outside on its way to a terminal.

Answer fields, unverified error bodies, headers echoed in messages, ids and file
contents may hold control characters (ESC, CSI U+009B, BEL, ...) or bidi
overrides that would rewrite what the operator sees. `for_terminal` escapes
them visibly. JSON keeps exact values: json.dumps escapes C0 controls itself,
and `json_text` escapes the rest (DEL, C1, bidi) as JSON `\\u` escapes, which parse back
to the same value.
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


def lines_for_terminal(text: str) -> str:
    """`for_terminal` line by line: the text's own line breaks are kept, nothing else."""
    return "\n".join(_UNSAFE.sub(_escape, line) for line in text.split("\n"))


_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def json_text(text: str) -> str:
    """JSON text (from json.dumps) with the characters it leaves raw escaped as \\uXXXX: same value."""
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
