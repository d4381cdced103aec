"""Batch input: the rows of a CSV (with header), JSON-lines or Excel file, checked.

What the input is, is told by its content, never by its name:

- an Excel workbook (.xlsx: a zip): read whole (within MAX_WHOLE bytes, unpacking
  to at most MAX_UNPACKED), its first visible sheet or `sheet`; the header is the
  first non-empty row. Text cells are read exactly. A number in an id column may
  have lost its leading 0s (0012345 typed into a General cell is 12345, another
  pupil): the row records which keys came from numbers (`Row.numeric`). It goes
  ahead with `accept_numeric_ids`; else, when the batch compares names (`name_of`)
  and the row has one, only once WeChat's name for that pupil is the row's
  (`Row.by_name`: flows/names.confirm_number); else it is INVALID_ROW. A
  fraction, a negative number, more than 15 digits (what Excel keeps) or a date
  are never ids. Other cells are carried as Excel shows them. openpyxl is
  imported only here, only then;
- text with a UTF-16 BOM (Excel's "Unicode text", tab-separated): read whole;
- any other text, read line by line, so a pipe is worked on as it comes: UTF-8
  (with or without a BOM), else GB18030 (a superset of GBK) when the text is not
  UTF-8 but decodes as such, or the encoding the operator names. The encoding used
  is said once on stderr.

The header is read and checked when the input is opened, before any request: a
header without the operation's columns, or with a column twice, is a usage error
(exit 2); a header typed with full-width punctuation (`，`) says so. Columns are
separated by commas, or by tabs when the header has tabs and no comma.

Each row keeps every input column, in input order (`Row.columns`), so extra
columns (姓名, 班级, ...) reach the output line unchanged, and the operation's
own keys, checked (`Row.values`). A column named like one of the operation's
results is a stale result and is not kept (the naming rule: batch_lines.py). A row that cannot be used (a key missing, an
id that is not text, an id Excel visibly damaged: `4.40305E+17`) is still a row: its
line says INVALID_ROW and carries its columns. A row is named as Excel numbers it
(`Row.where`): in a workbook its sheet row, in CSV the file line it starts on
(the header is row 1, blank lines count), in JSON lines its line. Input that
cannot be read as rows at all (bytes in no known encoding, JSON nested absurdly
deep, duplicate JSON keys, lone surrogates, an endless line) stops the input there
with an InputError naming the row; every row before it is worked on.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from wxpay_cli.errors import InputError
from wxpay_cli.i18n import N_, _
from wxpay_cli.sanitise import for_terminal
from wxpay_cli.wire.api import MAX_ID_LENGTH, check_id

MAX_LINE = 1024 * 1024  # a roster line is a few hundred bytes; an id may be long enough to be refused
MAX_WHOLE = 32 * 2**20  # an input read whole (a workbook, UTF-16 text): a roster of 100,000 pupils is a few MiB
MAX_UNPACKED = 256 * 2**20  # what a workbook's parts may unpack to: a zip bomb stops here
BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
ZIP = b"PK\x03\x04"  # .xlsx (and .xlsm): a zip of XML parts
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (Excel 97-2003), and any workbook with a password
EXCEL_DIGITS = 15  # Excel keeps 15 significant digits of a number
# A value Excel shortened to scientific notation when it saved a number as CSV: its digits are gone.
EXCEL_SCIENTIFIC = re.compile(r"[0-9](\.[0-9]+)?[Ee]\+[0-9]{1,3}")
FULL_WIDTH_SEPARATORS = ("，", "；", "、")


@dataclass
class Row:
    """One input row: its number (1-based, the order rows are read in), the operation's keys
    (`values`), every input column in order (`columns`), and why it is unusable, if it is."""

    number: int
    values: dict[str, str]
    problem: str | None = None
    columns: dict[str, object] = field(default_factory=dict)
    line: int | None = None  # where the row starts: its sheet row, its CSV file line, its JSON line
    in_json: bool = False  # from JSON lines: `line` is a line, not a row
    # The keys whose value came from a workbook's number cell (digits that may have lost leading 0s).
    numeric: tuple[str, ...] = ()
    # True when those numbers go ahead only if WeChat's name for the pupil they name is the row's own
    # name (BatchInput.name_of; flows/names.confirm_number); otherwise the row is INVALID_ROW. Never
    # set with accept_numeric_ids.
    by_name: bool = False

    def __post_init__(self) -> None:
        if not self.columns:
            self.columns = dict(self.values)

    @property
    def where(self) -> str:
        """The row as the operator finds it: `row 5` as Excel numbers it, `line 5` in JSON lines."""
        if self.line is None:
            return _("row {number}").format(number=self.number)
        return (_("line {line}") if self.in_json else _("row {line}")).format(line=self.line)


@dataclass(frozen=True)
class SheetValue:
    """A workbook cell that is not text: a number, a date, true/false or an error (#N/A),
    with `text`, what Excel shows (a number formatted 0000000 shows its leading 0s)."""

    kind: str  # "number", "date", "bool", "error"
    value: object
    text: str


class _Undecodable(Exception):
    def __init__(self, line: int, reason: str):
        super().__init__(reason)
        self.line = line
        self.reason = reason


def check_encoding(name: str) -> str:
    """The codec's canonical name, or InputError for a name Python does not know."""
    try:
        info = codecs.lookup(name)
        "a".encode(info.name)  # "hex", "rot13": codecs, but not text encodings (str.encode refuses them)
    except LookupError:
        info = None
    except UnicodeError:
        pass  # a text encoding that cannot write "a" (none known) is still a text encoding
    if info is None:
        raise InputError(_("unknown encoding {name}").format(name=for_terminal(name)),
                         hint=_("e.g. utf-8, gb18030, gbk"))
    return info.name


class BatchInput:
    """The rows of one batch input, read lazily; the header is checked on construction.

    `required` keys must all be present, and at least one of `one_of` when given.
    `drop` names every result the operation writes (batch_lines.Operation.results):
    an output file fed back as input does not carry old results into the new lines.
    `sheet`: the workbook's sheet to read (an error for text input); `accept_numeric_ids`:
    a workbook's whole numbers of at most 15 digits are ids as they are.
    """

    def __init__(self, stream: BinaryIO, *, required: tuple[str, ...], one_of: tuple[str, ...] = (),
                 drop: frozenset[str] = frozenset(), encoding: str | None = None, sheet: str | None = None,
                 accept_numeric_ids: bool = False, announce: Callable[[str], None] = lambda text: None,
                 warn: Callable[[str], None] | None = None):
        self.required = required
        self.one_of = one_of
        self.keys = required + one_of
        self.drop = set(drop) - set(self.keys)  # the operation's own keys say whom to ask: never dropped
        self.encoding = check_encoding(encoding) if encoding else None
        self.accept_numeric_ids = accept_numeric_ids
        # The row's name when the batch compares names (flows/names.RosterNames.of), set once the
        # header is checked: a row with ids typed as numbers and a name goes on to be confirmed by it.
        self.name_of: Callable[[Row], str | None] | None = None
        self._announce = announce
        self._stream = stream
        self.line = 0  # the last file line read
        self.header: list[str] | None = None  # the header as written
        self.columns: list[str] | None = None  # the input columns an output line carries, in order
        self.is_json = False
        self.sheet: str | None = None  # the workbook's sheet read
        self._csv = None
        self._sheet_rows: list[tuple[int, list]] | None = None
        self._text: str | None = None  # an input read whole as text (UTF-16)
        self._sheet_names: list[str] = []
        head = self._head()
        if head.startswith((ZIP, OLE2)):
            if encoding:
                (warn or announce)(_("--encoding does not apply to a workbook: its text is Unicode"))
            self.encoding = None
            self._open_workbook(head, sheet)
            return
        if sheet is not None:
            raise InputError(_("--sheet is for a workbook (.xlsx); this input is text"),
                             hint=_("leave out --sheet, or give the .xlsx file"))
        if head.startswith(UTF16_BOMS) and self.encoding in (None, "utf-16"):
            self._text = self._whole_text("utf-16")
            if encoding is None:
                announce(_("batch input read as UTF-16 (it starts with a BOM: Excel's Unicode text)"))
        elif self.encoding and codecs.lookup(self.encoding).name.startswith(("utf-16", "utf-32")):
            self._text = self._whole_text(self.encoding)  # no line of it is a line of bytes
        self.total = self._count_rows()
        if self.encoding and encoding:
            announce(_("batch input read as {encoding} (--encoding)").format(encoding=self.encoding))
        self._lines = self._decoded_lines()
        self._first = self._first_line()
        self.is_json = self._first is not None and self._first.lstrip().startswith("{")
        if self._first is not None and not self.is_json:
            first = self._first
            delimiter = "\t" if "\t" in first and "," not in first else ","
            self._csv = csv.reader(self._csv_lines(), delimiter=delimiter)
            try:
                header = next(self._csv)
            except _Undecodable as exc:
                raise self._unreadable(exc, header=True) from None
            except csv.Error as exc:
                raise InputError(_("the CSV header cannot be read: {reason}").format(reason=exc)) from None
            self._read_header(header)

    # -- what the input is -------------------------------------------------------

    def _head(self) -> bytes:
        """The first bytes, which say what the input is; the stream then starts where it did."""
        seekable = False
        try:
            seekable = self._stream.seekable()
            start = self._stream.tell() if seekable else 0
        except (OSError, ValueError, AttributeError):
            seekable = False
        head = self._stream.read(8) or b""
        if seekable:
            self._stream.seek(start)
        elif head:
            self._stream = _PutBack(head, self._stream)
        return head

    def _read_whole(self, *, workbook: bool) -> bytes:
        data = self._stream.read(MAX_WHOLE + 1)
        if len(data) > MAX_WHOLE:
            message = (_("the workbook is larger than {size} MiB: a workbook is read whole, and this one is too "
                         "large") if workbook else
                       _("the UTF-16 text is larger than {size} MiB: it is read whole, and this one is too large"))
            raise InputError(message.format(size=MAX_WHOLE // 2**20), hint=_("split it into several files"))
        return data

    def _whole_text(self, encoding: str) -> str:
        data = self._read_whole(workbook=False)
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise InputError(_("the batch input is not {encoding} text: {reason}").format(
                encoding=encoding, reason=exc.reason), hint=_("save it again in Excel, or give --encoding")) from None
        self.encoding = encoding
        return text.lstrip("\ufeff")

    # -- bytes to text lines ---------------------------------------------------

    def _count_rows(self) -> int | None:
        """Rows in a regular file (non-blank lines, less a CSV header); None for a pipe."""
        if self._text is not None:
            texts = [line for line in self._text.split("\n") if line.strip()]
            return max(0, len(texts) - (0 if texts and texts[0].lstrip().startswith("{") else 1))
        try:
            if not stat.S_ISREG(os.fstat(self._stream.fileno()).st_mode):
                return None
            start = self._stream.tell()
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            return None
        count, first = 0, None
        try:
            for raw in iter(lambda: self._stream.readline(MAX_LINE + 1), b""):
                if raw.strip():
                    count += 1
                    if first is None:
                        first = raw.lstrip(BOM).lstrip()[:1]
        finally:
            self._stream.seek(start)
        if count and first != b"{":
            count -= 1
        return count

    def _read_raw(self) -> Iterator[bytes]:
        while True:
            raw = self._stream.readline(MAX_LINE + 1)
            if not raw:
                return
            self.line += 1
            if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                raise _Undecodable(self.line, _("the line is longer than {size} MiB").format(size=MAX_LINE // 2**20))
            yield raw

    def _decoded_lines(self) -> Iterator[str]:
        """Text lines. Undecided (no --encoding): ASCII lines are both; the first line
        that is not decides between UTF-8 and GB18030, and the choice is announced."""
        if self._text is not None:
            pieces = self._text.split("\n")
            for index, piece in enumerate(pieces):
                if index == len(pieces) - 1 and not piece:
                    return
                self.line += 1
                yield piece + "\n" if index < len(pieces) - 1 else piece
            return
        for raw in self._read_raw():
            if self.line == 1 and raw.startswith(BOM) and self.encoding in (None, "utf-8"):
                raw = raw[len(BOM):]
                if self.encoding is None:
                    self.encoding = "utf-8"
                    self._announce(_("batch input read as UTF-8 (it starts with a BOM)"))
            if self.encoding:
                try:
                    yield raw.decode(self.encoding)
                except UnicodeDecodeError:
                    raise _Undecodable(self.line, _("the bytes are not {encoding} text").format(
                        encoding=self.encoding)) from None
                continue
            if raw.isascii():
                yield raw.decode("ascii")
                continue
            try:
                text = raw.decode("utf-8")
                self.encoding = "utf-8"
                self._announce(_("batch input read as UTF-8"))
            except UnicodeDecodeError:
                try:
                    text = raw.decode("gb18030")
                except UnicodeDecodeError:
                    raise _Undecodable(self.line, _("the bytes are neither UTF-8 nor GB18030 (GBK) text")) from None
                self.encoding = "gb18030"
                self._announce(_("batch input is not UTF-8: read as GB18030 (GBK); "
                                 "use --encoding to choose another"))
            yield text

    def _first_line(self) -> str | None:
        try:
            for text in self._lines:
                if text.strip():
                    return text
        except _Undecodable as exc:
            raise self._unreadable(exc, header=True) from None
        return None

    def _csv_lines(self) -> Iterator[str]:
        yield self._first
        yield from self._lines

    def _where(self, line: int) -> str:
        return (_("line {line}") if self.is_json else _("row {line}")).format(line=line)

    def _unreadable(self, exc: _Undecodable, *, header: bool = False) -> InputError:
        if header:
            message = _("the batch input cannot be read at file line {line}: {reason}").format(
                line=exc.line, reason=exc.reason)
        else:
            message = _("the batch input cannot be read at {where}: {reason}; the rows before it were worked "
                        "on, the rest was not read").format(where=self._where(exc.line), reason=exc.reason)
        return InputError(message, hint=_("save it as CSV UTF-8 in Excel, or give --encoding"))

    # -- workbooks ---------------------------------------------------------------

    def _open_workbook(self, head: bytes, sheet: str | None) -> None:
        """Read the chosen sheet whole: its header checked, its rows kept (with their row numbers)."""
        if head.startswith(OLE2):
            raise InputError(_("the input is an Excel 97-2003 workbook (.xls), or a workbook protected by a "
                               "password: neither can be read"), hint=_(SAVE_AS_XLSX))
        data = self._read_whole(workbook=True)
        rows, self.sheet, self._sheet_names = read_sheet(data, sheet, self._announce)
        header_at = next((index for index, (_line, cells) in enumerate(rows) if not _blank(cells)), None)
        if header_at is None:
            self._first = None
            self.total = 0
            return
        self._first = ""
        line, header = rows[header_at]
        self.line = line
        self._read_header([_sheet_text(cell) for cell in header])
        self._sheet_rows = [(line, cells) for line, cells in rows[header_at + 1:] if not _blank(cells)]
        self.total = len(self._sheet_rows)

    # -- the header ----------------------------------------------------------------

    def _read_header(self, header: list[str]) -> None:
        self.header = header
        names = [_normal(name) for name in header]
        seen: set[str] = set()
        for name in names:
            if name and name in seen:
                raise InputError(_("the header has the column {name} twice: which one counts is not clear")
                                 .format(name=for_terminal(name)), hint=_("remove or rename one of them"))
            seen.add(name)
        missing = [key for key in self.required if key not in seen]
        if self.one_of and not any(key in seen for key in self.one_of):
            missing.append(_either(self.one_of))
        if missing:
            found = ",".join(for_terminal(name) for name in header) or _("(nothing)")
            expected = ",".join(self.required + self.one_of[:1])
            hint = _("the first line must name the columns, e.g. {expected}").format(expected=expected)
            marks = [mark for mark in FULL_WIDTH_SEPARATORS if any(mark in name for name in header)]
            if marks:
                hint = _("the header uses the full-width '{mark}': separate the columns with the ASCII comma ',', "
                         "e.g. {expected}").format(mark=marks[0], expected=expected)
            elif len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
                hint = _("the columns must be separated by commas (save as CSV in Excel), e.g. {expected}").format(
                    expected=expected)
            elif self.sheet is not None and self._other_sheets:
                hint = _("the rows are read from the sheet {sheet}; --sheet NAME reads another ({others})").format(
                    sheet=for_terminal(self.sheet), others=", ".join(for_terminal(n) for n in self._other_sheets))
            raise InputError(_("the header has {found}; expected the columns {expected} (missing: {missing})")
                             .format(found=found, expected=expected, missing=", ".join(missing)), hint=hint)
        # Each header cell's output name, or None for a column not carried (blank, or an old result).
        self._layout = [self._column_name(name) if _normal(name) and _normal(name) not in self.drop else None
                        for name in header]
        self.columns = [name for name in self._layout if name is not None]

    @property
    def _other_sheets(self) -> list[str]:
        return [name for name in self._sheet_names if name != self.sheet]

    def _column_name(self, name: str) -> str:
        """The operation's keys in their canonical spelling; any other column as written."""
        return _normal(name) if _normal(name) in self.keys else name

    # -- rows ----------------------------------------------------------------------

    def __iter__(self) -> Iterator[Row]:
        if self._first is None:
            return
        number = 0
        if self._sheet_rows is not None:
            records = self._sheet_records()
        else:
            records = self._json_records() if self.is_json else self._csv_records()
        try:
            for number, (line, record) in enumerate(records, start=1):
                yield self._row(number, line, record)
        except _Undecodable as exc:
            raise self._unreadable(exc) from None
        except csv.Error as exc:
            raise InputError(_("the batch input is not valid CSV at {where}: {reason}").format(
                where=self._where(self.line), reason=exc)) from None

    def _csv_records(self) -> Iterator[tuple[int, dict | tuple]]:
        width = len(self.header)
        while True:
            start = self.line + 1  # csv reads no line ahead: the record starts on the next one
            try:
                cells = next(self._csv)
            except StopIteration:
                return
            if not any(cell.strip() for cell in cells):
                continue
            record = {name: cell for name, cell in zip(self._layout, cells, strict=False) if name is not None}
            if len(cells) > width:
                yield start, (_("has {cells} cells but the header has {width}").format(cells=len(cells),
                                                                                       width=width), record)
                continue
            yield start, record

    def _sheet_records(self) -> Iterator[tuple[int, dict | tuple]]:
        width = len(self.header)
        for line, cells in self._sheet_rows:
            self.line = line
            record = {name: cell for name, cell in zip(self._layout, cells, strict=False) if name is not None}
            used = max((index + 1 for index, cell in enumerate(cells) if not _blank([cell])), default=0)
            if used > width:
                yield line, (_("has {cells} cells but the header has {width}").format(cells=used, width=width),
                             _plain(record))
                continue
            yield line, record

    def _json_records(self) -> Iterator[tuple[int, dict | tuple]]:
        for text in self._csv_lines():
            if not text.strip():
                continue
            line = self.line
            try:
                record = json.loads(text, object_pairs_hook=_no_duplicate_keys)
            except _DuplicateKey as exc:
                raise _Undecodable(line, _("the key {key} appears twice in one object").format(
                    key=for_terminal(exc.key))) from None
            except RecursionError:
                raise _Undecodable(line, _("JSON nested too deep")) from None
            except ValueError:
                self._fix_columns({})
                yield line, (_("not a JSON object (the input is read as JSON lines)"), {})
                continue
            if "\\u" in text and _has_lone_surrogate(record):
                raise _Undecodable(line, _("a \\u escape is half a surrogate pair, not a character"))
            if not isinstance(record, dict):
                self._fix_columns({})
                yield line, (_("not a JSON object"), {})
                continue
            columns = {key: value for key, value in record.items() if key not in self.drop}
            self._fix_columns(columns)
            yield line, columns

    def _fix_columns(self, first: dict) -> None:
        """JSON lines: the input columns of a CSV output are the first line's keys
        (the operation's keys when it has none)."""
        if self.columns is None:
            self.columns = list(first) or list(self.keys)

    def _row(self, number: int, line: int, record: dict | tuple) -> Row:
        def made(values: dict, problem: str | None, columns: dict, numeric: tuple[str, ...] = ()) -> Row:
            return Row(number, values, problem, columns=columns, line=line, in_json=self.is_json, numeric=numeric)

        if isinstance(record, tuple):  # a line that could not be read
            problem, columns = record
            return made({}, problem, columns)
        values: dict[str, str] = {}
        problem = None
        numeric: list[str] = []
        for key in self.keys:
            value = record.get(key)
            if isinstance(value, SheetValue):
                text, why = _sheet_id(key, value)
                if text is not None:
                    values[key] = text
                if why:
                    problem = problem or why
                elif text is not None:
                    numeric.append(key)
                continue
            if isinstance(value, bool) or not isinstance(value, str | int | type(None)):
                problem = problem or _("{key} must be text, not {kind}").format(key=key, kind=_kind(value))
                continue
            # An integer id (from a spreadsheet exported as JSON) is exact: its digits are the id.
            text = "" if value is None else str(value).strip()
            if text:
                values[key] = text
                if isinstance(value, str) and EXCEL_SCIENTIFIC.fullmatch(text):
                    problem = problem or _joined(
                        _("{key} {value} is a number Excel shortened to scientific notation: its digits are "
                          "lost").format(key=key, value=for_terminal(text)), _(RETYPE_AS_TEXT))
        columns = _plain(record)
        if problem:
            return made(values, problem, columns, tuple(numeric))
        columns.update(values)  # the keys as sent: trimmed, integers as text
        missing = [key for key in self.required if key not in values]
        if self.one_of and not any(key in values for key in self.one_of):
            missing.append(_either(self.one_of))
        if missing:
            return made(values, _("missing {keys}").format(keys=", ".join(missing)), columns, tuple(numeric))
        for key, value in values.items():
            problem = check_id(value)
            if problem:
                short = {k: v[:MAX_ID_LENGTH] for k, v in values.items()}
                return made(short, _("{key} cannot be an id: {problem}").format(key=key, problem=problem),
                            {**columns, **short}, tuple(numeric))
        if numeric and not self.accept_numeric_ids:
            row = made(values, None, columns, tuple(numeric))
            if self.name_of is not None:
                from wxpay_cli.flows.names import fold

                if fold(self.name_of(row) or ""):
                    row.by_name = True  # WeChat's name for the pupil decides (flows/names.confirm_number)
                    return row
            key = numeric[0]
            return made(values, _joined(
                _("{key} {value} is a number, not text: a number loses its leading 0s (0012345 becomes 12345, "
                  "another pupil's id)").format(key=key, value=for_terminal(values[key])),
                _(RETYPE_AS_TEXT), _("or give --accept-numeric-ids if these numbers are the ids")),
                columns, tuple(numeric))
        return made(values, None, columns, tuple(numeric))


SAVE_AS_XLSX = N_("save it in Excel as “Excel Workbook (*.xlsx)” without a password, or as “CSV UTF-8”")
RETYPE_AS_TEXT = N_("in Excel, format the column as Text and type the ids again")


def _joined(*parts: str) -> str:
    """A problem and what to do about it, as one sentence of the row's message."""
    text = parts[0]
    for part in parts[1:]:
        text = _("{problem}; {hint}").format(problem=text, hint=part)
    return text


def read_sheet(data: bytes, sheet: str | None,
               announce: Callable[[str], None]) -> tuple[list[tuple[int, list]], str, list[str]]:
    """The rows of a workbook's sheet (`sheet`, else the first visible one), each with its row
    number as Excel shows it (cells: text, None when empty, or SheetValue); the sheet's name;
    the names of every sheet."""
    import warnings
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise InputError(_("the workbook cannot be read: {reason}").format(reason=for_terminal(exc)),
                         hint=_(SAVE_AS_XLSX)) from None
    if unpacked > MAX_UNPACKED:
        raise InputError(_("the workbook unpacks to more than {size} MiB: it is not read").format(
            size=MAX_UNPACKED // 2**20), hint=_("split it into several files"))
    with warnings.catch_warnings():  # openpyxl's warnings (styles, extensions it drops) are not the operator's
        warnings.simplefilter("ignore")
        import openpyxl

        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
        except Exception as exc:  # a parser of outside bytes: whatever it raises, the file is not a workbook
            raise InputError(_("the input is a zip file but not an Excel workbook (.xlsx) that can be read: "
                               "{reason}").format(reason=for_terminal(f"{type(exc).__name__}: {exc}"[:200])),
                             hint=_(SAVE_AS_XLSX)) from None
        try:
            names = [ws.title for ws in book.worksheets]
            if not names:
                raise InputError(_("the workbook has no sheet"), hint=_(SAVE_AS_XLSX))
            if sheet is not None:
                chosen = [ws for ws in book.worksheets if ws.title == sheet] or [
                    ws for ws in book.worksheets if ws.title.strip().casefold() == sheet.strip().casefold()]
                if not chosen:
                    raise InputError(_("the workbook has no sheet {sheet}; its sheets: {names}").format(
                        sheet=for_terminal(sheet), names=", ".join(for_terminal(name) for name in names)))
                ws = chosen[0]
            else:
                ws = next((ws for ws in book.worksheets if ws.sheet_state == "visible"), book.worksheets[0])
            others = [name for name in names if name != ws.title]
            if others:
                announce(_("batch input: the sheet {sheet} of the workbook (it also has {others}; --sheet NAME "
                           "reads another)").format(sheet=for_terminal(ws.title),
                                                    others=", ".join(for_terminal(n) for n in others)))
            else:
                announce(_("batch input: the sheet {sheet} of the workbook").format(sheet=for_terminal(ws.title)))
            ws.reset_dimensions()  # the size a file declares may be wrong: read every row there is
            rows = []
            try:
                for number, cells in enumerate(ws.iter_rows(min_row=1), start=1):
                    rows.append((number, [_sheet_cell(cell) for cell in cells]))
            except InputError:
                raise
            except Exception as exc:
                raise InputError(_("the workbook cannot be read: {reason}").format(
                    reason=for_terminal(f"{type(exc).__name__}: {exc}"[:200])), hint=_(SAVE_AS_XLSX)) from None
            return rows, ws.title, names
        finally:
            book.close()


def _sheet_cell(cell) -> object:
    """A cell as batch input: its text, None when empty, else a SheetValue."""
    import datetime

    value = cell.value
    if value is None or isinstance(value, str) and getattr(cell, "data_type", "s") != "e":
        return value
    if isinstance(value, str):  # #N/A, #REF!: a formula that failed
        return SheetValue("error", value, value)
    if isinstance(value, bool):
        return SheetValue("bool", value, "TRUE" if value else "FALSE")
    if isinstance(value, int | float):
        return SheetValue("number", value, _number_text(value, getattr(cell, "number_format", None)))
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return SheetValue("date", value, value.date().isoformat())
    if isinstance(value, datetime.date | datetime.time | datetime.datetime):
        return SheetValue("date", value, value.isoformat())
    return SheetValue("date" if isinstance(value, datetime.timedelta) else "error", value, str(value))


def _number_text(value: int | float, number_format: str | None) -> str:
    """A number as Excel shows it in a General cell, or zero-padded by a format like 0000000."""
    whole = isinstance(value, int) or value.is_integer() and abs(value) < 10**EXCEL_DIGITS
    text = str(int(value)) if whole else format(value, f".{EXCEL_DIGITS}g")
    if whole and value >= 0 and number_format and re.fullmatch(r"0+", number_format):
        text = text.zfill(len(number_format))
    return text


def _sheet_id(key: str, value: SheetValue) -> tuple[str | None, str | None]:
    """(the id's text, or None; why it cannot be an id, or None) for a cell that is not text."""
    if value.kind != "number":
        kinds = {"date": _("a date"), "bool": _("true/false"), "error": _("an error value ({value})").format(
            value=for_terminal(value.text))}
        return None, _joined(_("{key} is {kind} in the workbook, not text").format(key=key, kind=kinds[value.kind]),
                             _(RETYPE_AS_TEXT))
    number = value.value
    shown = for_terminal(value.text)
    if isinstance(number, float) and not number.is_integer():
        return value.text, _joined(_("{key} {value} is a number with a fraction, not an id").format(
            key=key, value=shown), _(RETYPE_AS_TEXT))
    if number < 0:
        return value.text, _joined(_("{key} {value} is a negative number, not an id").format(key=key, value=shown),
                                   _(RETYPE_AS_TEXT))
    if len(str(int(number))) > EXCEL_DIGITS:
        return value.text, _joined(_("{key} {value} is a number of more than 15 digits: Excel keeps only 15, the "
                                     "rest are lost").format(key=key, value=shown), _(RETYPE_AS_TEXT))
    return value.text, None


def _sheet_text(cell: object) -> str:
    if cell is None:
        return ""
    return cell.text if isinstance(cell, SheetValue) else str(cell)


def _blank(cells) -> bool:
    return all(cell is None or isinstance(cell, str) and not cell.strip() for cell in cells)


def _plain(record: dict) -> dict:
    """The record's columns as they are carried: a workbook's numbers and dates as Excel shows them."""
    return {name: value.text if isinstance(value, SheetValue) else value for name, value in record.items()}


class _PutBack:
    """A stream that cannot seek back (a pipe), with its first bytes, already read, put back in front."""

    def __init__(self, head: bytes, stream):
        self._head = head
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        head, self._head = self._head, b""
        if size is None or size < 0:
            return head + self._stream.read()
        if len(head) >= size:
            head, self._head = head[:size], head[size:]
            return head
        return head + self._stream.read(size - len(head))

    def readline(self, limit: int = -1) -> bytes:
        if not self._head:
            return self._stream.readline(limit)
        end = self._head.find(b"\n") + 1
        if limit is not None and limit >= 0 and (end == 0 or end > limit) and len(self._head) >= limit:
            end = limit
        if end:
            line, self._head = self._head[:end], self._head[end:]
            return line
        head, self._head = self._head, b""
        return head + self._stream.readline(-1 if limit is None or limit < 0 else limit - len(head))

    def fileno(self) -> int:
        return self._stream.fileno()


def _either(names: tuple[str, ...]) -> str:
    """'out_user_id or user_id' in the operator's language (its English kept for JSON)."""
    text = names[0]
    for name in names[1:]:
        text = _("{first} or {second}").format(first=text, second=name)
    return text


def _normal(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower()


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return _("true/false")
    if isinstance(value, float):
        return _("a number with a fraction or exponent (write ids as text)")
    if isinstance(value, dict):
        return _("an object")
    if isinstance(value, list):
        return _("a list")
    return type(value).__name__


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    record = {}
    for key, value in pairs:
        if key in record:
            raise _DuplicateKey(key)
        record[key] = value
    return record


def _has_lone_surrogate(record: object) -> bool:
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (RecursionError, ValueError):
        return False
    return False
