"""Help-text wrapping that knows Chinese characters take two columns.

click wraps help with `textwrap`, which counts characters and breaks only at
spaces: a Chinese paragraph (no spaces) becomes one line twice the terminal's
width. `commands._click.HelpFormatter` uses it for text with Chinese in it
(loaded only then); English text goes to click's own wrapper unchanged.
"""

from __future__ import annotations

import re
import unicodedata

# Never at the start of a line (closing punctuation), never at the end (opening).
_NO_START = set("，。、；：？！）》」』】〕…%,.;:?!)]}")
_NO_END = set("（《「『【〔([{")
# A `command` stays whole; else one Chinese character, an English word, or spaces.
_TOKEN = re.compile(r"`[^`\n]{1,60}`|[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]|\S+?(?=[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]|\s|$)|\s+")


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def is_wide(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in "WF" for ch in text)


def _join_lines(lines: list[str]) -> str:
    """A paragraph's lines as one: no space where a line break sat between Chinese characters."""
    out = ""
    for line in (line.strip() for line in lines):
        if out and line and not (is_wide(out[-1]) or is_wide(line[0])):
            out += " "
        out += line
    return out


def _fill(text: str, limit: int, first: str, rest: str) -> list[str]:
    lines: list[str] = []
    line: list[str] = []  # the tokens of the line being filled
    indent = first

    def used() -> int:
        return width(indent) + width("".join(line))

    tokens: list[str] = []
    for token in _TOKEN.findall(text):
        # A long list of names (a,b,c) may break after its commas, like a sentence.
        tokens += re.findall(r"[^,]+,?|,", token) if len(token) > 20 and "," in token else [token]
    for token in tokens:
        if token.isspace():
            if line:
                line.append(" ")
            continue
        if line and used() + width(token) > limit:
            carry: list[str] = []
            # Closing punctuation never starts a line: take the word before it along.
            if token[0] in _NO_START:
                while line and line[-1] != " " and len(line) > 1:
                    carry.insert(0, line.pop())
                    if carry[0][0] not in _NO_START:
                        break
            # An opening bracket never ends one.
            while len(line) > 1 and line[-1] in _NO_END:
                carry.insert(0, line.pop())
            if line:
                lines.append(indent + "".join(line).rstrip())
                indent, line = rest, [t for t in carry if t != " " or line]
            else:
                line = carry
        line.append(token)
    if "".join(line).strip():
        lines.append(indent + "".join(line).rstrip())
    return lines


def wrap(text: str, width: int = 78, initial_indent: str = "", subsequent_indent: str = "",
         preserve_paragraphs: bool = False) -> str:
    """Like `click.wrap_text`, by display width, for text with Chinese in it."""
    text = text.expandtabs()
    if not preserve_paragraphs:
        return "\n".join(_fill(_join_lines(text.splitlines()), width, initial_indent, subsequent_indent))
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text.strip("\n")):
        lines = paragraph.splitlines()
        if lines and lines[0].strip() == "\b":  # click's "do not rewrap" marker
            out.append("\n".join(initial_indent + line for line in lines[1:]))
            continue
        indent = " " * (len(lines[0]) - len(lines[0].lstrip())) if lines else ""
        out.append("\n".join(_fill(_join_lines(lines), width, initial_indent + indent, subsequent_indent + indent)))
    return "\n\n".join(out)
