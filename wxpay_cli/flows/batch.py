"""Batch mode: rows in (CSV or JSON lines, see batch_input.py), one line out per row, in input order.

`run` works on the rows concurrently over one `AsyncClient` and writes each
result line (JSON, or CSV through output.CsvWriter) as soon as it and every
row before it are done, carrying the row's input columns. At most
`concurrency * 4` rows are in memory at once, however long the input.

A line is made as batch_lines.py says: the row's input columns, then the
operation's results under fixed names (WeChat's undeclared fields apart, under
`wechat_extra`). A row's own failure (WeChat refused it, the network failed, it
lacks a key) becomes an `"error"` object on its line, its message starting with the
row as Excel numbers it (`row 7: ...`). A fault that makes every row suspect
(configuration, credentials WeChat refuses, the audit log, a response that
fails verification) stops the run at once: no new row starts, rows already
sent are finished and written, and the error names the first such row. Input
that cannot be read further ends the input: the rows before it are finished.
Ctrl-C (or SIGTERM, SIGHUP, SIGQUIT) stops like a fault and exits 128 + the signal (130 for Ctrl-C).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from wxpay_cli.errors import (
    ApiError,
    AuditLogError,
    ConfigError,
    ExitStatus,
    InputError,
    VerificationError,
    WxpayError,
    exit_for_signal,
)
from wxpay_cli.flows.batch_input import Row
from wxpay_cli.flows.batch_lines import Operation, line
from wxpay_cli.i18n import _, ngettext
from wxpay_cli.terminal import output, signals

__all__ = ["Row", "Claims", "NotStarted", "Summary", "run", "finish", "BatchIncomplete", "stops_the_run",
           "DUPLICATE_ROW"]

DUPLICATE_ROW = "DUPLICATE_ROW"  # a row naming a pupil an earlier row names (see Claims): nothing done for it
NOTHING_LEFT_TO_DO = ("ALREADY_TERMINATED",)  # a line's `outcome` that succeeded with nothing to do

# Faults that stop the whole run rather than failing one row.
FATAL = (ConfigError, AuditLogError, VerificationError)


def stops_the_run(exc: WxpayError) -> WxpayError | None:
    """The error that stops the whole run for `exc`, or None when only its row failed.

    Credentials WeChat refuses (401: SIGN_ERROR and the like) would be refused
    for every row: a configuration problem (exit 3), not one refusal per row."""
    if isinstance(exc, FATAL):
        return exc
    if isinstance(exc, ApiError) and exc.http_status == 401:
        stop = ConfigError(_("WeChat refused the merchant's credentials ({code}: {message})").format(
            code=exc.code, message=exc.message), hint=_("check the profile with `wxpay config check`"),
            code=exc.code)
        stop.http_status, stop.detail, stop.request_id = exc.http_status, exc.detail, exc.request_id
        return stop
    return None


class Claims:
    """Which row reaches a pupil first, in input order whatever the scheduling.

    A row that has found its pupil calls `claim(number, key)`: it waits until
    every earlier row has claimed its own pupil or finished, then learns the
    first earlier row with the same key (or None: the pupil is its own). The
    runner settles every row when its line is done, so nobody waits for a row
    that failed or never started. Rows start in input order (asyncio's
    semaphore is first come, first served), so every earlier row is already
    running or done when a later one waits.

    The claim is also the last point before a row's irreversible step: once
    the run stops (a fault, Ctrl-C), `claim` raises NotStarted instead.
    """

    def __init__(self) -> None:
        self._owner: dict[object, int] = {}  # key -> the first row that claimed it
        self._settled: set[int] = set()
        self._low = 1  # every row below this one is settled
        self._changed = asyncio.Event()
        self._stopped = False

    async def claim(self, number: int, key: object) -> int | None:
        owner = self._owner.get(key)
        if owner is None or number < owner:
            self._owner[key] = number
        self.settle(number)
        while self._low < number and not self._stopped:
            self._changed.clear()
            await self._changed.wait()
        if self._stopped:
            raise NotStarted(number)
        owner = self._owner[key]
        return owner if owner < number else None

    def settle(self, number: int) -> None:
        if number < self._low or number in self._settled:
            return
        self._settled.add(number)
        while self._low in self._settled:
            self._settled.discard(self._low)
            self._low += 1
        self._changed.set()

    def stop(self) -> None:
        """The run stops: rows waiting, or yet to claim, go no further."""
        self._stopped = True
        self._changed.set()


class NotStarted(WxpayError):
    """A row the run stopped before its work (or its irreversible step) began."""

    code = "NOT_STARTED"

    def __init__(self, number: int, where: str | None = None):
        super().__init__(_("{where} was not started: the run stopped first").format(
            where=where or _("row {number}").format(number=number)))


def error_object(exc: WxpayError, where: str | None = None) -> dict:
    """A line's `error`; `where` (Row.where) starts its message, so every failed line names its row as
    Excel numbers it (an output drops blank rows: its own row numbers are not the roster's)."""
    message = exc.message if where is None else _("{where}: {problem}").format(where=where, problem=exc.message)
    return {"code": exc.code, "message": message, "http_status": exc.http_status, "request_id": exc.request_id}


@dataclass
class Summary:
    ok: int = 0
    failed: int = 0
    not_started: int = 0
    nothing_to_do: int = 0  # of the rows ok, those already done (a pupil already terminated)
    started_at: float = field(default_factory=time.monotonic)
    interrupted: bool = False
    signum: int | None = None  # the signal that stopped the run (None: Ctrl-C, or none)
    fatal: tuple[int, WxpayError] | None = None  # the first row (in input order) that stopped the run
    fatal_where: str | None = None  # that row as the operator finds it (Row.where)
    output_failed: OSError | None = None  # writing a line failed: the rest were worked on, not written
    written_to: str | None = None  # the file (-o FILE) that holds the lines, said after the summary

    def stop_at(self, number: int, exc: WxpayError, where: str | None = None) -> None:
        if self.fatal is None or number < self.fatal[0]:
            self.fatal = (number, exc)
            self.fatal_where = where

    @property
    def exit_status(self) -> ExitStatus:
        if self.fatal:
            return self.fatal[1].exit_status
        if self.interrupted:
            return exit_for_signal(self.signum)
        return ExitStatus.REFUSED if self.failed else ExitStatus.OK

    def count(self, record: dict) -> None:
        code = (record.get("error") or {}).get("code")
        if code == "NOT_STARTED":
            self.not_started += 1
        elif code:
            self.failed += 1
        else:
            self.ok += 1
            if record.get("outcome") in NOTHING_LEFT_TO_DO:
                self.nothing_to_do += 1

    def line(self) -> str:
        elapsed = time.monotonic() - self.started_at
        done = self.ok + self.failed
        text = _("batch: {ok} ok, {failed} failed in {seconds} s").format(
            ok=self.ok, failed=self.failed, seconds=f"{elapsed:.2f}")
        if elapsed > 0 and done:
            # the space is the translator's: none before a full-width bracket
            text += _(" ({rate} rows/s)").format(rate=f"{done / elapsed:.0f}")
        if self.nothing_to_do:
            text += _("; ") + ngettext("{count} already terminated: nothing was left to do for it",
                                    "{count} already terminated: nothing was left to do for them",
                                    self.nothing_to_do).format(count=self.nothing_to_do)
        if self.not_started:
            text += "; " + ngettext("{count} row was not started (its line says NOT_STARTED)",
                                    "{count} rows were not started (their lines say NOT_STARTED)",
                                    self.not_started).format(count=self.not_started)
        if self.interrupted or self.fatal:
            text += "; " + _("the rest of the input was not read")
        return text


def run(rows: Iterable[Row], work: Callable[[object, Row], Awaitable[dict]], *,
        make_client: Callable[[], object], concurrency: int, writer=None, total: int | None = None,
        claims: Claims | None = None, operation: Operation | None = None) -> Summary:
    """Work on every row with `work(client, row)`; write one line per row in input
    order (JSON lines unless `writer` says otherwise); return the tally.
    `make_client()` is called inside the event loop; `total` (rows, when known)
    feeds the progress display; `claims` is settled as each row finishes;
    `operation` names the results a line takes from what `work` returns."""
    return asyncio.run(_run(rows, work, make_client, concurrency, writer or output.JsonLinesWriter(), total,
                            claims, operation))


async def _run(rows, work, make_client, concurrency, writer, total, claims, operation) -> Summary:
    client = make_client()
    try:
        return await _work_through(rows, work, client, concurrency, writer, total, claims, operation)
    finally:
        await client.aclose()


async def _work_through(rows: Iterable[Row], work, client, concurrency: int, writer, total, claims,
                        operation) -> Summary:
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
        if claims is not None:
            claims.stop()

    def interrupt(signum: int | None = None) -> None:
        if signum is not None and summary.signum == signum:  # the same signal twice: stop at once
            signals.end_by(loop, signum)
            return
        summary.interrupted = True
        summary.signum = summary.signum or signum
        client.stopping = True  # rows in flight end with their current attempt, bounded by the timeout
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
        except BaseException as exc:  # handed to the loop: InputError ends the input, a bug re-raises there
            hand(exc)
        finally:
            hand(None)

    async def one(row: Row):
        try:
            return await attempt(row)
        finally:
            if claims is not None:
                claims.settle(row.number)

    async def attempt(row: Row):
        if row.problem:
            return line(row.columns, error={"code": "INVALID_ROW", "message": _("{where}: {problem}").format(
                where=row.where, problem=row.problem), "http_status": None, "request_id": None})
        async with working:
            if stop.is_set():
                return line(row.columns, error=error_object(NotStarted(row.number, row.where)))
            try:
                return line(row.columns, await work(client, row), operation=operation)
            except NotStarted:  # the run stopped before the row's irreversible step (Claims)
                return line(row.columns, error=error_object(NotStarted(row.number, row.where)))
            except WxpayError as exc:
                fatal = stops_the_run(exc)
                if fatal is not None:
                    summary.stop_at(row.number, fatal, row.where)
                    halt()
                return line(row.columns, error=error_object(exc, row.where))

    async def start_rows() -> None:
        last = 0
        try:
            while not stop.is_set():
                item = await incoming.get()
                if item is None:
                    break
                if isinstance(item, WxpayError):
                    # The input cannot be read past here: the rows before it are still worked on.
                    summary.stop_at(last + 1, item)
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

    # Ctrl-C, and the signals that stop wxpay the same way (terminal.signals): rows in
    # flight finish within their deadline and are written, then the summary.
    restore_signals = signals.on_loop(loop, interrupt)
    threading.Thread(target=read, name="wxpay-batch-reader", daemon=True).start()
    started: set[asyncio.Task] = set()
    starter = asyncio.create_task(start_rows())
    try:
        with output.Progress(total) as progress:
            while (task := await ordered.get()) is not None:
                record = await task
                progress.before_output()
                if summary.output_failed is None:
                    try:
                        writer.write(record)
                    except OSError as exc:
                        # stdout is gone (a closed pipe, a full disk): no new row starts, but
                        # rows in flight (a POST among them) finish and are recorded, never cancelled.
                        summary.output_failed = exc
                        halt()
                room.release()
                summary.count(record)
                progress.update(ok=summary.ok, failed=summary.failed + summary.not_started)
        await starter
    finally:
        # Leaving early (stdout closed, a bug): settle every task before the client closes.
        halt()
        for task in (starter, *started):
            task.cancel()
        await asyncio.gather(starter, *started, return_exceptions=True)
        restore_signals()  # wxpay's own handlers again (cli.py)
    return summary


def finish(summary: Summary) -> None:
    """Print the summary; raise the fault that stopped the run, naming its row (a failed
    output first: cli.py says then which pupils were terminated)."""
    output.info(summary.line())
    settle(summary)


def settle(summary: Summary) -> None:
    """Raise what the run's end means (see `finish`), the summary already said."""
    if summary.output_failed is not None:
        raise summary.output_failed
    if summary.written_to is not None:
        output.info(_("results written to {path}").format(path=summary.written_to))
    if summary.fatal:
        number, exc = summary.fatal
        if not isinstance(exc, InputError):  # an input error names its row itself
            where = summary.fatal_where or _("row {number}").format(number=number)
            raise exc.wrapped(_("stopped at {where}: {message}").format(where=where, message=exc.message))
        raise exc
    if summary.exit_status != ExitStatus.OK:
        raise BatchIncomplete(summary)


class BatchIncomplete(WxpayError):
    """Some rows failed (exit 1) or the run was interrupted (exit 128 + the signal); the lines say which."""

    code = "BATCH_INCOMPLETE"

    def __init__(self, summary: Summary):
        super().__init__(_("some rows failed; each failed line says why") if not summary.interrupted
                         else _("interrupted"))
        self.exit_status = summary.exit_status
