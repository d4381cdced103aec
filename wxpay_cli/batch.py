"""Batch mode: rows in (CSV or JSON lines), JSON lines out, in input order.

`read_rows` streams rows from a file and checks each has the keys its
operation needs; `run` works on them concurrently over one `AsyncClient` and
writes each result line as soon as it and every row before it are done. At
most `concurrency * 4` rows are in memory at once, however long the input.

A row's own failure (WeChat refused it, the network failed, it lacks a key)
becomes an `"error"` object on its line. A fault that makes every row suspect
(configuration, the audit log, a response that fails verification) stops the
run at once: no new row starts, rows already sent are finished and written,
and the error names the row. Ctrl-C does the same and exits 130.
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from wxpay_cli import output
from wxpay_cli.api import MAX_ID_LENGTH, check_id
from wxpay_cli.errors import (
    AuditLogError,
    ConfigError,
    ExitStatus,
    InputError,
    VerificationError,
    WxpayError,
)

# Faults that stop the whole run rather than failing one row.
FATAL = (ConfigError, AuditLogError, VerificationError)


@dataclass
class Row:
    """One input row: its number (1-based, as a person counts), its keys, and why it is unusable, if it is."""

    number: int
    values: dict[str, str]
    problem: str | None = None


def read_rows(stream: TextIO, *, required: tuple[str, ...], one_of: tuple[str, ...] = ()) -> Iterator[Row]:
    """Rows from CSV with a header, or from JSON lines (detected by a leading `{`).

    Only the operation's input keys are kept, so an output line (which adds
    result fields and an "error") is valid input again. Each row needs every
    key in `required` and, when `one_of` is given, at least one of those. A
    file that cannot be read as text rows at all raises InputError (exit 2).
    """
    number = 0
    try:
        for number, record in enumerate(_records(stream), start=1):
            yield _row(number, record, required, one_of)
    except UnicodeDecodeError:
        raise InputError(f"the batch input is not UTF-8 text (after row {number})",
                         hint="save it as UTF-8, e.g. Excel's 'CSV UTF-8'") from None
    except csv.Error as exc:
        raise InputError(f"the batch input is not valid CSV after row {number}: {exc}") from None


def _records(stream: TextIO) -> Iterator[dict | str]:
    first = stream.readline()
    while first and not first.strip():
        first = stream.readline()
    if not first:
        return
    lines = itertools.chain([first], stream)
    yield from (_json_records(lines) if first.lstrip().startswith("{") else _csv_records(lines))


def _row(number: int, record: dict | str, required: tuple[str, ...], one_of: tuple[str, ...]) -> Row:
    if isinstance(record, str):  # a line that could not be read
        return Row(number, {}, record)
    values = {}
    for key in required + one_of:
        value = str(record.get(key) if record.get(key) is not None else "").strip()
        if value:
            values[key] = value
    missing = [key for key in required if key not in values]
    if one_of and not any(key in values for key in one_of):
        missing.append(" or ".join(one_of))
    if missing:
        return Row(number, values, f"missing {', '.join(missing)}")
    for key, value in values.items():
        problem = check_id(value)
        if problem:
            return Row(number, {k: v[:MAX_ID_LENGTH] for k, v in values.items()}, f"{key} cannot be an id: {problem}")
    return Row(number, values)


def _json_records(lines: Iterable[str]) -> Iterator[dict | str]:
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            yield "not a JSON object (the input is read as JSON lines)"
            continue
        yield record if isinstance(record, dict) else "not a JSON object"


def _csv_records(lines: Iterable[str]) -> Iterator[dict | str]:
    reader = csv.reader(lines)
    header = [name.strip().lower() for name in next(reader)]
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            yield f"has {len(cells)} cells but the header has {len(header)}"
            continue
        yield dict(zip(header, cells, strict=False))


def error_object(exc: WxpayError) -> dict:
    return {"code": exc.code, "message": exc.message, "http_status": exc.http_status, "request_id": exc.request_id}


@dataclass
class Summary:
    ok: int = 0
    failed: int = 0
    not_started: int = 0
    started_at: float = field(default_factory=time.monotonic)
    interrupted: bool = False
    fatal: tuple[int, WxpayError] | None = None

    @property
    def exit_status(self) -> ExitStatus:
        if self.fatal:
            return self.fatal[1].exit_status
        if self.interrupted:
            return ExitStatus.INTERRUPTED
        return ExitStatus.REFUSED if self.failed else ExitStatus.OK

    def line(self) -> str:
        elapsed = time.monotonic() - self.started_at
        done = self.ok + self.failed
        rate = f" ({done / elapsed:.0f} rows/s)" if elapsed > 0 and done else ""
        text = f"batch: {self.ok} ok, {self.failed} failed in {elapsed:.2f} s{rate}"
        if self.not_started:
            text += f"; {self.not_started} rows were not started (their lines say NOT_STARTED)"
        if self.interrupted or self.fatal:
            text += "; the rest of the input was not read"
        return text


def run(rows: Iterable[Row], work: Callable[[object, dict], Awaitable[dict]], *,
        make_client: Callable[[], object], concurrency: int) -> Summary:
    """Work on every row with `work(client, values)`; write one JSON line per row in
    input order; return the tally. `make_client()` is called inside the event loop."""
    return asyncio.run(_run(rows, work, make_client, concurrency))


async def _run(rows, work, make_client, concurrency) -> Summary:
    client = make_client()
    try:
        return await _work_through(rows, work, client, concurrency)
    finally:
        await client.aclose()


def _error_line(row: Row, code: str, message: str) -> dict:
    return {**row.values, "error": {"code": code, "message": message, "http_status": None, "request_id": None}}


async def _work_through(rows: Iterable[Row], work, client, concurrency: int) -> Summary:
    """Three parts, so a slow input never holds up rows already read:

    - a reader thread turns the input into rows (blocking reads stay off the
      event loop), never more than `window` rows ahead of the writer;
    - the loop starts a task per row, at most `concurrency` working at once;
    - the writer awaits the tasks in input order and writes each line.
    """
    summary = Summary()
    loop = asyncio.get_running_loop()
    window = concurrency * 4
    room = threading.Semaphore(window)  # rows read but not yet written
    incoming: asyncio.Queue = asyncio.Queue()  # rows from the reader; `room` bounds it
    ordered: asyncio.Queue = asyncio.Queue()  # one task per row, in input order
    working = asyncio.Semaphore(concurrency)
    stop = asyncio.Event()

    def halt() -> None:
        """No new row starts; the reader is told to stop."""
        stop.set()
        incoming.put_nowait(None)
        room.release()

    def interrupt() -> None:
        summary.interrupted = True
        halt()

    def read() -> None:
        def hand(item) -> None:
            try:
                loop.call_soon_threadsafe(incoming.put_nowait, item)
            except RuntimeError:  # the loop has finished: nobody wants the rest
                pass

        try:
            for row in rows:
                room.acquire()
                if stop.is_set():
                    return
                hand(row)
        except BaseException as exc:  # handed to the loop: InputError stops the run, a bug re-raises there
            hand(exc)
        finally:
            hand(None)

    async def one(row: Row):
        if row.problem:
            return _error_line(row, "INVALID_ROW", f"row {row.number}: {row.problem}")
        async with working:
            if stop.is_set():
                return _error_line(row, "NOT_STARTED", f"row {row.number} was not started: the run stopped first")
            try:
                return {**row.values, **await work(client, dict(row.values))}
            except FATAL as exc:
                if summary.fatal is None:
                    summary.fatal = (row.number, exc)
                halt()
                return {**row.values, "error": error_object(exc)}
            except WxpayError as exc:
                return {**row.values, "error": error_object(exc)}

    async def start_rows() -> None:
        last = 0
        try:
            while not stop.is_set():
                item = await incoming.get()
                if item is None:
                    break
                if isinstance(item, WxpayError):
                    if summary.fatal is None:
                        summary.fatal = (last + 1, item)
                    halt()
                    break
                if isinstance(item, BaseException):
                    raise item
                last = item.number
                task = asyncio.create_task(one(item))
                started.add(task)
                task.add_done_callback(started.discard)
                ordered.put_nowait(task)
        finally:
            ordered.put_nowait(None)

    try:
        loop.add_signal_handler(signal.SIGINT, interrupt)
    except (NotImplementedError, RuntimeError, ValueError):
        pass  # not the main thread: Ctrl-C keeps its default behaviour
    threading.Thread(target=read, name="wxpay-batch-reader", daemon=True).start()
    started: set[asyncio.Task] = set()
    starter = asyncio.create_task(start_rows())
    try:
        with output.progress("rows") as advance:
            while (task := await ordered.get()) is not None:
                record = await task
                room.release()
                output.write_json_line(record)
                code = record.get("error", {}).get("code")
                if code == "NOT_STARTED":
                    summary.not_started += 1
                elif code:
                    summary.failed += 1
                else:
                    summary.ok += 1
                advance()
        await starter
    finally:
        # Leaving early (stdout closed, a bug): settle every task before the client closes.
        halt()
        for task in (starter, *started):
            task.cancel()
        await asyncio.gather(starter, *started, return_exceptions=True)
        try:
            loop.remove_signal_handler(signal.SIGINT)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    return summary


def finish(summary: Summary) -> None:
    """Print the summary; raise the fault that stopped the run, naming its row."""
    output.info(summary.line())
    if summary.fatal:
        number, exc = summary.fatal
        exc.message = f"stopped at row {number}: {exc.message}"
        raise exc
    if summary.exit_status != ExitStatus.OK:
        raise BatchIncomplete(summary)


class BatchIncomplete(WxpayError):
    """Some rows failed (exit 1) or the run was interrupted (exit 130); the lines say which."""

    code = "BATCH_INCOMPLETE"

    def __init__(self, summary: Summary):
        super().__init__("some rows failed; their lines carry an \"error\"" if not summary.interrupted
                         else "interrupted")
        self.exit_status = summary.exit_status
