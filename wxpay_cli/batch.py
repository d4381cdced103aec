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
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from wxpay_cli import output
from wxpay_cli.errors import AuditLogError, ConfigError, ExitStatus, VerificationError, WxpayError

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
    key in `required` and, when `one_of` is given, at least one of those.
    """
    wanted = required + one_of
    first = stream.readline()
    while first and not first.strip():
        first = stream.readline()
    if not first:
        return
    lines = itertools.chain([first], stream)
    if first.lstrip().startswith("{"):
        records = _json_records(lines)
    else:
        records = _csv_records(lines)
    for number, record in enumerate(records, start=1):
        if isinstance(record, str):  # a line that could not be read
            yield Row(number, {}, record)
            continue
        values = {key: str(record[key]).strip() for key in wanted if record.get(key) not in (None, "")}
        values = {key: value for key, value in values.items() if value}
        missing = [key for key in required if key not in values]
        if one_of and not any(key in values for key in one_of):
            missing.append(" or ".join(one_of))
        yield Row(number, values, f"missing {', '.join(missing)}" if missing else None)


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
            text += f"; {self.not_started} rows in flight were not started"
        if self.interrupted:
            text += "; interrupted: the rest of the input was not read"
        return text


_SKIPPED = object()


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


async def _work_through(rows, work, client, concurrency) -> Summary:
    summary = Summary()
    stop = asyncio.Event()
    slots = asyncio.Semaphore(concurrency)
    queue: asyncio.Queue = asyncio.Queue(maxsize=concurrency * 4)
    loop = asyncio.get_running_loop()

    def interrupt() -> None:
        summary.interrupted = True
        stop.set()

    try:
        loop.add_signal_handler(signal.SIGINT, interrupt)
    except (NotImplementedError, RuntimeError, ValueError):
        pass  # not the main thread: Ctrl-C keeps its default behaviour

    async def one(row: Row):
        if row.problem:
            return {**row.values, "error": {"code": "INVALID_ROW", "message": f"row {row.number}: {row.problem}",
                                           "http_status": None, "request_id": None}}
        async with slots:
            if stop.is_set():
                return _SKIPPED
            try:
                return {**row.values, **await work(client, dict(row.values))}
            except FATAL as exc:
                if summary.fatal is None:
                    summary.fatal = (row.number, exc)
                stop.set()
                return {**row.values, "error": error_object(exc)}
            except WxpayError as exc:
                return {**row.values, "error": error_object(exc)}

    async def produce() -> None:
        try:
            for row in rows:
                if stop.is_set():
                    break
                await queue.put(asyncio.create_task(one(row)))
        finally:
            await queue.put(None)

    producer = asyncio.create_task(produce())
    with output.progress("rows") as advance:
        while (task := await queue.get()) is not None:
            record = await task
            if record is _SKIPPED:
                summary.not_started += 1
                continue
            output.write_json_line(record)
            if "error" in record:
                summary.failed += 1
            else:
                summary.ok += 1
            advance()
    await producer
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
