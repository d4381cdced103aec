"""The only place results are printed: a rich table, one JSON line, or JSON lines; and
the writers of rows (JSON lines, CSV, an Excel workbook) to stdout or to `-o FILE`.

Commands build a `View` (the data for JSON plus how to show it as a table) and
hand it to `render`. Errors and warnings go to stderr through `error` and
`warn`. rich is imported only when a table is actually drawn, openpyxl only
when a workbook is written.

This is the terminal boundary: every value drawn in a table or block and every
error, warning or info line passes `sanitise` here, so commands need not
remember; JSON keeps exact values (with the characters JSON leaves raw escaped).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from wxpay_cli.errors import Cancelled, WxpayError
from wxpay_cli.i18n import N_, _, current_language, english_data
from wxpay_cli.sanitise import for_terminal, json_text, lines_for_terminal

FORMATS = ("table", "json")


@dataclass(frozen=True)
class Column:
    """A table column that may be cut to fit: at most `width` cells (longer values end in …),
    shown only when the terminal has room, the columns with the highest `keep` first."""

    heading: str
    width: int
    keep: int = 0
    fill: bool = False  # takes the room the other columns leave (`width` is then its least)


def fit_columns(columns: list[Column], width: int) -> list[int]:
    """The indexes of the columns to show in `width` cells (each costs its width and 2 of padding)."""
    chosen: list[int] = []
    used = 2  # the table's left and right edge
    for index in sorted(range(len(columns)), key=lambda i: -columns[i].keep):
        cost = columns[index].width + 2
        if used + cost <= width:
            chosen.append(index)
            used += cost
    return sorted(chosen)


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
    columns: tuple[str | Column, ...] = ()  # Column: one line a row, cut to fit the terminal
    title: str | None = None
    blocks: list[str] = field(default_factory=list)
    pretty_json: bool = False
    json_lines: bool = False  # `data` is a list of records: print one JSON line each


def stdout_is_terminal() -> bool:
    return _isatty(sys.stdout)


def _stdout():
    """sys.stdout, or OSError(EBADF) when the process was started with stdout closed (`>&-`):
    the same "output failed" as a closed pipe, never an AttributeError (cli.py)."""
    if sys.stdout is None:
        import errno

        raise OSError(errno.EBADF, _("standard output is closed"))
    return sys.stdout


def resolve_format(explicit: str | None) -> str:
    """The explicit choice, else a table on a terminal and JSON in a pipe."""
    if explicit:
        return explicit
    return "table" if stdout_is_terminal() else "json"


def render(view: View, fmt: str, *, to_stderr: bool = False) -> None:
    """Print a view on stdout (or, for previews and prompts' context, on stderr)."""
    if not to_stderr:
        _stdout()
    if fmt == "json" and view.json_lines:
        for record in view.data:
            write_json_line(record)
    elif fmt == "json":
        _write_json(view.data, pretty=view.pretty_json and _isatty(sys.stdout))
    else:
        _render_table(view, to_stderr=to_stderr)


def write_json_line(record: object) -> None:
    """One JSON line on stdout, flushed at once (batch output)."""
    _write_utf8(json_line(record))


def json_line(record: object) -> str:
    return json_text(json.dumps(english_data(record), ensure_ascii=False)) + "\n"


def _write_json(data: object, *, pretty: bool) -> None:
    _write_utf8(json_text(json.dumps(english_data(data), ensure_ascii=False, indent=2 if pretty else None)) + "\n")


def _write_utf8(text: str) -> None:
    """JSON is UTF-8 whatever stdout's encoding (a Windows console's, PYTHONIOENCODING=latin-1):
    a program reading it never meets another encoding, and wxpay never fails writing it."""
    stream = _stdout()
    buffer = getattr(stream, "buffer", None)
    if buffer is None or (stream.encoding or "").lower().replace("-", "").replace("_", "") == "utf8":
        stream.write(text)
        stream.flush()
        return
    stream.flush()
    buffer.write(text.encode("utf-8", "backslashreplace"))  # half a character becomes \udXXX, a JSON escape
    buffer.flush()


class StdoutSink:
    """Where rows go without -o: stdout, as UTF-8 whatever its encoding, flushed at each write."""

    def write(self, text: str) -> int:
        _write_utf8(text)
        return len(text)

    @property
    def on_terminal(self) -> bool:
        return _isatty(sys.stdout)

    def finish(self) -> None:
        pass

    def abandon(self) -> None:
        pass


class OutputFileError(OSError):
    """The finished output could not take the place of FILE (-o): it is kept beside it, and said where.
    An output failure (cli.py: exit 74, naming any pupil terminated)."""


class OutputFile:
    """`-o FILE`, written whole or not at all, never through a symlink: the rows go to a new
    temporary file in FILE's folder (mode as the shell's `>` would give: an existing file's own,
    else 0666 less the umask), which then takes FILE's name in one rename. A write that fails
    (a full disk) removes it; a rename that fails keeps it and says where it is."""

    on_terminal = False

    def __init__(self, path):
        from pathlib import Path

        self.path = Path(path)
        self.temporary = None
        self._handle = None

    def open(self) -> OutputFile:
        import secrets

        folder = self.path.parent
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0) \
            | getattr(os, "O_CLOEXEC", 0)
        for _attempt in range(10):
            temporary = folder / f".{self.path.name}.{secrets.token_hex(4)}.tmp"
            try:
                fd = os.open(temporary, flags, 0o666)  # the umask applies, as for any new file
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError(temporary)
        self.temporary = temporary
        try:
            mode = os.stat(self.path, follow_symlinks=False).st_mode
        except OSError:
            mode = None
        import stat

        if mode is not None and stat.S_ISREG(mode) and hasattr(os, "fchmod"):
            os.fchmod(fd, stat.S_IMODE(mode))
        self._handle = os.fdopen(fd, "wb")
        return self

    @property
    def handle(self):
        return self._handle

    def write(self, text: str) -> int:
        self._handle.write(text.encode("utf-8", "backslashreplace"))
        return len(text)

    def finish(self) -> None:
        """Make the file FILE: its bytes on disk first, then the rename."""
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
        except OSError:
            self.abandon()
            raise
        try:
            os.replace(self.temporary, self.path)
        except OSError as exc:
            raise OutputFileError(exc.errno, _("{path} cannot be replaced ({reason}); the output is in {temporary}")
                                  .format(path=self.path, reason=exc.strerror or type(exc).__name__,
                                          temporary=self.temporary)) from None
        self.temporary = None
        if hasattr(os, "O_DIRECTORY"):  # the rename itself on disk (POSIX); Windows has no such step
            try:
                folder = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(folder)
                finally:
                    os.close(folder)
            except OSError:
                pass

    def abandon(self) -> None:
        """Nothing is made of it: the temporary file goes, FILE stays as it was."""
        try:
            if self._handle is not None and not self._handle.closed:
                self._handle.close()
        except OSError:
            pass
        if self.temporary is not None:
            try:
                os.unlink(self.temporary)
            except OSError:
                pass
            self.temporary = None


