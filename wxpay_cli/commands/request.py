"""`wxpay request`: any APIv3 call, signed and verified (the escape hatch)."""

from __future__ import annotations

import json
import re
import sys
from urllib.parse import unquote

import click

from wxpay_cli.app import App
from wxpay_cli.commands._click import Command
from wxpay_cli.errors import OperationRefused
from wxpay_cli.i18n import N_, _
from wxpay_cli.terminal.output import View

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def read_data(ctx, param, value: str | None):
    """--data JSON, --data @file or --data - (stdin): parsed here, so bad JSON is a usage error."""
    if value is None:
        return None
    source = "--data"
    if value == "-":
        text, source = sys.stdin.read(), "stdin"
    elif value.startswith("@"):
        try:
            with open(value[1:], encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise click.BadParameter(_("cannot read {value}: {strerror}").format(value=value[1:], strerror=exc.strerror)) from None
        source = value[1:]
    else:
        text = value
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(_("{source} is not valid JSON: {exc}").format(source=source, exc=exc)) from None


# Irreversible calls that must go through their guarded commands (confirmation, audit log).
GUARDED = [
    (re.compile(r"/terminate-contract/*$"), "wxpay contract terminate"),
    (re.compile(r"^/v3/eduschoolpay/contracts/[^/]+/terminate/*$"), N_("a guarded command (not yet in wxpay)")),
]


def check_path(ctx, param, value: str) -> str:
    """An APIv3 path that is sent exactly as written: nothing httpx or a front end would
    rewrite (fragments, `;params`, `//`, `.`/`..` segments), so the guard below sees
    the path that is signed and sent."""
    if not value.startswith("/v3/"):
        raise click.BadParameter(_("must be an APIv3 path starting with /v3/, e.g. /v3/certificates"))
    path = value.split("?", 1)[0]
    segments = unquote(path).split("/")[1:]
    if "#" in value or ";" in path or "//" in path or any(s in (".", "..") for s in segments):
        raise click.BadParameter(_("must be a plain path: no '#', ';', '//', '.' or '..' segments"))
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in unquote(value)) or len(value) > 2048:
        raise click.BadParameter(_("must not hold spaces or control characters, nor exceed 2048 characters"))
    return value


def refuse_guarded(method: str, path: str) -> None:
    """A termination sent through the escape hatch would skip its confirmation and audit line."""
    bare = unquote(path.split("?", 1)[0]).lower()
    for pattern, command in GUARDED:
        if method != "GET" and pattern.search(bare):
            raise OperationRefused(
                _("wxpay request does not send terminations: nothing was sent"),
                hint=_("use {command}, which confirms and records them").format(command=_(command)), code="GUARDED_OPERATION",
            )


@click.command("request", cls=Command)
@click.argument("method", type=click.Choice(METHODS, case_sensitive=False))
@click.argument("path", callback=check_path)
@click.option("--data", callback=read_data, metavar="JSON|@FILE|-", help="Request body: JSON text, @file, or - for stdin.")
@click.pass_obj
def request(app: App, method: str, path: str, data) -> None:
    """Send any signed APIv3 request and print the verified answer as JSON.

    PATH is the path with its query, e.g. /v3/offlineface/contracts/ID?appid=wx1.
    Only GET is retried. An empty answer (204) prints nothing.
    """
    from wxpay_cli.wire import api

    refuse_guarded(method.upper(), path)
    answer = app.client().call(api.raw_request(method.upper(), path, data))
    if answer.http_status != 204 or answer.data:
        app.output_format = "json"
        app.render(View(data=answer.data, pretty_json=True))
