"""Multi-step API flows written once, run on either client.

A flow is a generator that yields `Call`s and receives each call's result (or
has whatever the call raised — an error, Ctrl-C, a cancellation — thrown in at
the `yield`, where it may catch it and must re-raise what it does not handle); its
return value is the flow's result. `run` drives it on the one-at-a-time
`Client`, `run_async` on the batch `AsyncClient`. The termination flow
(lookup → terminate → re-query, with its timeout handling) is written this way
so single and batch mode cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeVar

from wxpay_cli.wire.api import Call

T = TypeVar("T")
Steps = Generator[Call, object, T]


def run(client, steps: Steps[T]) -> T:
    result, error = None, None
    while True:
        try:
            call = steps.throw(error) if error else steps.send(result)
        except StopIteration as done:
            return done.value
        result, error = None, None
        try:
            result = client.call(call)
        except GeneratorExit:
            raise
        except BaseException as exc:  # the flow decides: a termination must record Ctrl-C and bugs too
            error = exc


async def run_async(client, steps: Steps[T]) -> T:
    result, error = None, None
    while True:
        try:
            call = steps.throw(error) if error else steps.send(result)
        except StopIteration as done:
            return done.value
        result, error = None, None
        try:
            result = await client.call(call)
        except GeneratorExit:
            raise
        except BaseException as exc:  # cancellation included: the flow records what it must, then re-raises
            error = exc
