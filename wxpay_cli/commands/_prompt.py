"""Asking the operator on a terminal, and refusing to hang when there is none."""

from __future__ import annotations

import sys

import click

from wxpay_cli.errors import ConfigError


def interactive() -> bool:
    """True when stdin is a terminal, so wxpay may ask instead of failing."""
    return sys.stdin.isatty()


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