def escape_what_cannot_be_shown() -> None:
    """A terminal whose encoding cannot show a character gets an escape (\\u4e2d), never an exception."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a stream closed already, or one that cannot change
                pass


def _render_table(view: View, *, to_stderr: bool = False) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    stream = sys.stderr if to_stderr else sys.stdout
    # No colour unless the stream is a terminal (rich decides) and NO_COLOR is unset.
    console = Console(highlight=False, stderr=to_stderr, no_color=not colour_on(stream) or None)

    def cell(value) -> Text:
        text = _table_cell(value, Text)
        if text.plain in MARK_COLOURS:
            text.stylize(MARK_COLOURS[text.plain])
        return text

    if view.rows and any(isinstance(column, Column) for column in view.columns):
        columns = [c if isinstance(c, Column) else Column(c, len(c), keep=1_000) for c in view.columns]
        from rich.cells import cell_len

        def needed(index: int) -> int:  # a column narrower than its cap takes only what it shows
            if columns[index].fill:
                return columns[index].width
            texts = [columns[index].heading, *(cell(row[index]).plain for row in view.rows)]
            return min(columns[index].width, max(cell_len(text) for text in texts))

        shown = fit_columns(columns, console.width)
        widths = [needed(index) for index in range(len(columns))]
        # What the table really takes: its 2 edges and 3 cells between columns (padding, rule).
        spare = console.width - (2 - 3) - sum(widths[index] + 3 for index in shown)
        for index in shown:
            if columns[index].fill and spare > 0:
                widths[index], spare = widths[index] + spare, 0
        table = Table(title=_title(view), box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False,
                      collapse_padding=False)
        for index in shown:
            table.add_column(columns[index].heading, max_width=widths[index], no_wrap=True,
                             overflow="ellipsis")
        for row in view.rows:
            table.add_row(*(cell(row[index]) for index in shown))
        console.print(table)
    elif view.rows:
        table = Table(title=_title(view), box=box.SIMPLE_HEAD, show_header=bool(view.columns), title_justify="left")
        for index, heading in enumerate(view.columns or ("", "")):
            table.add_column(heading, style="bold" if index == 0 else None, overflow="fold")
        for row in view.rows:
            table.add_row(*(cell(value) for value in row))
        console.print(table)
    for block in view.blocks:
        # soft_wrap: the terminal wraps long lines itself, so a copied link stays whole.
        console.print(Text(lines_for_terminal(block)), soft_wrap=True)
    console.file.flush()


def _title(view: View) -> str | None:
    return for_terminal(view.title) if view.title else None


# WeChat's enumerations, shown in words (the raw value follows) when the
# language is not English; JSON always carries the raw value.
ENUM_WORDS = {
    "CONTRACTED": N_("contracted"),
    "NOT_CONTRACTED": N_("not contracted"),
    "TERMINATED": N_("terminated"),
    "NORMAL": N_("normal"),
    "DISABLED": N_("disabled"),
    "STUDENT": N_("student"),
    "STAFF": N_("staff"),
    "LIMIT_BANK_CARD": N_("bank card only"),
    "PRIORITY_BANK_CARD": N_("bank card first"),
    "LIMIT_NONE": N_("any payment method"),
    "MERCHANT_LIMITED_BANK_CARD": N_("card chosen by the merchant"),
    "USER_SELECT_FREE": N_("card chosen by the user"),
}


def enum_word(value: object) -> object:
    """`已签约 (CONTRACTED)` under Chinese; the value itself in English or when not an enumeration."""
    if current_language() == "en":
        return value
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if not isinstance(value, str) or value not in ENUM_WORDS:
        return value
    return f"{_(ENUM_WORDS[value])} ({value})"


def _table_cell(value: object, text_class):
    """A table cell, sanitised; a styled rich Text keeps its style unless it held something unsafe."""
    value = enum_word(value)
    if isinstance(value, text_class):
        safe = for_terminal(value.plain)
        return value if safe == value.plain else text_class(safe)
    return text_class(for_terminal(value))


def table_rows(data: dict, labels: Iterable[tuple[str, str]]) -> list[tuple[str, object]]:
    """(label, value) rows for the keys of `data` that are present (labels marked with N_)."""
    return [(_(label), data[key]) for key, label in labels if data.get(key) not in (None, "")]


# -- stderr -------------------------------------------------------------------


# ANSI colours, only on a terminal and never with NO_COLOR set (https://no-color.org).
GREEN, RED, YELLOW = "32", "31", "33"
MARK_COLOURS = {"✓": "green", "✗": "red", "!": "yellow"}  # rich style names for table cells


def colour_on(stream) -> bool:
    return _isatty(stream) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def paint(text: str, colour: str, stream) -> str:
    """`text` in `colour` when `stream` is a terminal that may have colour, else as it is."""
    return f"\x1b[{colour}m{text}\x1b[0m" if colour_on(stream) else text


def _prefixed(line: str, colour: str, stream) -> str:
    """Colour a line's leading 'error:' / 'warning:' (or 错误： / 警告：)."""
    end = min((i for i in (line.find(":"), line.find("：")) if i >= 0), default=-1) + 1
    return paint(line[:end], colour, stream) + line[end:] if end else paint(line, colour, stream)


