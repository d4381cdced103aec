"""A hostile WeChat for tests: the sandbox, answering with its TRUSTED key, but wrong.

`Hostile(sandbox)` swaps the sandbox's request handler for one that, for the
next request whose path contains `path`, answers as planned instead of (or on
top of) the sandbox's own answer:

- `rewrite(fn)`: the sandbox's answer object passed through `fn`, then signed
  with the trusted key (another pupil's record, wrong shapes, control
  characters in fields);
- `replay()`: the previous answer on that path re-sent byte for byte, headers
  and signature included (a proxy replaying a signed answer);
- `signed(body, **headers)`: any body, signed with the trusted key; header
  values can be overridden (a timestamp of any shape, an empty header);
- `drip(delay)`: a signed answer whose body comes one byte every `delay` s;
  `drip(delay, headers=True)`: the status line and headers too;
- `gzip_bomb()`: a signed, gzip-encoded answer that inflates to 64 MiB;
- `gzipped()`: the sandbox's own answer, signed, sent gzip-encoded (as a server may);
- `raw(status, body, headers)`: an unsigned answer (error bodies, redirects);
- `hold(until)`: the sandbox's own answer, sent only once the event `until` is set (a
  slow answer that takes exactly as long as the test needs; one held past `limit` seconds
  is sent then, and its path noted in `overheld`).

`answer_headers` and `verifier_at` are the same made by hand for a Verifier on its own.

Signatures are made here with `cryptography` directly, not with
`wxpay_cli.wire.signing`: a mistake in the client's protocol code cannot hide here.
"""

from __future__ import annotations

import base64
import gzip
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from wxpay_cli.sandbox.server import Handler
from wxpay_cli.wire.signing import VerificationKey, Verifier

USER_PATH = "/users/out-user-id/"  # a user query, by out_user_id
LINK_PATH = "/v3/offlineface/repayment-url"


def sign(private_key, timestamp: str, nonce: str, body: bytes) -> str:
    """WeChat's answer signature, written out by hand: TIMESTAMP\\nNONCE\\nBODY\\n."""
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


# For a Verifier on its own: WeChat's public key id, a fixed "now", an answer's body.
KEY_ID = "PUB_KEY_ID_0114232134912410000000000000"
NOW = 1764000000
BODY = b'{"user_id":"wxu_1"}'


def verifier_at(sandbox_keys, now: float) -> Verifier:
    """wxpay's Verifier of WeChat's public key, its clock stopped at `now`."""
    return Verifier([VerificationKey(KEY_ID, sandbox_keys.wechat_key.public_key(), "public_key")], clock=lambda: now)


def answer_headers(sandbox_keys, *, timestamp: str = str(NOW), nonce: str = "n" * 32, body: bytes = BODY, **extra) -> dict:
    """An answer's headers, signed by hand with WeChat's key; `extra` headers added or replaced."""
    return {"Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": sign(sandbox_keys.wechat_key, timestamp, nonce, body),
            "Wechatpay-Serial": KEY_ID, "Request-ID": "R1", **extra}


@cache
def bomb() -> bytes:
    """16 MiB of zeros (16 times the cap), gzip-compressed (fast, level 1) to about 72 KiB."""
    return gzip.compress(b"\0" * (16 << 20), compresslevel=1)


@dataclass
class Plan:
    path: str
    kind: str
    fn: Callable | None = None
    body: bytes = b""
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    until: threading.Event | None = None


