"""Asking the operator on a terminal, and refusing to hang when there is none."""

from __future__ import annotations

import sys

import click

from wxpay_cli.errors import ConfigError


def interactive() -> bool:
    """True when a person can answer: stdin and stderr (where questions go) are terminals.

    The one place every command asks this, so wxpay asks instead of failing
    only where someone can see the question."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def ask(text: str, check=None, *, default: str | None = None, hide_input: bool = False):
    """click.prompt that re-asks while `check` raises ConfigError, showing why."""

    def convert(value: str):
        if check is None:
            return value
        try:
            return check(value)
        except ConfigError as exc:
            raise click.BadParameter(exc.message + (f" ({exc.hint})" if exc.hint else "")) from None

    return click.prompt(text, default=default, hide_input=hide_input, value_proc=convert, err=True,
                        show_default=default not in (None, ""))
