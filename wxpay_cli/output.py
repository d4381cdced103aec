"""The only place results are printed: a rich table, one JSON line, or JSON lines.

Commands build a `View` (the data for JSON plus how to show it as a table) and
hand it to `render`. Errors and warnings go to stderr through `error` and
`warn`. rich is imported only when a table is actually drawn.

This is the terminal boundary: every value drawn in a table or block and every
error, warning or info line passes `sanitise` here, so commands need not
remember; JSON keeps exact values (with the characters JSON leaves raw escaped).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from wxpay_cli.errors import WxpayError
from wxpay_cli.i18n import _
from wxpay_cli.sanitise import for_terminal, json_text, lines_for_terminal

FORMATS = ("table", "json")


@dataclass
class View:
    """What a command returns.

    `data` is printed as-is with --json; `rows` (label, value) make the table;
    with `columns` (headings) the table has a header and each row one value a
    column (a checklist, a list of certificates); `blocks` are plain text
    printed whole below it (a link that must never be cut, a QR code), never
    re-wrapped or styled.
    """

    data: object
    rows: list[tuple] = field(default_factory=list)
    columns: tuple[str, ...] = ()
    title: str | None = None
    blocks: list[str] = field(default_factory=list)
    pretty_json: bool = False
    json_lines: bool = False  # `data` is a list of records: print one JSON line each


def resolve_format(explicit: str | None) -> str:
    """The explicit choice, else a table on a terminal and JSON in a pipe."""
    if explicit:
        return explicit
    return "table" if sys.stdout.isatty() else "json"


def render(view: View, fmt: str, *, to_stderr: bool = False) -> None:
    """Print a view on stdout (or, for previews and prompts' context, on stderr)."""
    if fmt == "json" and view.json_lines:
        for record in view.data:
            write_json_line(record)
    elif fmt == "json":
        _write_json(view.data, pretty=view.pretty_json and sys.stdout.isatty())
    else:
        _render_table(view, to_stderr=to_stderr)


def write_json_line(record: object) -> None:
    """One JSON line on stdout, flushed at once (batch output)."""
    sys.stdout.write(json_text(json.dumps(record, ensure_ascii=False)) + "\n")
    sys.stdout.flush()


def _write_json(data: object, *, pretty: bool) -> None:
    text = json_text(json.dumps(data, ensure_ascii=False, indent=2 if pretty else None))
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _render_table(view: View, *, to_stderr: bool = False) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False, stderr=to_stderr)
    if view.rows:
        table = Table(title=for_terminal(view.title) if view.title else None, box=box.SIMPLE_HEAD, show_header=bool(view.columns), title_justify="left")
        for index, heading in enumerate(view.columns or ("", "")):
            table.add_column(heading, style="bold" if index == 0 else None, overflow="fold")
        for row in view.rows:
            table.add_row(*(Text(for_terminal(value)) for value in row))
        console.print(table)
    for block in view.blocks:
        # soft_wrap: the terminal wraps long lines itself, so a copied link stays whole.
        console.print(Text(lines_for_terminal(block)), soft_wrap=True)
    console.file.flush()


def table_rows(data: dict, labels: Iterable[tuple[str, str]]) -> list[tuple[str, object]]:
    """(label, value) rows for the keys of `data` that are present."""
    return [(label, data[key]) for key, label in labels if data.get(key) not in (None, "")]


# -- stderr -------------------------------------------------------------------


def warn(message: str) -> None:
    sys.stderr.write(lines_for_terminal(_("warning: {message}").format(message=message)) + "\n")
    sys.stderr.flush()


def info(message: str) -> None:
    sys.stderr.write(lines_for_terminal(message) + "\n")
    sys.stderr.flush()


def error(exc: WxpayError, *, as_json: bool) -> None:
    """Report an error on stderr: one JSON line with --json, else readable lines."""
    if as_json:
        sys.stderr.write(json_text(json.dumps({"error": exc.to_dict()}, ensure_ascii=False)) + "\n")
        sys.stderr.flush()
        return
    message = lines_for_terminal(exc.message)
    if exc.http_status is not None:
        # Error answers are not signed: what they say is WeChat's only if nothing rewrote it on the way.
        line = _("error: HTTP {status} {code}: {message} (unverified answer)").format(
            status=exc.http_status, code=for_terminal(exc.code), message=message)
    else:
        line = _("error: {message}").format(message=message)
    if exc.hint:
        line += f" ({lines_for_terminal(exc.hint)})"
    lines = [line]
    if exc.detail not in (None, "", {}):
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail, ensure_ascii=False)
        label = _("detail (unverified)") if exc.http_status is not None else _("detail")
        lines.append(f"  {label}: {for_terminal(detail)}")
    if exc.request_id:
        lines.append(f"  Request-ID: {for_terminal(exc.request_id)}")
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


class progress:
    """`with progress("rows") as advance:` a live counter on stderr when it is a terminal; else nothing."""

    def __init__(self, unit: str):
        self.unit = unit
        self._progress = None

    def __enter__(self):
        if not sys.stderr.isatty():
            return lambda: None
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(), TextColumn(f"{{task.completed}} {self.unit}"), TimeElapsedColumn(),
            console=Console(stderr=True), transient=True,
            # rich would otherwise swap sys.stdout for its own proxy while the bar
            # is live, sending the JSON lines to the terminal instead of the pipe.
            redirect_stdout=False, redirect_stderr=False,
        )
        self._progress.start()
        task = self._progress.add_task(self.unit, total=None)
        return lambda: self._progress.advance(task)

    def __exit__(self, *exc_info) -> None:
        if self._progress is not None:
            self._progress.stop()
