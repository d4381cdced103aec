"""The HTTP clients every API call goes through.

- `WechatPayAuth` (an `httpx.Auth`) signs the exact bytes httpx sends: method,
  raw path with query, body. It runs on every send, so each retry gets a fresh
  nonce and timestamp.
- `Client` (one call at a time) and `AsyncClient` (batches, in aclient.py:
  many calls over one keep-alive connection pool) share everything but their
  send loop (`_BaseClient`): the
  standard headers, which failures are retried and for how long, verification
  of every 2xx answer before it is returned, and the mapping of failures to the
  exceptions in `errors.py`.
- `-v` traces go through a `trace` callback, with the signature redacted and a
  response body shown only once it has passed verification.

Pass `transport=` (e.g. `httpx.MockTransport`) to produce faults in tests.
"""

from __future__ import annotations

import json
import math
import platform
import random
import time
from collections.abc import Callable

from wxpay_cli import __version__
from wxpay_cli.errors import (
    ApiError,
    InputError,
    NetworkError,
    ServiceUnavailable,
    VerificationError,
)
from wxpay_cli.i18n import _, os_words
from wxpay_cli.sanitise import for_terminal
from wxpay_cli.wire import bounds, shapes
from wxpay_cli.wire.api import Call, Response
from wxpay_cli.wire.httpx_loading import httpx  # without httpx's own CLI
from wxpay_cli.wire.signing import Signer, Verifier, redact_authorization

USER_AGENT = f"wxpay/{__version__} (Python {platform.python_version()}; httpx {httpx.__version__})"
MAX_RETRY_AFTER = 60.0  # never sleep longer than this on a server's say-so


class WechatPayAuth(httpx.Auth):
    """Adds the APIv3 `Authorization` header computed over the request as sent."""

    requires_request_body = True

    def __init__(self, signer: Signer):
        self.signer = signer

    def auth_flow(self, request: httpx.Request):
        target = request.url.raw_path.decode("ascii")
        request.headers["Authorization"] = self.signer.authorization(request.method, target, request.content)
        yield request


