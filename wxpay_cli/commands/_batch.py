"""Running a command's batch mode: open the input, work through the rows, report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from wxpay_cli.app import App
from wxpay_cli.commands._options import output_file
from wxpay_cli.flows.batch_lines import ERROR_COLUMNS, OPERATIONS, Operation
from wxpay_cli.i18n import N_, _
from wxpay_cli.terminal import output


def open_input(app: App, stream, operation: Operation, *, encoding: str | None = None, names=None):
    """The checked input (its header read now, before anything is sent). `names`
    (flows.names.RosterNames): the batch compares each row's name with WeChat's; its column
    is checked against the header, and a row whose id was typed as a number and that has a
    name is confirmed by it (Row.by_name)."""
    from wxpay_cli.flows.batch_input import BatchInput

    app.credentials()  # a configuration problem stops here, before any input is read
    source = BatchInput(stream, required=operation.required, one_of=operation.one_of, drop=operation.results,
                        encoding=encoding, sheet=app.batch_sheet, accept_numeric_ids=app.accept_numeric_ids,
                        announce=output.info, warn=output.warn)
    if names is not None:
        names.check(source.header)
        source.name_of = names.of
    return source


# What a batch table (--format table) shows of each operation's results: what a person
# checks row by row, and the values shown whole below the table (a link); CSV and JSON
# lines keep every result.
TABLE_COLUMNS = {
    "repayment-url": (("expire_at",), (("repayment_url", N_("Repayment links (forward each whole):")),)),
    "user show": (("user_name", "student_info.class_name", "staff_info.occupation", "contract_state"), ()),
    "contract terminate": (("user_name", "class_name", "contract_state", "note"), ()),
}


def writer_for(app: App, source, operation: Operation):
    """CSV with --format csv, a workbook with --format xlsx, a table with --format table, else
    JSON lines (also on a terminal); to -o FILE (its temporary file made now, before any row) or stdout."""
    out = output_file(app)
    if app.format in ("csv", "xlsx"):
        return output.records_writer(app.format, out, input_columns=lambda: source.columns,
                                     result_columns=operation.columns, error_columns=ERROR_COLUMNS,
                                     title=_("results"))
    if app.output_format == "table":  # asked for: the default on a terminal stays JSON lines
        columns, whole = next(shown for name, shown in TABLE_COLUMNS.items() if OPERATIONS[name] is operation)
        return output.TableWriter(lambda: source.columns, columns, whole)
    return output.JsonLinesWriter(out)


def close_writer(writer, summary) -> None:
    """The run is over: the writer's file takes its name (the rows written, also after Ctrl-C), unless
    writing already failed; a failure now is the run's output failure (batch.finish reports it)."""
    if summary.output_failed is not None:
        getattr(writer, "abandon", lambda: None)()
        return
    try:
        getattr(writer, "finish", lambda: None)()
    except OSError as exc:
        summary.output_failed = exc


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
    writer = writer or writer_for(app, source, operation)
    summary = None
    try:
        with audit.held_open() if audit is not None else nullcontext():
            summary = batch.run(source if rows is None else rows, work, concurrency=concurrency, total=total,
                                writer=writer, claims=claims, operation=operation,
                                make_client=lambda: app.async_client(concurrency=concurrency, rate=rate))
    except BaseException:
        # Stopped outside the run's own handling (a signal before the loop, a bug): the rows written so far.
        try:
            getattr(writer, "finish", lambda: None)()
        except OSError:
            pass
        raise
    finally:
        close = getattr(writer, "close", None)  # a table is drawn when the run ends, however it ends
        if close is not None:
            try:
                close()
            except OSError as exc:
                if summary is None:
                    raise
                summary.output_failed = summary.output_failed or exc
    close_writer(writer, summary)
    if app.output_path is not None and summary.output_failed is None:
        from wxpay_cli.sanitise import for_terminal

        summary.written_to = for_terminal(str(app.output_path))
    batch.finish(summary)