def warn(message: str) -> None:
    line = lines_for_terminal(_("warning: {message}").format(message=message))
    sys.stderr.write(_prefixed(line, YELLOW, sys.stderr) + "\n")
    sys.stderr.flush()


def click_error(exc) -> None:
    """click's usage errors in wxpay's own form: usage and hint, then one `error: ...` line
    (click would write `Error: ...`; one casing for every error)."""
    ctx = getattr(exc, "ctx", None)
    lines = []
    import click

    if ctx is not None and isinstance(exc, click.UsageError):
        lines.append(ctx.get_usage())
        if ctx.command.get_help_option(ctx) is not None:
            option = max(ctx.command.get_help_option_names(ctx), key=len)
            lines.append(_("Try '{command} {option}' for help.").format(command=ctx.command_path, option=option))
        lines.append("")
    line = _("error: {message}").format(message=lines_for_terminal(exc.format_message()))
    lines.append(_prefixed(line, RED, sys.stderr))
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


def info(message: str) -> None:
    sys.stderr.write(lines_for_terminal(message) + "\n")
    sys.stderr.flush()


def rejected(message: str) -> None:
    """An answer at a prompt that was refused, as one `error: ...` line (the question is asked again)."""
    line = lines_for_terminal(_("error: {message}").format(message=message))
    sys.stderr.write(_prefixed(line, RED, sys.stderr) + "\n")
    sys.stderr.flush()