def encode_json(payload: object) -> bytes:
    """Serialise a request body once; these exact bytes are signed and sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _BaseClient:
    """What both clients share: headers, retry policy, verification, tracing."""

    def __init__(
        self,
        *,
        base_url: str,
        signer: Signer,
        verifier: Verifier | None,
        retries: int = 2,
        backoff: float = 0.5,
        trace: Callable[[str], None] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = 10.0  # total seconds per attempt; each client sets its own
        self.stopping = False  # set on Ctrl-C in a batch: calls in flight end without retrying
        self.signer = signer
        self.verifier = verifier
        self.retries = retries
        self.backoff = backoff
        self._trace = trace
        self._auth = WechatPayAuth(signer)

    def _http_options(self, timeout: float, transport, on_response=None) -> dict:
        # Only the encodings bounds.BodyReader inflates (within its cap) are asked for.
        headers = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate", "User-Agent": USER_AGENT}
        if self.verifier is not None and self.verifier.serial:
            headers["Wechatpay-Serial"] = self.verifier.serial
        options = dict(base_url=self.base_url, auth=self._auth, timeout=timeout, headers=headers,
                       transport=transport, follow_redirects=False)
        if self.base_url.startswith("http://"):
            # Plain HTTP (the loopback sandbox) never does TLS: skip building a
            # TLS context with the CA bundle (~20 ms). https:// keeps httpx's
            # default, full certificate verification.
            options["verify"] = False
        hooks = {"request": [], "response": []}
        if self._trace:
            # Request hooks run after the auth flow, so the trace shows what was signed.
            hooks["request"].append(self._trace_request)
        if on_response:
            hooks["response"].append(on_response)
        options["event_hooks"] = hooks
        return options

    def _build(self, http, call: Call):
        headers, content = {}, None
        if call.json_body is not None:
            content = encode_json(call.json_body)
            headers["Content-Type"] = "application/json"
        try:
            return http.build_request(call.method, call.path, params=call.params, content=content, headers=headers)
        except httpx.InvalidURL as exc:
            raise InputError(_("cannot build the request URL: {exc}").format(exc=exc)) from None

    def describe_signed(self, method: str, path: str) -> dict:
        """The request a call would send, signed but NOT sent (for --dry-run).

        The signature is redacted; the nonce is never used, so nothing can replay it.
        """
        request = self._http.build_request(method, path)
        flow = self._auth.sync_auth_flow(request)
        signed = next(flow)
        flow.close()
        headers = {
            name: redact_authorization(value) if name.lower() == "authorization" else value
            for name, value in signed.headers.items()
        }
        return {"method": signed.method, "url": str(signed.url), "headers": headers,
                "body": signed.content.decode("utf-8")}

    def _retry_delay(self, attempt: int, idempotent: bool, *, exc=None, response=None) -> float | None:
        """Seconds to wait before the next attempt, or None when this failure is final.

        Connection failures, timeouts, 5xx and 429 are retried; 4xx never. A call
        that is not idempotent (a termination) is retried only when it surely
        never reached the server: the connection (TCP or TLS) could not be set
        up. Any answer at all, 429 included, proves it was sent: never again.
        """
        if attempt >= self.retries or self.stopping:
            return None
        if exc is not None:
            if not (idempotent or never_sent(exc)):
                return None
            reason, retry_after = type(exc).__name__, None
        else:
            status = response.status_code
            if not idempotent or not (status == 429 or status >= 500):
                return None
            reason, retry_after = f"HTTP {status}", response.headers.get("Retry-After")
        delay = self._backoff_delay(attempt, retry_after)
        self._emit(_("! {reason}; retrying in {delay:.1f} s").format(reason=reason, delay=delay))
        return delay

    def _backoff_delay(self, attempt: int, retry_after: str | None) -> float:
        wait = parse_retry_after(retry_after) if retry_after is not None else None
        if wait is not None:
            return min(max(wait, 0.0), MAX_RETRY_AFTER)
        return self.backoff * (2**attempt) + random.uniform(0, self.backoff)

    def _accept(self, response: httpx.Response) -> Response:
        """Verify a 2xx answer and parse it; nothing unverified goes further."""
        if self.verifier is None:
            raise VerificationError(_("no key to verify WeChat's answer with; nothing from it was used"))
        try:
            self.verifier.verify(response.headers, response.content)
        except VerificationError:
            self._emit(_("< [body withheld: the response failed verification]"))
            raise
        self._trace_body(response.content)
        return Response(response.status_code, response.headers, response.content, _parse_json(response))

    def _finish(self, call: Call, response: Response):
        return call.parse(response, self.signer) if call.parse else response

    def _trace_response(self, response: httpx.Response, started: float) -> None:
        if self._trace:
            elapsed = (time.monotonic() - started) * 1000
            self._emit(f"< HTTP {response.status_code} {response.reason_phrase} ({elapsed:.0f} ms)")
            for name, value in response.headers.items():
                if name.lower() == "wechatpay-signature":  # README: signatures redacted, WeChat's too
                    value = value[:8] + "…(redacted)"
                self._emit(f"< {name}: {value}")
            if not response.is_success and response.content:
                # An error answer is not signed: its body is never traced (the error line shows a capped detail).
                self._emit(_("< [{count}-byte unverified body: not shown]").format(count=len(response.content)))

    def _emit(self, line: str) -> None:
        if self._trace:
            self._trace(line)

    def _trace_request(self, request: httpx.Request) -> None:
        self._emit(f"> {request.method} {request.url}")
        for name, value in request.headers.items():
            if name.lower() == "authorization":
                value = redact_authorization(value)
            self._emit(f"> {name}: {value}")
        if request.content:
            self._emit("> " + request.content.decode("utf-8", "replace"))

    async def _atrace_request(self, request: httpx.Request) -> None:
        self._trace_request(request)

    def _trace_body(self, body: bytes) -> None:
        if body:
            self._emit("< " + body.decode("utf-8", "replace"))


class Client(_BaseClient):
    """A signed, verifying APIv3 client for one merchant profile, one call at a time."""

    def __init__(self, *, timeout: float = 10.0, transport=None, sleep: Callable[[float], None] = time.sleep,
                 on_response: Callable[[httpx.Response], None] | None = None, **kwargs):
        super().__init__(**kwargs)
        self._sleep = sleep
        self.timeout = timeout
        options = self._http_options(timeout, transport, on_response)
        if transport is None:  # every wait of the attempt, direct or through a proxy, ends at its deadline
            context = None if options.get("verify") is False else httpx.create_ssl_context()
            options["transport"] = bounds.DeadlineTransport(context)
            options["mounts"] = bounds.proxy_mounts(context)
        self._http = httpx.Client(**options)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def call(self, call: Call):
        """Send a described call and return its parsed, verified result."""
        return self._finish(call, self._accept(self.send_unverified(call)))

    def request(self, method: str, path: str, *, params=None, json_body=None, idempotent: bool = True) -> Response:
        """Send a signed request and return the verified answer."""
        return self.call(Call(method, path, params, json_body, idempotent))

    def unverified(self, call: Call) -> Response:
        """The 2xx answer to `call`, NOT verified (data None): for `GET /v3/certificates`, whose
        answer can be verified only once its certificates are decrypted, and `config check`."""
        response = self.send_unverified(call)
        return Response(response.status_code, response.headers, response.content, None)

    def send_unverified(self, call: Call) -> httpx.Response:
        """Send with retries; return a 2xx httpx response NOT yet verified.

        Only `call`, the platform-certificate download (which verifies with the
        certificates it decrypts) and `config check` (which verifies with what
        the profile has, and reports) may use this directly: none of them
        prints an answer that failed verification.
        """
        request = self._build(self._http, call)
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = bounds.send(self._http, request, self.timeout)
            except httpx.RequestError as exc:
                delay = self._retry_delay(attempt, call.idempotent, exc=exc)
                if delay is None:
                    raise NetworkError(describe_transport_error(exc, request), never_sent=never_sent(exc)) from None
            else:
                self._trace_response(response, started)
                if response.is_success:
                    return response
                delay = self._retry_delay(attempt, call.idempotent, response=response)
                if delay is None:
                    raise api_error(response)
            self._sleep(delay)
            attempt += 1


def never_sent(exc: Exception) -> bool:
    """True when the connection could not be set up (refused, TLS handshake, connect
    timeout): not a byte of the request left, so sending it again is safe."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


