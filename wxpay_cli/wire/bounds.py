"""Bounds on every answer: a total deadline per attempt and a cap on its size.

WeChat's answers are a few KB and come at once. A server (or a proxy) that
drips a body a byte a second, or sends a gzip bomb, must end in a clean error,
never a hang or a MemoryError:

- `read_body` reads the raw bytes itself and inflates them with `zlib` at most
  `MAX_ANSWER_BYTES` at a time, so a compressed answer is never inflated past
  the cap; it checks the deadline after every chunk.
- `DeadlineTransport` is the one-at-a-time client's transport: an httpcore
  pool built with `DeadlineBackend` as its network backend, so every connect,
  read and write waits at most until the attempt's deadline (`DEADLINE`) and
  even headers dripped a byte at a time stop there. Proxies named in the
  environment get the same transport (`proxy_mounts`); through an https://
  proxy the origin's TLS runs inside the proxy's on the same bounded reads
  (`_TlsInTls`). Only public httpx and httpcore names are used. The batch
  client gets the same bound from `asyncio.timeout`. Not bounded: the name
  lookup (`getaddrinfo` has no timeout), and a host with several addresses
  gets the time left once per address.
"""

from __future__ import annotations

import contextvars
import functools
import time
import zlib

from wxpay_cli.errors import VerificationError
from wxpay_cli.i18n import _
from wxpay_cli.wire.httpx_loading import httpx

MAX_ANSWER_BYTES = 1 << 20  # 1 MiB: WeChat's answers are a few KB
# Seconds a connection may sit idle and still be reused (httpx's own default). httpcore's
# pool keeps one forever unless told: `contract terminate` waits at its question between the
# lookup and the POST, and a POST into a connection a NAT dropped meanwhile is an open outcome.
KEEPALIVE_EXPIRY = 5.0

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
    """The answer with its decoded body, so `.content` works as usual.

    A new response is built (httpx's public constructor) rather than the body
    put into the streamed one; its headers are the ones received, less those
    that described the body as it travelled (`Content-Encoding`,
    `Content-Length`, `Transfer-Encoding`): httpx sets the length of the
    decoded body it now holds.
    """
    travelled = (b"content-encoding", b"content-length", b"transfer-encoding")
    headers = [(name, value) for name, value in response.headers.raw if name.lower() not in travelled]
    return httpx.Response(response.status_code, headers=headers, content=body, request=response.request,
                          extensions=response.extensions)


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
        if self._inner.get_extra_info("ssl_object") is not None:  # TLS inside TLS: an https:// proxy
            return _TlsInTls(self, ssl_context, server_hostname, timeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout)))

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class _TlsInTls:
    """The origin's TLS inside an https:// proxy's, every byte through the outer stream's bounded
    reads and writes (httpcore's own TLS-in-TLS stream gives each socket read the whole time
    left, so a tunnel dripping bytes would never end). The standard library's `ssl.MemoryBIO`
    does the TLS; errors are httpcore's: the handshake's are connect errors (nothing was sent)."""

    RECORD = 16384  # the largest TLS record

    def __init__(self, outer: _DeadlineStream, ssl_context, server_hostname, timeout: float | None):
        import ssl

        import httpcore

        self._outer = outer
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = ssl_context.wrap_bio(self._incoming, self._outgoing, server_hostname=server_hostname)
        try:
            self._exchange(self._tls.do_handshake, timeout)
        except (httpcore.TimeoutException, TimeoutError) as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except (httpcore.NetworkError, OSError) as exc:
            raise httpcore.ConnectError(str(exc)) from exc

    def _exchange(self, step, timeout: float | None):
        """Run a TLS step, moving bytes through the outer stream until it no longer waits for them."""
        import ssl

        import httpcore

        while True:
            try:
                result = step()
                wants_more = False
            except ssl.SSLWantReadError:
                wants_more = True
            pending = self._outgoing.read()
            if pending:
                self._outer.write(pending, timeout)
            if not wants_more:
                return result
            deadline = DEADLINE.get()
            if deadline is not None and time.monotonic() >= deadline:
                raise httpcore.ReadTimeout(_("timed out"))
            data = self._outer.read(self.RECORD, timeout)
            if data:
                self._incoming.write(data)
            else:
                self._incoming.write_eof()

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        import ssl

        import httpcore

        try:
            return self._exchange(functools.partial(self._tls.read, max_bytes), timeout)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""  # the tunnel closed: httpcore says the server disconnected
        except ssl.SSLError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        import ssl

        import httpcore

        try:
            while buffer:
                buffer = buffer[self._exchange(functools.partial(self._tls.write, buffer), timeout):]
        except ssl.SSLError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    def close(self) -> None:
        self._outer.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        raise NotImplementedError  # TLS three deep: no proxy does this

    def get_extra_info(self, info: str):
        if info == "ssl_object":
            return self._tls
        if info == "is_readable":
            return self._incoming.pending > 0 or self._outer.get_extra_info("is_readable")
        return self._outer.get_extra_info(info)


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


