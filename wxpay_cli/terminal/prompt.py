"""Asking the operator on a terminal, and refusing to hang when there is none.

`confirm_irreversible` is the one way to ask before something that cannot be
undone: what was typed before the question appeared is thrown away first, so a
`y` typed ahead (or a second `y` meant for an earlier question) cannot answer it.
"""

from __future__ import annotations

import io
import sys

import click

from wxpay_cli.errors import ConfigError
from wxpay_cli.i18n import _
from wxpay_cli.terminal import output


def interactive() -> bool:
    """True when a person can answer: stdin and stderr (where questions go) are terminals.

    The one place every command asks this, so wxpay asks instead of failing
    only where someone can see the question."""
    return sys.stdin.isatty() and sys.stderr.isatty()


MAX_TYPED_AHEAD = 4096  # keys dropped at most from a Windows console (never a loop without end)


def flush_typeahead() -> None:
    """Discard terminal input typed before now (nothing to do when stdin is not a terminal).
    POSIX: `termios.tcflush`. Windows: the console's pending keys, read and dropped (`msvcrt`)."""
    try:
        import termios
    except ImportError:
        _flush_console()
        return
    try:
        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # not a terminal: there is no type-ahead to drop


def _flush_console() -> None:
    try:
        import msvcrt
    except ImportError:
        return  # neither: nothing wxpay can drop
    for _key in range(MAX_TYPED_AHEAD):
        if not msvcrt.kbhit():
            break
        msvcrt.getwch()


# What a person may type, once full-width folded (ｙ is y), trimmed and in any case.
YES = frozenset({"y", "yes", "是"})
NO = frozenset({"n", "no", "否"})


def yes_or_no(question: str, *, default: bool) -> bool:
    """Ask until the answer is a yes or a no in either language (y/yes/是, n/no/否, full-width
    too); Enter alone is `default`. The question says what to type; any other answer is
    refused, saying it again. Ctrl-D or Ctrl-C abort as click's own questions do."""
    import unicodedata

    suffix = _(" [Y/n]: ") if default else _(" [y/N]: ")
    while True:
        typed = click.prompt(question, default="", show_default=False, err=True, prompt_suffix=suffix)
        answer = unicodedata.normalize("NFKC", typed).strip().casefold()
        if not answer:
            return default
        if answer in YES:
            return True
        if answer in NO:
            return False
        output.rejected(_("type y (yes) or n (no)"))


def confirm(question: str, *, default: bool) -> bool:
    """A yes/no question on stderr (a step that can still be undone)."""
    return yes_or_no(question, default=default)


def confirm_irreversible(question: str) -> bool:
    """Ask a yes/no question that guards an irreversible step; the default is no.

    Pending input is flushed right before the question is shown, so only an
    answer typed after seeing it counts. Pass `question` already sanitised.
    """
    flush_typeahead()
    return yes_or_no(question, default=False)


def ask(text: str, check=None, *, default: str | None = None, hide_input: bool = False):
    """click.prompt that re-asks while `check` raises ConfigError, showing why."""
    if hide_input and check is not None:
        # click masks every occurrence of a hidden answer in the error it shows: a
        # passphrase such as "wrong" or "key" would garble "wrong passphrase". The
        # messages of `check` never hold the answer, so they are shown whole here.
        while True:
            value = click.prompt(text, default=default, hide_input=True, err=True, show_default=False)
            try:
                return check(value)
            except ConfigError as exc:
                output.rejected(exc.message + (f" ({exc.hint})" if exc.hint else ""))

    def convert(value: str):
        if check is None:
            return value
        try:
            return check(value)
        except ConfigError as exc:
            raise click.BadParameter(exc.message + (f" ({exc.hint})" if exc.hint else "")) from None

    return click.prompt(text, default=default, hide_input=hide_input, value_proc=convert, err=True,
                        show_default=default not in (None, ""))