def help_page(page: str, color: bool | None = None) -> None:
    """A command's --help, on stdout, as click shows it."""
    import click

    click.echo(page, color=color)


def text(data: str) -> None:
    """Text that is the command's result (a profile for a script to read), on stdout as it is."""
    stream = _stdout()
    stream.write(data)
    stream.flush()


def error(exc: WxpayError, *, as_json: bool) -> None:
    """Report an error on stderr: one JSON line with --json, else readable lines."""
    if as_json:
        sys.stderr.write(json_text(json.dumps(english_data({"error": exc.to_dict()}), ensure_ascii=False)) + "\n")
        sys.stderr.flush()
        return
    message = lines_for_terminal(exc.message)
    if isinstance(exc, Cancelled):  # the operator's own no: said as it is, not as an error
        sys.stderr.write(_prefixed(message, YELLOW, sys.stderr) + "\n")
        sys.stderr.flush()
        return
    if exc.http_status is not None:
        # Error answers are not signed: what they say is WeChat's only if nothing rewrote it on the way.
        line = _("error: HTTP {status} {code}: {message} (unverified answer)").format(
            status=exc.http_status, code=for_terminal(exc.code), message=message)
    else:
        line = _("error: {message}").format(message=message)
    if exc.hint:
        line += _(" ({hint})").format(hint=lines_for_terminal(exc.hint))
    lines = [_prefixed(line, RED, sys.stderr)]
    if exc.detail not in (None, "", {}):
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail, ensure_ascii=False)
        if exc.http_status is not None:
            lines.append(_("  detail (unverified): {detail}").format(detail=for_terminal(detail)))
        else:
            lines.append(_("  detail: {detail}").format(detail=for_terminal(detail)))
    if exc.request_id:
        lines.append(f"  Request-ID: {for_terminal(exc.request_id)}")
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


