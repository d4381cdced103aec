"""Bounds on every answer: a total deadline per attempt and a cap on its size.

WeChat's answers are a few KB and come at once. A server (or a proxy) that
drips a body a byte a second, or sends a gzip bomb, must end in a clean error,
never a hang or a MemoryError:

- `read_body` reads the raw bytes itself and inflates them with `zlib` at most
  `MAX_ANSWER_BYTES` at a time, so a compressed answer is never inflated past
  the cap; it checks the deadline after every chunk.
- `DeadlineBackend` wraps httpcore's network backend for the one-at-a-time
  client: every connect, read and write waits at most until the attempt's
  deadline (`DEADLINE`), so even headers dripped a byte at a time stop there.
  The batch client gets the same bound from `asyncio.timeout`.
"""

from __future__ import annotations

import contextvars
import time
import zlib

from wxpay_cli.errors import VerificationError
from wxpay_cli.httpx_loading import httpx
from wxpay_cli.i18n import _

MAX_ANSWER_BYTES = 1 << 20  # 1 MiB: WeChat's answers are a few KB

# The monotonic time the current attempt must end by (None: no attempt running).
DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("wxpay_deadline", default=None)


def too_large(request_id: str | None) -> VerificationError:
    return VerificationError(
        _("WeChat's answer is larger than {limit} bytes; nothing from it was used").format(limit=MAX_ANSWER_BYTES),
        request_id=request_id,
    )


class BodyReader:
    """Collects an answer's body, decoded, refusing it past `limit` bytes (raw or decoded)."""

    def __init__(self, response: httpx.Response, deadline: float, limit: int = MAX_ANSWER_BYTES):
        self._request = response.request
        self._request_id = response.headers.get("Request-ID")
        self._deadline = deadline
        self._limit = limit
        self._raw = 0
        self._out = bytearray()
        length = response.headers.get("Content-Length", "")
        if length.isascii() and length.isdigit() and int(length) > limit:
            raise too_large(self._request_id)
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("", "identity"):
            self._inflater = None
        elif encoding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise httpx.DecodingError(_("unsupported Content-Encoding {value!r}").format(value=encoding[:40]), request=self._request)

    def feed(self, chunk: bytes) -> None:
        self._raw += len(chunk)
        if self._raw > self._limit:
            raise too_large(self._request_id)
        if self._inflater is None:
            self._out += chunk
        else:
            data = chunk
            while data:
                try:
                    self._out += self._inflater.decompress(data, self._limit + 1 - len(self._out))
                except zlib.error as exc:
                    raise httpx.DecodingError(_("bad compressed answer: {exc}").format(exc=exc), request=self._request) from None
                if len(self._out) > self._limit:
                    raise too_large(self._request_id)
                data = self._inflater.unconsumed_tail
        if time.monotonic() > self._deadline:
            raise httpx.ReadTimeout(_("the whole answer took longer than the timeout"), request=self._request)

    def finish(self) -> bytes:
        if self._inflater is not None:
            try:
                self._out += self._inflater.flush()
            except zlib.error as exc:
                raise httpx.DecodingError(_("bad compressed answer: {exc}").format(exc=exc), request=self._request) from None
            if len(self._out) > self._limit:
                raise too_large(self._request_id)
        return bytes(self._out)


def keep_body(response: httpx.Response, body: bytes) -> httpx.Response:
    """Attach the decoded body, as httpx's own `read()` does, so `.content` works as usual."""
    response._content = body
    return response


def _check_read(response: httpx.Response) -> httpx.Response:
    if len(response.content) > MAX_ANSWER_BYTES:
        raise too_large(response.headers.get("Request-ID"))
    return response


def send(http: httpx.Client, request: httpx.Request, timeout: float) -> httpx.Response:
    """Send and read the whole answer within `timeout` seconds and the size cap."""
    deadline = time.monotonic() + timeout
    token = DEADLINE.set(deadline)
    try:
        response = http.send(request, stream=True)
        try:
            if response.is_stream_consumed:  # built from bytes in memory (a test's MockTransport)
                return _check_read(response)
            reader = BodyReader(response, deadline)
            for chunk in response.iter_raw():
                reader.feed(chunk)
            return keep_body(response, reader.finish())
        finally:
            response.close()
    finally:
        DEADLINE.reset(token)


async def asend(http: httpx.AsyncClient, request: httpx.Request, timeout: float) -> httpx.Response:
    """`send` for the batch client; the deadline is `asyncio.timeout`'s."""
    import asyncio

    deadline = time.monotonic() + timeout
    try:
        async with asyncio.timeout(timeout):
            response = await http.send(request, stream=True)
            try:
                if response.is_stream_consumed:
                    return _check_read(response)
                reader = BodyReader(response, deadline)
                async for chunk in response.aiter_raw():
                    reader.feed(chunk)
                return keep_body(response, reader.finish())
            finally:
                await response.aclose()
    except TimeoutError:
        raise httpx.ReadTimeout(_("the whole answer took longer than the timeout"), request=request) from None


def _bounded(timeout: float | None) -> float | None:
    deadline = DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = max(deadline - time.monotonic(), 0.001)
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream:
    def __init__(self, inner):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout)))

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class DeadlineBackend:
    """httpcore's sync network backend, with every wait cut at the attempt's deadline."""

    def __init__(self, inner):
        self._inner = inner

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return _DeadlineStream(self._inner.connect_tcp(host, port, _bounded(timeout), local_address, socket_options))

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return _DeadlineStream(self._inner.connect_unix_socket(path, _bounded(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def bound_connections(http: httpx.Client) -> None:
    """Put `DeadlineBackend` under the client's connection pools (its own and its proxies').

    httpx has no public hook for this; a transport without a pool (a test's
    MockTransport) keeps the checks between chunks only.
    """
    transports = [http._transport, *http._mounts.values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None and not isinstance(backend, DeadlineBackend):
            pool._network_backend = DeadlineBackend(backend)
