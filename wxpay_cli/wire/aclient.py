"""The batch client: many signed, verified calls at once over keep-alive connections.

It shares headers, retry policy, verification and tracing with `Client`
(`client._BaseClient`); only the send loop is asynchronous. Imported only by
batch mode, so single calls never pay for asyncio.

Its connections are spread over pools of at most `POOL_SIZE`: httpcore's pool
re-checks every connection on each request it queues or finishes (a poll()
and a socket-attribute lookup per idle connection, and a list per connection),
which at 32 connections in one pool cost more CPU than signing and verifying
together. Each request goes to the pool with the fewest requests in flight;
all pools share one TLS context (the CA bundle is loaded once).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time

from wxpay_cli.errors import NetworkError
from wxpay_cli.wire import bounds
from wxpay_cli.wire.client import (
    Call,
    _BaseClient,
    api_error,
    describe_transport_error,
    httpx,
    never_sent,
)

POOL_SIZE = 2


class AsyncClient(_BaseClient):
    """The same client for batches: `concurrency` keep-alive connections, optionally
    paced to `rate` requests per second (retries included)."""

    def __init__(self, *, timeout: float = 10.0, transport=None, concurrency: int = 8,
                 rate: float | None = None, retry_sleep=None, **kwargs):
        self._stopped = asyncio.Event()  # `stopping`, as something a wait before a retry can end on
        super().__init__(**kwargs)
        self.timeout = timeout
        self._retry_sleep = retry_sleep  # seconds -> None, instead of waiting (tests)
        options = self._http_options(timeout, transport)
        if self._trace:
            options["event_hooks"] = {"request": [self._atrace_request], "response": []}
        if "verify" not in options:  # https: one TLS context (and one CA bundle load) for every pool
            options["verify"] = httpx.create_ssl_context()
        pools = math.ceil(concurrency / POOL_SIZE)
        size = math.ceil(concurrency / pools)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._pools = [httpx.AsyncClient(limits=limits, **options) for _ in range(pools)]
        self._in_flight = [0] * pools
        self._http = self._pools[0]  # builds requests; any pool would do
        self._pace = RateLimiter(rate) if rate else None

    @property
    def stopping(self) -> bool:
        """Set on Ctrl-C (the batch's `interrupt`): a call in flight ends with its current attempt,
        and a call waiting to retry ends at once with its last failure, not after the wait."""
        return self._stopped.is_set()

    @stopping.setter
    def stopping(self, value: bool) -> None:
        if value:
            self._stopped.set()
        else:
            self._stopped.clear()

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()

    async def _send(self, request: httpx.Request) -> httpx.Response:
        lane = self._in_flight.index(min(self._in_flight))
        self._in_flight[lane] += 1
        try:
            return await bounds.asend(self._pools[lane], request, self.timeout)
        finally:
            self._in_flight[lane] -= 1

    async def call(self, call: Call):
        return self._finish(call, self._accept(await self.send_unverified(call)))

    async def send_unverified(self, call: Call) -> httpx.Response:
        request = self._build(self._http, call)
        attempt = 0
        while True:
            if self._pace:
                await self._pace.wait()
            started = time.monotonic()
            try:
                response = await self._send(request)
            except httpx.RequestError as exc:
                failure = NetworkError(describe_transport_error(exc, request), never_sent=never_sent(exc))
                delay = self._retry_delay(attempt, call.idempotent, exc=exc)
            else:
                self._trace_response(response, started)
                if response.is_success:
                    return response
                failure = api_error(response)
                delay = self._retry_delay(attempt, call.idempotent, response=response)
            if delay is None or not await self._wait_to_retry(delay):
                raise failure
            attempt += 1

    async def _wait_to_retry(self, delay: float) -> bool:
        """Wait `delay` seconds before the next attempt; False when the run stops meanwhile
        (Ctrl-C): then there is no next attempt, however long the wait was to be (Retry-After
        may ask for a minute)."""
        if self._retry_sleep:  # tests: the wait is noted, not slept
            self._retry_sleep(delay)
            delay = 0
        if not self._stopped.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopped.wait()
        return not self._stopped.is_set()


class RateLimiter:
    """Spaces requests at least 1/rate seconds apart, across all tasks."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)
