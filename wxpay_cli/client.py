"""The HTTP client every API call goes through.

- `WechatPayAuth` (an `httpx.Auth`) signs the exact bytes httpx sends: method,
  raw path with query, body. It runs on every send, so each retry gets a fresh
  nonce and timestamp.
- `Client.request` adds the standard headers, retries what is safe to retry,
  verifies every 2xx answer before returning it, and maps failures to the
  exceptions in `errors.py`.
- `-v` traces go through a `trace` callback, with the signature redacted and a
  response body shown only once it has passed verification.

Pass `transport=` (e.g. `httpx.MockTransport`) to produce faults in tests.
"""

from __future__ import annotations

import json
import platform
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from wxpay_cli import __version__
from wxpay_cli.errors import ApiError, NetworkError, ServiceUnavailable, VerificationError
from wxpay_cli.signing import Signer, Verifier, redact_authorization

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


@dataclass
class Response:
    """A verified answer: status, headers, raw body and the parsed JSON (None when empty)."""

    status: int
    headers: httpx.Headers
    body: bytes
    data: dict | None

    @property
    def request_id(self) -> str | None:
        return self.headers.get("Request-ID")


def encode_json(payload: object) -> bytes:
    """Serialise a request body once; these exact bytes are signed and sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Client:
    """A signed, verifying APIv3 client for one merchant profile."""

    def __init__(
        self,
        *,
        base_url: str,
        signer: Signer,
        verifier: Verifier | None,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        trace: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.verifier = verifier
        self.retries = retries
        self.backoff = backoff
        self._trace = trace
        self._sleep = sleep
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if verifier is not None and verifier.serial:
            headers["Wechatpay-Serial"] = verifier.serial
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=WechatPayAuth(signer),
            timeout=timeout,
            headers=headers,
            transport=transport,
            follow_redirects=False,
            # Request hooks run after the auth flow, so the trace shows what was signed.
            event_hooks={"request": [self._trace_request]} if trace else None,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- public API -------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: object = None,
        idempotent: bool = True,
    ) -> Response:
        """Send a signed request and return the verified answer.

        `idempotent=False` (a termination) retries only what surely never
        reached the server (connection refused, 429); anything else is raised
        for the caller to check the state before deciding.
        """
        response = self.send_unverified(method, path, params=params, json_body=json_body, idempotent=idempotent)
        if self.verifier is None:
            raise VerificationError("no key to verify WeChat's answer with; nothing from it was used")
        try:
            self.verifier.verify(response.headers, response.content)
        except VerificationError:
            self._emit("< [body withheld: the response failed verification]")
            raise
        self._trace_body(response.content)
        return Response(response.status_code, response.headers, response.content, self._parse(response))

    def describe_signed(self, method: str, path: str) -> dict:
        """The request `request()` would send, signed but NOT sent (for --dry-run).

        The signature is redacted; the nonce is never used, so nothing can replay it.
        """
        request = self._http.build_request(method, path)
        flow = self._http.auth.sync_auth_flow(request)
        signed = next(flow)
        flow.close()
        headers = {
            name: redact_authorization(value) if name.lower() == "authorization" else value
            for name, value in signed.headers.items()
        }
        return {
            "method": signed.method,
            "url": str(signed.url),
            "headers": headers,
            "body": signed.content.decode("utf-8"),
        }

    def send_unverified(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: object = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send with retries; return a 2xx httpx response NOT yet verified.

        Only `request` and the first platform-certificate download (which
        verifies with the certificate it decrypts) may use this directly.
        """
        headers = {}
        content = None
        if json_body is not None:
            content = encode_json(json_body)
            headers["Content-Type"] = "application/json"
        request = self._http.build_request(method, path, params=params, content=content, headers=headers)
        attempt = 0
        while True:
            delay = None
            try:
                response = self._send(request)
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if attempt < self.retries and (idempotent or never_sent):
                    delay = self._backoff_delay(attempt, None)
                    self._emit(f"! {describe_transport_error(exc, request)}; retrying in {delay:.1f} s")
                else:
                    raise NetworkError(describe_transport_error(exc, request)) from None
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return response
                self._trace_body(response.content)
                retryable = status == 429 or (status >= 500 and idempotent)
                if attempt < self.retries and retryable:
                    delay = self._backoff_delay(attempt, response.headers.get("Retry-After"))
                    self._emit(f"! HTTP {status}; retrying in {delay:.1f} s")
                else:
                    raise api_error(response)
            self._sleep(delay)
            attempt += 1

    # -- internals ----------------------------------------------------------

    def _send(self, request: httpx.Request) -> httpx.Response:
        started = time.monotonic()
        response = self._http.send(request)
        if self._trace:
            elapsed = (time.monotonic() - started) * 1000
            self._emit(f"< HTTP {response.status_code} {response.reason_phrase} ({elapsed:.0f} ms)")
            for name, value in response.headers.items():
                self._emit(f"< {name}: {value}")
        return response

    def _backoff_delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), MAX_RETRY_AFTER)
            except ValueError:
                pass  # an HTTP date: fall back to our own backoff
        return self.backoff * (2**attempt) + random.uniform(0, self.backoff)

    @staticmethod
    def _parse(response: httpx.Response) -> dict | None:
        if not response.content.strip():
            return None
        try:
            data = json.loads(response.content)
        except ValueError:
            raise VerificationError(
                "WeChat's answer is not JSON; nothing from it was used", request_id=response.headers.get("Request-ID")
            ) from None
        if not isinstance(data, dict):
            raise VerificationError("WeChat's answer is not a JSON object; nothing from it was used")
        return data

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

    def _trace_body(self, body: bytes) -> None:
        if body:
            self._emit("< " + body.decode("utf-8", "replace"))


def api_error(response: httpx.Response) -> ApiError:
    """The ApiError for a non-2xx answer, with WeChat's code, message and detail."""
    status = response.status_code
    code, message, detail = f"HTTP_{status}", response.reason_phrase or f"HTTP {status}", None
    try:
        payload = json.loads(response.content)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        code = str(payload.get("code") or code)
        message = str(payload.get("message") or message)
        detail = payload.get("detail")
    elif response.content.strip():
        message = response.content.decode("utf-8", "replace").strip().splitlines()[0][:200]
    cls = ServiceUnavailable if status >= 500 or status == 429 else ApiError
    return cls(status, code, message, detail=detail, request_id=response.headers.get("Request-ID"))


def describe_transport_error(exc: httpx.TransportError, request: httpx.Request) -> str:
    host = request.url.host
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out talking to {host} ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {host}: {exc or 'connection failed'}"
    return f"network error talking to {host}: {type(exc).__name__} {exc}".strip()
