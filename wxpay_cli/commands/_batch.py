"""Running a command's batch mode: open the input, work through the rows, report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from wxpay_cli.app import App
from wxpay_cli.flows.batch_lines import ERROR_COLUMNS, Operation
from wxpay_cli.terminal import output


def open_input(app: App, stream, operation: Operation, *, encoding: str | None = None):
    """The checked input (its header read now, before anything is sent)."""
    from wxpay_cli.flows.batch_input import BatchInput

    app.credentials()  # a configuration problem stops here, before any input is read
    return BatchInput(stream, required=operation.required, one_of=operation.one_of, drop=operation.results,
                      encoding=encoding, sheet=app.batch_sheet, accept_numeric_ids=app.accept_numeric_ids,
                      announce=output.info, warn=output.warn)


def writer_for(app: App, source, operation: Operation):
    """CSV with --format csv, else JSON lines (also on a terminal)."""
    if app.format == "csv":
        return output.CsvWriter(lambda: source.columns, operation.columns, ERROR_COLUMNS)
    return output.JsonLinesWriter()


def run_batch(app: App, stream, work: Callable[[object, object], Awaitable[dict]], operation: Operation, *,
              concurrency: int, rate: float | None, encoding: str | None = None, source=None, rows=None,
              claims=None, writer=None, audit=None) -> None:
    """Work through the rows of `stream` (or of the opened `source`, or the pre-read `rows`
    of it) as `operation` names them (flows/batch_lines.py); exit as batch.finish decides.

    With `audit`, its file stays open for the run (group commit): `work` must
    await `audit.commit()` before it returns a row.
    """
    from contextlib import nullcontext

    from wxpay_cli.flows import batch

    if source is None:
        source = open_input(app, stream, operation, encoding=encoding)
    total = len(rows) if rows is not None else source.total
    with audit.held_open() if audit is not None else nullcontext():
        summary = batch.run(source if rows is None else rows, work, concurrency=concurrency, total=total,
                            writer=writer or writer_for(app, source, operation), claims=claims, operation=operation,
                            make_client=lambda: app.async_client(concurrency=concurrency, rate=rate))
    batch.finish(summary)