class Hostile:
    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.plans: deque[Plan] = deque()
        self.answers: list[tuple[str, int, list, bytes]] = []  # the sandbox's own answers, as sent
        self.overheld: list[str] = []  # paths of held answers whose event came too late
        sandbox.server.RequestHandlerClass = HostileHandler
        sandbox.server.hostile = self

    @property
    def key(self):
        """The key WeChat signs with, as the client trusts it."""
        keys = self.sandbox.keys
        return keys.wechat_key if self.sandbox.state.mode == "public_key" else keys.platform_key

    @property
    def serial(self) -> str:
        keys = self.sandbox.keys
        return keys.public_key_id if self.sandbox.state.mode == "public_key" else keys.platform_serial

    def _plan(self, path: str, kind: str, **fields) -> None:
        self.plans.append(Plan(path, kind, **fields))

    def rewrite(self, path: str, fn: Callable[[dict], object]) -> None:
        self._plan(path, "rewrite", fn=fn)

    def replay(self, path: str) -> None:
        self._plan(path, "replay")

    def signed(self, path: str, body: bytes, status: int = 200, **headers: str) -> None:
        self._plan(path, "signed", body=body, status=status, headers=headers)

    def drip(self, path: str, delay: float, headers: bool = False) -> None:
        self._plan(path, "drip_all" if headers else "drip", delay=delay)

    def gzip_bomb(self, path: str) -> None:
        self._plan(path, "gzip_bomb")

    def gzipped(self, path: str) -> None:
        self._plan(path, "gzipped")

    def raw(self, path: str, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self._plan(path, "raw", status=status, body=body, headers=headers or {})

    def hold(self, path: str, until: threading.Event, limit: float = 10.0) -> None:
        self._plan(path, "hold", until=until, delay=limit)

    def take(self, path: str) -> Plan | None:
        for plan in self.plans:
            if plan.path in path and (plan.kind != "replay" or self.previous(plan.path)):
                self.plans.remove(plan)
                return plan
        return None

    def previous(self, path: str):
        """The last answer the sandbox itself sent on a path containing `path`."""
        return next((a[1:] for a in reversed(self.answers) if path in a[0]), None)

    def signed_headers(self, body: bytes, **overrides: str) -> dict:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        headers = {
            "Request-ID": "08HOSTILE" + secrets.token_hex(8).upper(),
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": sign(self.key, timestamp, nonce, body),
            "Wechatpay-Serial": self.serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }
        for name, value in overrides.items():
            headers[name.replace("_", "-")] = value
        return headers


class HostileHandler(Handler):
    def _answer(self, status, body, fault, extra):
        hostile: Hostile = self.server.hostile
        path = self.path.split("?", 1)[0]
        plan = hostile.take(path)
        if plan is None:
            return self._send_recorded(path, status, body, fault, extra)
        if plan.kind == "rewrite":
            data = plan.fn(json.loads(body) if body else {})
            body = json.dumps(data, ensure_ascii=False).encode()
            return self._send(status, hostile.signed_headers(body), body)
        if plan.kind == "replay":
            status, headers, body = hostile.previous(plan.path)
            return self._send(status, dict(headers), body)
        if plan.kind == "signed":
            return self._send(plan.status, hostile.signed_headers(plan.body, **plan.headers), plan.body)
        if plan.kind == "drip":
            headers = hostile.signed_headers(body)
            return self._send(status, headers, body, delay=plan.delay)
        if plan.kind == "drip_all":
            head = f"HTTP/1.1 {status} OK\r\n" + "".join(
                f"{name}: {value}\r\n" for name, value in hostile.signed_headers(body).items())
            raw = (head + f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body
            for index in range(len(raw)):
                self.wfile.write(raw[index:index + 1])
                self.wfile.flush()
                time.sleep(plan.delay)
            return None
        if plan.kind == "gzip_bomb":
            payload = bomb()
            headers = {**hostile.signed_headers(payload), "Content-Encoding": "gzip"}
            return self._send(200, headers, payload)
        if plan.kind == "gzipped":
            headers = {**hostile.signed_headers(body), "Content-Encoding": "gzip"}
            return self._send(status, headers, gzip.compress(body))
        if plan.kind == "hold":
            if not plan.until.wait(plan.delay):
                hostile.overheld.append(path)
            return self._send_recorded(path, status, body, fault, extra)
        if plan.kind == "raw":
            return self._send(plan.status, plan.headers, plan.body)
        raise AssertionError(plan.kind)

    def _send_recorded(self, path, status, body, fault, extra):
        """The sandbox's own answer, kept so a later plan can replay it exactly."""
        sent: list[tuple[str, str]] = []
        original = self.send_header

        def keep(name, value):
            sent.append((name, value))
            original(name, value)

        self.send_header = keep
        try:
            super()._answer(status, body, fault, extra)
        finally:
            del self.send_header
        self.server.hostile.answers.append((path, status, sent, body))

    def _send(self, status: int, headers, body: bytes, delay: float = 0.0) -> None:
        self.send_response(status)
        items = headers.items() if isinstance(headers, dict) else headers
        for name, value in items:
            if name.lower() not in ("content-length", "server", "date"):  # send_response adds its own
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not delay:
            self.wfile.write(body)
            return
        for index in range(len(body)):
            self.wfile.write(body[index:index + 1])
            self.wfile.flush()
            time.sleep(delay)