class Progress:
    """A one-line batch progress display on stderr when it is a terminal; nothing otherwise.

    `12/30 (40%) · 10 ok, 2 failed · ETA 4 s` when the total is known, else
    `12 rows · 10 ok, 2 failed · 3 s`. Redrawn at most every `interval` seconds.
    When stdout is the same terminal, `before_output()` erases the line first, so
    a data line never starts glued to the progress text.
    """

    def __init__(self, total: int | None = None, *, clock=None, interval: float = 0.1, stream=None):
        import time

        self.total = total
        self.stream = stream or sys.stderr
        self.clock = clock or time.monotonic
        self.interval = interval
        self.live = _isatty(self.stream)
        self.shared = self.live and _isatty(sys.stdout)
        self.started = self.clock()
        self._drawn_at: float | None = None
        self._shown = False
        self.done = self.ok = self.failed = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info) -> None:
        self.clear()

    def update(self, *, ok: int, failed: int) -> None:
        self.ok, self.failed, self.done = ok, failed, ok + failed
        if not self.live:
            return
        now = self.clock()
        if self._drawn_at is not None and now - self._drawn_at < self.interval:
            return
        self._drawn_at = now
        self.stream.write("\r\x1b[2K" + self.text(now))
        self.stream.flush()
        self._shown = True

    def text(self, now: float | None = None) -> str:
        from wxpay_cli.i18n import _

        elapsed = (self.clock() if now is None else now) - self.started
        counts = _("{ok} ok, {failed} failed").format(ok=self.ok, failed=self.failed)
        if self.total:
            total = max(self.total, self.done)
            percent = int(100 * self.done / total)
            if self.done and total > self.done:
                eta = _("ETA {time}").format(time=_duration(elapsed / self.done * (total - self.done)))
            else:
                eta = _duration(elapsed)
            return f"{self.done}/{total} ({percent}%) · {counts} · {eta}"
        return _("{done} rows").format(done=self.done) + f" · {counts} · {_duration(elapsed)}"

    def before_output(self) -> None:
        """Erase the progress line if the next stdout line would land on it."""
        if self.shared:
            self.clear()

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._shown = False
            self._drawn_at = None  # redraw at the next update


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return _("{seconds} s").format(seconds=seconds)
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}:{seconds:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# -- batch output --------------------------------------------------------------


class JsonLinesWriter:
    """Batch output as JSON lines: each row's line as it is, to stdout or to an OutputFile."""

    def __init__(self, out=None):
        self.out = out or StdoutSink()

    def write(self, record: dict) -> None:
        self.out.write(json_line(record))

    def finish(self) -> None:
        """Every line written: an OutputFile takes its name now."""
        self.out.finish()

    def abandon(self) -> None:
        """Writing failed: an OutputFile is removed, its name left as it was."""
        self.out.abandon()


class _Sheet:
    """The columns of a spreadsheet of rows, and each row's values in them.

    Columns: the input's (`input_columns()`, asked when the first line is written,
    when the input has been read that far), then `result_columns`, then
    `error_columns` (column -> where in the line: the code and the message of its
    "error")."""

    def __init__(self, input_columns, result_columns: tuple[str, ...], error_columns: dict[str, str], out=None):
        self._input_columns = input_columns
        self.result_columns = result_columns
        self.error_columns = error_columns
        self.columns: list[str] | None = None
        self.out = out or StdoutSink()

    def _start(self) -> list[str]:
        given = [name for name in (self._input_columns() or []) if name not in self.error_columns]
        self.columns = [*given, *(c for c in self.result_columns if c not in given), *self.error_columns]
        return self.columns

    def _values(self, record) -> list[tuple[object, bool]]:
        """(value, whether it is the input's own) for each column."""
        carried = getattr(record, "carried", frozenset())
        return [(_lookup(record, self.error_columns.get(name, name)), name in carried) for name in self.columns]

    def abandon(self) -> None:
        self.out.abandon()


class CsvWriter(_Sheet):
    """Batch output as CSV for Excel: UTF-8 with a BOM, CRLF, a header first (also for no rows).

    Every value that is not the input's own (a line's `carried` names those) and that
    Excel would run as a formula (=, +, -, @, tab or CR first) is prefixed with a quote;
    the input's own cells are written as read, so a line feeds back as input. On a
    terminal, every cell goes through `for_terminal`.
    """

    _writer = None

    def write(self, record) -> None:
        if self.columns is None:
            self._begin()
        cells = []
        for value, own in self._values(record):
            cell = _cell(value, from_input=own)
            cells.append(for_terminal(cell) if self._on_terminal else cell)
        self._writer.writerow(cells)

    def _begin(self) -> None:
        import csv

        self._start()
        # UTF-8 with a BOM, whatever stdout's encoding: what Excel opens, what feeds back as input.
        self._writer = csv.writer(self.out, lineterminator="\r\n")
        # On a terminal the cells are for eyes: escaped like every outside string there.
        # Into a file or a pipe they stay exact, so a line feeds back as input.
        self._on_terminal = self.out.on_terminal
        self.out.write("\ufeff")
        self._writer.writerow(self.columns)

    def finish(self) -> None:
        if self.columns is None:
            self._begin()
        self.out.finish()


class XlsxWriter(_Sheet):
    """Batch output as an Excel workbook (`out`: an OutputFile; a workbook is never written to a
    terminal or a pipe): the same columns as the CSV, every cell a text cell (an id keeps its
    leading 0s and every digit; `=...` stays text, never a formula, with no quote added), a bold
    header frozen in place, columns as wide as their text (a Chinese character counts two).
    The rows are kept until `finish` writes the workbook (the rows finished so far, also after Ctrl-C)."""

    def __init__(self, input_columns, result_columns, error_columns, out, title: str):
        super().__init__(input_columns, result_columns, error_columns, out)
        self.title = title
        self.rows: list[list[str | None]] = []

    def write(self, record) -> None:
        if self.columns is None:
            self._start()
        self.rows.append([_xlsx_text(value) for value, _own in self._values(record)])

    def finish(self) -> None:
        if self.columns is None:
            self._start()
        try:
            save_workbook(self.out.handle, self.title, self.columns, self.rows)
        except OSError:
            self.out.abandon()
            raise
        self.out.finish()


def records_writer(fmt: str, out, *, input_columns, result_columns=(), error_columns=None, title: str = ""):
    """The writer of rows for `fmt` (json, csv or xlsx) to `out` (an OutputFile, or None: stdout)."""
    if fmt == "xlsx":
        return XlsxWriter(input_columns, result_columns, error_columns or {}, out, title)
    if fmt == "csv":
        return CsvWriter(input_columns, result_columns, error_columns or {}, out)
    return JsonLinesWriter(out)


# A cell of a workbook holds at most this many characters (Excel's limit); XML holds no control character.
XLSX_CELL_LIMIT = 32767
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xlsx_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    text = _cell(value, from_input=True)
    text = _NOT_IN_XML.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
    return text if len(text) <= XLSX_CELL_LIMIT else text[:XLSX_CELL_LIMIT - 1] + "…"


def save_workbook(handle, title: str, columns: list[str], rows: list[list[str | None]]) -> None:
    """Write one sheet to the binary file `handle`: a bold frozen header, text cells, fitting widths."""
    import warnings

    from wxpay_cli.terminal.cjkwrap import width

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title or "Sheet1")
    for index, name in enumerate(columns):
        cells = [name, *(row[index] for row in rows[:1000] if row[index])]
        widest = max(width(line) for cell in cells for line in cell.split("\n"))
        sheet.column_dimensions[get_column_letter(index + 1)].width = min(max(widest + 2, 6), 60)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def text_cell(value: str | None, **style):
        cell = WriteOnlyCell(sheet, value=value)
        if value is not None:
            cell.data_type = "s"  # text, always: openpyxl would take "=..." for a formula
        for name, setting in style.items():
            setattr(cell, name, setting)
        return cell

    sheet.append([text_cell(name, font=bold) for name in columns])
    for row in rows:
        sheet.append([text_cell(value) for value in row])
    book.save(handle)


