"""Running a command's batch mode: read the rows, work through them, report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TextIO

from wxpay_cli.app import App


def run_batch(app: App, stream: TextIO, work: Callable[[object, dict], Awaitable[dict]], *, concurrency: int,
              rate: float | None, required: tuple[str, ...], one_of: tuple[str, ...] = (), rows=None,
              audit=None) -> None:
    """Work through the rows of `stream` (or the pre-read `rows`); exit as batch.finish decides.

    With `audit`, its file stays open for the run (group commit): `work` must
    await `audit.commit()` before it returns a row.
    """
    from contextlib import nullcontext

    from wxpay_cli import batch

    app.credentials()  # a configuration problem stops here, before any input is read
    if rows is None:
        rows = batch.read_rows(stream, required=required, one_of=one_of)
    with audit.held_open() if audit is not None else nullcontext():
        summary = batch.run(rows, work, concurrency=concurrency,
                            make_client=lambda: app.async_client(concurrency=concurrency, rate=rate))
    batch.finish(summary)