class DeadlineTransport(httpx.BaseTransport):
    """An httpx transport over an httpcore pool whose every wait ends at the attempt's deadline.

    Built the documented way: `httpcore.ConnectionPool(network_backend=...)`
    (or `HTTPProxy`/`SOCKSProxy` for a proxy) behind httpx's public
    `BaseTransport`. It does what `httpx.HTTPTransport.handle_request` does:
    the request handed to httpcore, its exceptions turned into httpx's; an
    idle connection is reused for KEEPALIVE_EXPIRY seconds, as httpx's is.
    """

    def __init__(self, ssl_context=None, proxy: str | None = None, max_connections: int = 10):
        import httpcore

        backend = DeadlineBackend(httpcore.SyncBackend())
        pool = dict(ssl_context=ssl_context, max_connections=max_connections,
                    max_keepalive_connections=max_connections, keepalive_expiry=KEEPALIVE_EXPIRY,
                    network_backend=backend)
        if proxy is None:
            self.pool = httpcore.ConnectionPool(**pool)
            return
        proxy = httpx.Proxy(proxy)
        url = httpcore.URL(scheme=proxy.url.raw_scheme, host=proxy.url.raw_host, port=proxy.url.port,
                           target=proxy.url.raw_path)
        if proxy.url.scheme in ("socks5", "socks5h"):
            self.pool = httpcore.SOCKSProxy(proxy_url=url, proxy_auth=proxy.raw_auth, **pool)
        else:
            self.pool = httpcore.HTTPProxy(proxy_url=url, proxy_auth=proxy.raw_auth, proxy_headers=proxy.headers.raw,
                                           proxy_ssl_context=(proxy.ssl_context or ssl_context)
                                           if proxy.url.scheme == "https" else None, **pool)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import httpcore

        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host, port=request.url.port,
                             target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        with _as_httpx_errors():
            answer = self.pool.handle_request(core_request)
        return httpx.Response(answer.status, headers=answer.headers, stream=_Stream(answer.stream),
                              extensions=answer.extensions)

    def close(self) -> None:
        with _as_httpx_errors():
            self.pool.close()


class _Stream(httpx.SyncByteStream):
    def __init__(self, inner):
        self._inner = inner

    def __iter__(self):
        with _as_httpx_errors():
            yield from self._inner

    def close(self) -> None:
        self._inner.close()


def _error_pairs() -> list[tuple[type, type]]:
    """httpcore's exceptions and httpx's for each, most specific first."""
    import httpcore

    names = ("ConnectTimeout", "ReadTimeout", "WriteTimeout", "PoolTimeout", "ConnectError", "ReadError",
             "WriteError", "ProxyError", "UnsupportedProtocol", "LocalProtocolError", "RemoteProtocolError",
             "ProtocolError", "TimeoutException", "NetworkError")
    return [(getattr(httpcore, name), getattr(httpx, name)) for name in names]


class _as_httpx_errors:
    """httpcore's exceptions, raised as httpx's (what the retry policy and messages expect)."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if exc is None or not isinstance(exc, Exception):
            return False
        for core, mapped in _error_pairs():
            if isinstance(exc, core):
                raise mapped(str(exc)) from exc
        return False


def proxy_mounts(ssl_context) -> dict[str, httpx.BaseTransport | None]:
    """httpx `mounts` for the proxies named in the environment, each a `DeadlineTransport`.

    httpx reads HTTP(S)_PROXY, ALL_PROXY and NO_PROXY itself only for the
    transports it builds; with wxpay's own transport this does the same from
    `urllib.request.getproxies()` (which httpx reads too), with NO_PROXY hosts
    mounted on the direct transport (None).
    """
    import ipaddress
    import urllib.request

    found = urllib.request.getproxies()
    mounts: dict[str, httpx.BaseTransport | None] = {}
    for scheme in ("http", "https", "all"):
        if found.get(scheme):
            url = found[scheme] if "://" in found[scheme] else "http://" + found[scheme]
            mounts[f"{scheme}://"] = DeadlineTransport(ssl_context, proxy=url)
    for host in (part.strip() for part in found.get("no", "").split(",")):
        if host == "*":
            return {}
        if not host:
            continue
        if "://" in host:
            mounts[host] = None
            continue
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            mounts[f"all://{host}" if host.lower() == "localhost" else f"all://*{host}"] = None
        else:
            mounts[f"all://[{host}]" if address.version == 6 else f"all://{host}"] = None
    return mounts