class TableWriter:
    """Batch output as a table for a person to read (`--format table`): the input's columns,
    then the results named in `result_columns` (CSV and JSON keep them all), then the error
    as `CODE: message`; a column empty in every row is left out. The values of the columns
    in `whole` ((name, label): a link) are printed below the table under their label, one a
    line, after the row's first input value. Drawn when the run ends (`close`), the rows
    finished before an interruption included: one line a row when that fits the terminal,
    else one block a row (a label and its value a line). Nothing is ever cut."""

    def __init__(self, input_columns, result_columns: tuple[str, ...], whole: tuple[tuple[str, str], ...] = ()):
        self._input_columns = input_columns
        self.result_columns = result_columns
        self.whole = whole
        self.records: list[dict] = []

    def write(self, record: dict) -> None:
        self.records.append(record)

    def close(self) -> None:
        if not self.records:
            return
        from rich import box
        from rich.cells import cell_len
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        given = [name for name in (self._input_columns() or []) if name != "error"]
        names = [*given, *(c for c in self.result_columns if c not in given)]
        shown = [name for name in names if any(_lookup(record, name) not in (None, "") for record in self.records)]
        failed = any(isinstance(record.get("error"), dict) for record in self.records)
        headings = [for_terminal(name) for name in shown] + ([_("Error")] if failed else [])
        rows = []
        for record in self.records:
            row = [_table_cell(_table_value(_lookup(record, name)), Text) for name in shown]
            if failed:
                error = record.get("error")
                row.append(_table_cell(f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict)
                                       else "", Text))
            rows.append(row)
        console = Console(highlight=False, no_color=not colour_on(sys.stdout) or None)
        widths = [max(cell_len(heading), *(cell_len(row[index].plain) for row in rows))
                  for index, heading in enumerate(headings)]
        if sum(width + 3 for width in widths) + 1 <= console.width:  # one line a row fits
            table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
            for heading in headings:
                table.add_column(heading, no_wrap=True)
            for row in rows:
                table.add_row(*row)
        else:  # one block a row: each value on its own line, folded only if longer than the terminal
            table = Table(box=box.SIMPLE_HEAD, show_header=False, pad_edge=False)
            table.add_column(style="bold", no_wrap=True)
            table.add_column(overflow="fold")
            for row in rows:
                for heading, cell in zip(headings, row, strict=True):
                    if cell.plain:
                        table.add_row(heading, cell)
                table.add_section()
        console.print(table)
        for name, label in self.whole:
            values = [(record.get(given[0]) if given else "", record.get(name)) for record in self.records]
            if any(value for _key, value in values):
                # a link on a line of its own, whole: the terminal wraps it, so a copy is exact
                console.print(Text(lines_for_terminal("\n".join(
                    [_(label), *(f"{key}  {value}" for key, value in values if value)]))), soft_wrap=True)
        console.file.flush()


def _table_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _lookup(record: dict, name: str) -> object:
    """`record[name]`, or for a path like `student_info.class_name` the nested value."""
    if name in record or "." not in name:
        return record.get(name)
    value: object = record
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _cell(value: object, *, from_input: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    if not from_input and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text
