"""Batch input: the rows of a CSV (with header) or JSON-lines file, checked.

`BatchInput` reads the bytes itself, so it can decode what Excel saves: UTF-8
(with or without a BOM), else GB18030 (a superset of GBK) when the text is not
UTF-8 but decodes as such, or the encoding the operator names. The encoding
used is said once on stderr. The CSV header is read and checked when the input
is opened, before any request: a header without the operation's columns, or
with a column twice, is a usage error (exit 2).

Each row keeps every input column, in input order (`Row.columns`), so extra
columns (姓名, 班级, ...) reach the output line unchanged, and the operation's
own keys, checked (`Row.values`). A column named like one of the operation's
results is a stale result and is not kept (the naming rule: batch_lines.py). A row that cannot be used (a key missing, an
id that is not text) is still a row: its line says INVALID_ROW and carries its
columns. Input that cannot be read as rows at all (bytes in no known encoding,
JSON nested absurdly deep, duplicate JSON keys, lone surrogates, an endless
line) stops the input there with an InputError naming the row and file line;
every row before it is worked on.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from wxpay_cli.errors import InputError
from wxpay_cli.i18n import _
from wxpay_cli.sanitise import for_terminal
from wxpay_cli.wire.api import MAX_ID_LENGTH, check_id

MAX_LINE = 1024 * 1024  # a roster line is a few hundred bytes; an id may be long enough to be refused
BOM = b"\xef\xbb\xbf"


@dataclass
class Row:
    """One input row: its number (1-based, as a person counts data rows), the operation's
    keys (`values`), every input column in order (`columns`), and why it is unusable, if it is."""

    number: int
    values: dict[str, str]
    problem: str | None = None
    columns: dict[str, object] = field(default_factory=dict)
    line: int | None = None  # the file line the row starts on

    def __post_init__(self) -> None:
        if not self.columns:
            self.columns = dict(self.values)


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
    """

    def __init__(self, stream: BinaryIO, *, required: tuple[str, ...], one_of: tuple[str, ...] = (),
                 drop: frozenset[str] = frozenset(), encoding: str | None = None,
                 announce: Callable[[str], None] = lambda text: None):
        self.required = required
        self.one_of = one_of
        self.keys = required + one_of
        self.drop = set(drop) - set(self.keys)  # the operation's own keys say whom to ask: never dropped
        self.encoding = check_encoding(encoding) if encoding else None
        self._announce = announce
        self._stream = stream
        self.line = 0  # the last file line read
        self.total = self._count_rows()
        if self.encoding:
            announce(_("batch input read as {encoding} (--encoding)").format(encoding=self.encoding))
        self.header: list[str] | None = None  # CSV: the header as written
        self.columns: list[str] | None = None  # the input columns an output line carries, in order
        self._lines = self._decoded_lines()
        self._first = self._first_line()
        self.is_json = self._first is not None and self._first.lstrip().startswith("{")
        self._csv = None
        if self._first is not None and not self.is_json:
            self._csv = csv.reader(self._csv_lines())
            self._read_header()

    # -- bytes to text lines ---------------------------------------------------

    def _count_rows(self) -> int | None:
        """Rows in a regular file (non-blank lines, less a CSV header); None for a pipe."""
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

    def _unreadable(self, exc: _Undecodable, *, header: bool = False, row: int | None = None) -> InputError:
        if header:
            message = _("the batch input cannot be read at file line {line}: {reason}").format(
                line=exc.line, reason=exc.reason)
        else:
            message = _("the batch input cannot be read at row {row} (file line {line}): {reason}; the rows "
                        "before it were worked on, the rest was not read").format(
                row=row, line=exc.line, reason=exc.reason)
        return InputError(message, hint=_("save it as CSV UTF-8 in Excel, or give --encoding"))

    # -- the CSV header ----------------------------------------------------------

    def _read_header(self) -> None:
        try:
            header = next(self._csv)
        except _Undecodable as exc:
            raise self._unreadable(exc, header=True) from None
        except csv.Error as exc:
            raise InputError(_("the CSV header cannot be read: {reason}").format(reason=exc)) from None
        self.header = header
        names = [_normal(name) for name in header]
        seen: set[str] = set()
        for name in names:
            if name and name in seen:
                raise InputError(_("the CSV header has the column {name} twice: which one counts is not clear")
                                 .format(name=for_terminal(name)), hint=_("remove or rename one of them"))
            seen.add(name)
        missing = [key for key in self.required if key not in seen]
        if self.one_of and not any(key in seen for key in self.one_of):
            missing.append(_either(self.one_of))
        if missing:
            found = ",".join(for_terminal(name) for name in header) or _("(nothing)")
            expected = ",".join(self.required + self.one_of[:1])
            hint = _("the first line must name the columns, e.g. {expected}").format(expected=expected)
            if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
                hint = _("the columns must be separated by commas (save as CSV in Excel), e.g. {expected}").format(
                    expected=expected)
            raise InputError(_("the CSV header has {found}; expected the columns {expected} (missing: {missing})")
                             .format(found=found, expected=expected, missing=", ".join(missing)), hint=hint)
        # Each header cell's output name, or None for a column not carried (blank, or an old result).
        self._layout = [self._column_name(name) if _normal(name) and _normal(name) not in self.drop else None
                        for name in header]
        self.columns = [name for name in self._layout if name is not None]

    def _column_name(self, name: str) -> str:
        """The operation's keys in their canonical spelling; any other column as written."""
        return _normal(name) if _normal(name) in self.keys else name

    # -- rows ----------------------------------------------------------------------

    def __iter__(self) -> Iterator[Row]:
        if self._first is None:
            return
        number = 0
        records = self._json_records() if self.is_json else self._csv_records()
        try:
            for number, (line, record) in enumerate(records, start=1):
                yield self._row(number, line, record)
        except _Undecodable as exc:
            raise self._unreadable(exc, row=number + 1) from None
        except csv.Error as exc:
            raise InputError(_("the batch input is not valid CSV at row {row} (file line {line}): {reason}").format(
                row=number + 1, line=self.line, reason=exc)) from None

    def _csv_records(self) -> Iterator[tuple[int, dict | str]]:
        width = len(self.header)
        for cells in self._csv:
            line = self.line  # where the record ends; a quoted cell may span lines
            if not any(cell.strip() for cell in cells):
                continue
            record = {name: cell for name, cell in zip(self._layout, cells, strict=False) if name is not None}
            if len(cells) > width:
                yield line, (_("has {cells} cells but the header has {width}").format(cells=len(cells), width=width),
                             record)
                continue
            yield line, record

    def _json_records(self) -> Iterator[tuple[int, dict | str]]:
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
        if isinstance(record, tuple):  # a line that could not be read
            problem, columns = record
            return Row(number, {}, problem, columns=columns, line=line)
        values: dict[str, str] = {}
        problem = None
        for key in self.keys:
            value = record.get(key)
            if isinstance(value, bool) or not isinstance(value, str | int | type(None)):
                problem = problem or _("{key} must be text, not {kind}").format(key=key, kind=_kind(value))
                continue
            # An integer id (from a spreadsheet exported as JSON) is exact: its digits are the id.
            text = "" if value is None else str(value).strip()
            if text:
                values[key] = text
        columns = dict(record)
        if problem:
            return Row(number, values, problem, columns=columns, line=line)
        columns.update(values)  # the keys as sent: trimmed, integers as text
        missing = [key for key in self.required if key not in values]
        if self.one_of and not any(key in values for key in self.one_of):
            missing.append(_either(self.one_of))
        if missing:
            return Row(number, values, _("missing {keys}").format(keys=", ".join(missing)), columns=columns,
                       line=line)
        for key, value in values.items():
            problem = check_id(value)
            if problem:
                short = {k: v[:MAX_ID_LENGTH] for k, v in values.items()}
                return Row(number, short, _("{key} cannot be an id: {problem}").format(key=key, problem=problem),
                           columns={**columns, **short}, line=line)
        return Row(number, values, columns=columns, line=line)


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