def parse_retry_after(value: str) -> float | None:
    """Seconds from a Retry-After header (delay-seconds or an HTTP date); None if unusable."""
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            return None
        seconds = moment.timestamp() - time.time()
    return seconds if math.isfinite(seconds) else None


def _parse_json(response: httpx.Response) -> dict | None:
    if not response.content.strip():
        return None
    request_id = response.headers.get("Request-ID")
    try:
        data = json.loads(response.content, parse_constant=_NotANumber, parse_float=_finite_or_not)
    except (ValueError, RecursionError):  # nested deeper than Python can parse: not an answer either
        raise VerificationError(_("WeChat's answer is not JSON; nothing from it was used"), request_id=request_id) from None
    if not isinstance(data, dict):
        raise VerificationError(_("WeChat's answer is not a JSON object; nothing from it was used"), request_id=request_id)
    problem = _unusable(data, "")
    if problem is not None:
        raise shapes.wrong(problem[0], problem[1], request_id)
    return data


class _NotANumber(str):
    """NaN, Infinity or a number too large for a float, as it was written: JSON output could not carry it."""


def _finite_or_not(text: str):
    number = float(text)
    return number if math.isfinite(number) else _NotANumber(text)


def _unusable(value, field: str) -> tuple[str, str] | None:
    """(field, why) for the first value nothing downstream could print or write: a number JSON
    cannot carry, or a string holding half a character (a lone surrogate, what a backend makes
    when it cuts an emoji in half, and what no encoding can write)."""
    if isinstance(value, _NotANumber):
        return field, _("it is not a number JSON can carry ({value})").format(value=value[:20])
    if isinstance(value, str):
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            return field, _("it is not valid text (half a character)")
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{field}.{key}" if field else key
            problem = _unusable(key, name) or _unusable(item, name)
            if problem is not None:
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problem = _unusable(item, f"{field}[{index}]")
            if problem is not None:
                return problem
    return None


def _refuse_constant(text: str):
    raise ValueError(text)  # NaN, Infinity: not JSON that --json could write back out


def _parse_object(body: bytes) -> dict | None:
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # an unsigned body nested thousands deep is not WeChat's JSON
        return None
    return data if isinstance(data, dict) else None


def api_error(response: httpx.Response) -> ApiError:
    """The ApiError for a non-2xx answer, with WeChat's code, message and detail."""
    status = response.status_code
    code, message, detail = f"HTTP_{status}", response.reason_phrase or f"HTTP {status}", None
    payload = _parse_object(response.content)
    if payload is not None:
        # Error answers are not signed: each part is capped, and shown labelled as unverified.
        # code and message end up inside wxpay's own sentences (and lines): escaped here, once.
        code = for_terminal(_capped(payload.get("code"), 64)) or code
        message = for_terminal(_capped(payload.get("message"), 200)) or message
        detail = payload.get("detail")
        if isinstance(detail, str) or len(json.dumps(detail, ensure_ascii=False)) > MAX_DETAIL:
            detail = _capped(detail, MAX_DETAIL)  # a small object is kept as it came, for --json
    elif response.content.strip():
        # Not WeChat's JSON (a proxy's or gateway's page): its text is not shown, it may hold anything.
        message += _(" (a {count}-byte answer that is not WeChat's JSON; not shown)").format(count=len(response.content))
    cls = ServiceUnavailable if status >= 500 or status == 429 else ApiError
    return cls(status, code, message, detail=detail, request_id=response.headers.get("Request-ID"))


MAX_DETAIL = 400  # characters of an unverified error body's `detail` that are kept


def _capped(value: object, limit: int) -> str | None:
    if value in (None, ""):
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


def describe_transport_error(exc: httpx.RequestError, request: httpx.Request) -> str:
    host = request.url.host
    if isinstance(exc, httpx.DecodingError):
        return _("the answer from {host} could not be decoded ({exc})").format(host=host, exc=exc)
    if isinstance(exc, httpx.TimeoutException):
        return _("timed out talking to {host} ({kind})").format(host=host, kind=type(exc).__name__)
    if isinstance(exc, httpx.ConnectError):
        return _("cannot connect to {host}: {reason}").format(host=host,
                                                                reason=os_words(str(exc)) or _("connection failed"))
    return _("network error talking to {host}: {kind} {exc}").format(host=host, kind=type(exc).__name__, exc=exc).strip()
