"""A loopback emulator of the WeChat Pay endpoints wxpay calls.

It checks every request the way the real server does (scheme, mchid, merchant
serial, timestamp window, nonce reuse, signature over the exact bytes) and
answers `401 SIGN_ERROR` with a detail saying which check failed and what it
signed. It signs every answer, in public-key or platform-certificate mode, and
keeps users and contracts in memory.

Tests drive it through `Sandbox`: `received` lists what reached it (the last
`HISTORY` requests), `seed_user` adds pupils, `inject` makes the next answers
fail in chosen ways. It may serve for days (`sandbox serve`): nothing it keeps
grows with the number of requests served (see `SandboxState`).

A case's whole life can be rehearsed on it (`SandboxState.settle`): with
`resign_after` set, a pupil whose contract a request terminated signs again,
under a new contract_id, that many seconds later; a pupil marked
`termination_unanswered` has its termination received, checked and recorded,
then the connection is closed without an answer, and the termination takes
effect `unanswered_delay` seconds later (the client cannot tell whether it
happened). Both are decided when the pupil is next looked at, on the sandbox's
own clock, so a test moves `clock` instead of sleeping.
"""

from __future__ import annotations

import heapq
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from wxpay_cli.local.config import SANDBOX_LINK_HOST
from wxpay_cli.sandbox import protocol
from wxpay_cli.sandbox.keys import SandboxKeys, cert_pem

CHINA = timezone(timedelta(hours=8))


def now_rfc3339() -> str:
    return datetime.now(CHINA).replace(microsecond=0).isoformat()


def rfc3339(moment: float) -> str:
    """A unix time (the sandbox's clock) as WeChat writes times: RFC 3339, China time, whole seconds."""
    return datetime.fromtimestamp(int(moment), CHINA).isoformat()


@dataclass
class SandboxUser:
    """A pupil (or staff member) as the user query returns them."""

    organization_id: str
    out_user_id: str
    user_id: str
    user_name: str
    user_type: str = "STUDENT"
    class_name: str = "Grade 3 Class 2"
    status: str = "NORMAL"
    contract_state: str = "CONTRACTED"
    contract_id: str = ""
    openid: str = ""
    face_image_ok: bool = True
    encrypt_name: bool = True  # send user_name RSA-OAEP encrypted, as WeChat may
    use_id_typo: bool = False  # answer with the mis-documented `use_id`
    contract_signed_time: str = field(default_factory=now_rfc3339)
    contract_terminated_time: str | None = None
    # The life of a case (see SandboxState.settle):
    termination_unanswered: bool = False  # a termination POST is received, then never answered
    termination_due: float | None = None  # an unanswered termination takes effect then (the sandbox's clock)
    terminated_at: float | None = None  # when a request's termination took effect; None: not by a request
    past_contracts: list[dict] = field(default_factory=list)  # earlier contracts, all TERMINATED, the oldest first


HISTORY = 1000  # requests `received` keeps, the latest
PAST_CONTRACTS = 16  # earlier contracts a pupil keeps (re-signed after each termination), the latest
UNANSWERED_DELAY = 3.0  # seconds after an unanswered termination POST until it takes effect
MAX_REQUEST_BYTES = 1 << 20  # 1 MiB, however the body is framed: wxpay's requests are a few hundred bytes
LINK_HOST = SANDBOX_LINK_HOST  # the host of the sandbox's repayment links (a loopback profile allows it)


@dataclass
class Received:
    """One request as it reached the sandbox, and what the sandbox decided."""

    method: str
    target: str  # raw path + query as sent
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0  # 0: no answer was sent (an unanswered termination)
    signature_ok: bool = False
    sign_error: str | None = None

    @property
    def json(self) -> object:
        return json.loads(self.body) if self.body else None


@dataclass
class Fault:
    """A planned misbehaviour for the next `times` matching requests.

    kind: "status" (answer `status` with `code`), "bad_signature", "signtest",
    "stale_timestamp", "unknown_serial", "missing_header", "tamper_body",
    "not_json", "unsigned", "delay" (sleep `seconds` before handling the request),
    "slow_answer" (handle it at once, sleep `seconds` before answering: a lost answer),
    "flip_byte" (change one letter of the body after signing: valid JSON, wrong signature).
    """

    kind: str
    status: int = 500
    code: str = "SYSTEM_ERROR"
    message: str = "系统错误"
    retry_after: str | None = None
    seconds: float = 0.0
    path_contains: str = ""
    times: int = 1
    skip: int = 0  # let this many matching requests through first


class SandboxState:
    """Users, contracts, seen nonces, received requests and planned faults.

    Bounded however long it serves: `received` holds the last `history` requests
    (older ones are dropped as new ones arrive), and `nonces` holds a nonce only
    while a request carrying it could still pass the timestamp check, that is
    until its timestamp + `protocol.WINDOW` on the sandbox clock. A replay after
    that is refused as stale, so forgetting the nonce lets nothing through; the
    nonces held are at most the requests of the last 2 × WINDOW seconds (a
    timestamp may be up to WINDOW ahead). Moving the sandbox clock back past a
    forgotten nonce's window (a clock-skew test) would accept its replay.
    """

    def __init__(self, keys: SandboxKeys, *, mode: str = "public_key", has_platform_certs: bool | None = None,
                 history: int = HISTORY):
        if mode not in ("public_key", "certificate"):
            raise ValueError("mode must be 'public_key' or 'certificate'")
        self.keys = keys
        self.mode = mode
        self.has_platform_certs = mode == "certificate" if has_platform_certs is None else has_platform_certs
        self.users: dict[tuple[str, str], SandboxUser] = {}
        self.organizations: dict[str, str] = {}  # organization_id -> organization_name
        self.nonces: dict[str, int] = {}  # nonce -> the last second its request is inside the window
        self._nonce_ends: list[tuple[int, str]] = []  # the same, as a heap: the first to forget on top
        self.history = history
        self.received: list[Received] = []
        self.faults: deque[Fault] = deque()
        self.lock = threading.RLock()
        self.clock_offset = 0.0  # seconds added to the sandbox's own clock (clock-skew tests)
        self.on_change = None  # called (under the lock) after a contract state changes: `--state` saves
        self.clock = time.time  # replaceable: tests pin the server's clock to the second
        self.resign_after: float | None = None  # seconds until a pupil terminated by a request signs again
        self.unanswered_delay = UNANSWERED_DELAY  # seconds until an unanswered termination takes effect

    def now(self) -> float:
        """The sandbox's own clock: `clock()` moved by `clock_offset`."""
        return self.clock() + self.clock_offset

    def record(self, received: Received) -> None:
        """Add a request to `received`, dropping the oldest past `history`."""
        with self.lock:
            self.received.append(received)
            excess = len(self.received) - self.history
            if excess > 0:
                del self.received[:excess]

    def first_use(self, nonce: str, timestamp: int) -> bool:
        """True the first time `nonce` comes within its request's window, and remembers it until
        `timestamp` + WINDOW; False for a replay. Forgets the nonces whose window has passed."""
        with self.lock:
            now = self.now()
            while self._nonce_ends and self._nonce_ends[0][0] < now:
                end, old = heapq.heappop(self._nonce_ends)
                if self.nonces.get(old) == end:
                    del self.nonces[old]
            if nonce in self.nonces:
                return False
            end = timestamp + protocol.WINDOW
            self.nonces[nonce] = end
            heapq.heappush(self._nonce_ends, (end, nonce))
            return True

    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def snapshot(self) -> dict:
        """Organizations and pupils as plain data (for `sandbox serve --state`)."""
        from dataclasses import asdict

        with self.lock:
            return {"organizations": dict(self.organizations), "users": [asdict(u) for u in self.users.values()]}

    def restore(self, data: dict) -> None:
        """The inverse of `snapshot`; ValueError when `data` is not one."""
        try:
            organizations = {str(k): str(v) for k, v in data["organizations"].items()}
            users = [SandboxUser(**fields) for fields in data["users"]]
            for user in users:
                if not isinstance(user.past_contracts, list) or not all(
                        isinstance(c, dict) and set(c) == set(CONTRACT_FIELDS) for c in user.past_contracts):
                    raise TypeError(f"past_contracts of {user.out_user_id}")
        except (KeyError, TypeError, AttributeError) as exc:
            from wxpay_cli.i18n import _

            raise ValueError(_("not a sandbox state: {reason}").format(reason=exc)) from None
        with self.lock:
            self.organizations = organizations
            self.users = {(u.organization_id, u.out_user_id): u for u in users}

    def seed_user(self, organization_id: str, out_user_id: str, **fields) -> SandboxUser:
        with self.lock:
            n = len(self.users) + 1
            user = SandboxUser(
                organization_id=organization_id,
                out_user_id=out_user_id,
                # Ids made only when not given: the demo roster brings its own for 363 pupils.
                user_id=fields.pop("user_id") if "user_id" in fields else f"wxu_{uuid.uuid4().hex[:20]}",
                user_name=fields.pop("user_name") if "user_name" in fields else f"Pupil {n}",
                contract_id=fields.pop("contract_id") if "contract_id" in fields else f"ct_{uuid.uuid4().hex[:24]}",
                openid=fields.pop("openid") if "openid" in fields else f"o_{uuid.uuid4().hex[:26]}",
                **fields,
            )
            self.users[(organization_id, out_user_id)] = user
            return user

    def seed_organization(self, organization_id: str, organization_name: str) -> None:
        with self.lock:
            self.organizations[organization_id] = organization_name

    def find_user(self, organization_id: str, out_user_id: str) -> SandboxUser | None:
        with self.lock:
            user = self.users.get((organization_id, out_user_id))
            return self.settle(user) if user is not None else None

    def find_user_id(self, organization_id: str, user_id: str) -> SandboxUser | None:
        with self.lock:
            user = next(
                (u for u in self.users.values() if u.organization_id == organization_id and u.user_id == user_id), None
            )
            return self.settle(user) if user is not None else None

    def find_contract(self, contract_id: str) -> tuple[SandboxUser, dict] | None:
        """The pupil holding `contract_id` and that contract (`contract_view`): their current one, or
        one they had before signing again (TERMINATED); None when no pupil has had it."""
        with self.lock:
            for user in self.users.values():
                if user.contract_id == contract_id or any(c["contract_id"] == contract_id for c in user.past_contracts):
                    self.settle(user)  # it may have been re-signed since: the contract is then a past one
                    if user.contract_id == contract_id:
                        return user, contract_view(user)
                    return user, next(c for c in user.past_contracts if c["contract_id"] == contract_id)
            return None

    # -- the life of a case -----------------------------------------------------

    def terminate(self, user: SandboxUser, moment: float) -> None:
        """The user's contract is terminated by a request, at `moment` (the sandbox's clock)."""
        with self.lock:
            user.contract_state = "TERMINATED"
            user.contract_terminated_time = rfc3339(moment)
            user.terminated_at = moment
            user.termination_due = None
            self.changed()

    def receive_unanswered(self, user: SandboxUser) -> None:
        """A termination of a pupil marked unanswered came in: it takes effect `unanswered_delay`
        seconds from now (the first such request sets the time; later ones do not move it)."""
        with self.lock:
            if user.termination_due is None:
                user.termination_due = self.now() + self.unanswered_delay
                self.changed()

    def settle(self, user: SandboxUser) -> SandboxUser:
        """What time has done to the pupil since they were last looked at: a pending unanswered
        termination takes effect once due, and with `resign_after` set a contract a request
        terminated is followed by a new one (a fresh contract_id, CONTRACTED) that many seconds
        later. A pupil terminated in the roster (no `terminated_at`) never signs again."""
        with self.lock:
            now = self.now()
            changed = False
            if user.termination_due is not None and now >= user.termination_due:
                due, user.termination_due = user.termination_due, None
                user.contract_state = "TERMINATED"
                user.contract_terminated_time = rfc3339(due)
                user.terminated_at = due
                changed = True
            if (self.resign_after is not None and user.contract_state == "TERMINATED"
                    and user.terminated_at is not None and now >= user.terminated_at + self.resign_after):
                signed = user.terminated_at + self.resign_after
                user.past_contracts = [*user.past_contracts, contract_view(user)][-PAST_CONTRACTS:]
                user.contract_id = self.new_contract_id()
                user.contract_state = "CONTRACTED"
                user.contract_signed_time = rfc3339(signed)
                user.contract_terminated_time = None
                user.terminated_at = None
                changed = True
            if changed:
                self.changed()
            return user

    def new_contract_id(self) -> str:
        """A contract_id no pupil has or had here."""
        with self.lock:
            used = {u.contract_id for u in self.users.values()}
            used.update(c["contract_id"] for u in self.users.values() for c in u.past_contracts)
            while True:
                contract_id = f"ct_{uuid.uuid4().hex[:24]}"
                if contract_id not in used:
                    return contract_id

    def inject(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.path_contains in path:
                    if fault.skip:
                        fault.skip -= 1
                        return None
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None


CONTRACT_FIELDS = ("contract_id", "contract_state", "contract_signed_time", "contract_terminated_time")


def contract_view(user: SandboxUser) -> dict:
    """The user's current contract, as `past_contracts` keeps one."""
    return {"contract_id": user.contract_id, "contract_state": user.contract_state,
            "contract_signed_time": user.contract_signed_time,
            "contract_terminated_time": user.contract_terminated_time}


class Unanswered(Exception):
    """Raised inside a route: send no answer at all, and close the connection."""


class ApiFailure(Exception):
    """Raised inside a route: answer `status` with WeChat's error body."""

    def __init__(self, status: int, code: str, message: str, detail: object = None):
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail


ROUTES: list[tuple[str, re.Pattern, str]] = [
    ("POST", re.compile(r"^/v3/offlineface/repayment-url$"), "repayment_url"),
    ("GET", re.compile(r"^/v3/offlinefacemch/organizations/([^/]+)/users/out-user-id/([^/]+)$"), "user_query"),
    (
        "POST",
        re.compile(r"^/v3/offlinefacemch/organizations/([^/]+)/users/user-id/([^/]+)/terminate-contract$"),
        "terminate",
    ),
    ("GET", re.compile(r"^/v3/offlineface/contracts/([^/]+)$"), "contract_query"),
    ("GET", re.compile(r"^/v3/offlinefacemch/organizations$"), "organization_query"),
    ("GET", re.compile(r"^/v3/certificates$"), "certificates"),
]


class Handler(BaseHTTPRequestHandler):
    """One request: check the signature, route, answer signed."""

    server: SandboxHTTPServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm on, a
    # keep-alive client then waits for the delayed ACK (~40 ms) on every answer.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # keep test output and `sandbox serve` quiet
        if self.server.log:
            self.server.log(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}")

    def date_time_string(self, timestamp=None):
        # The Date header follows the sandbox's (possibly skewed) clock, like its timestamps.
        return super().date_time_string(self.server.state.now() if timestamp is None else timestamp)

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_PATCH(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def _handle(self) -> None:
        state = self.server.state
        try:
            body, unreadable = self._read_body(), None
        except ApiFailure as failure:
            # Where this body ends is unknown: whatever follows is not a request. Answer once, then close.
            body, unreadable = b"", failure
            self.close_connection = True
        split = urlsplit(self.path)
        record = Received(
            method=self.command,
            target=self.path,
            path=unquote(split.path),
            query=parse_qs(split.query),
            headers={k: v for k, v in self.headers.items()},
            body=body,
        )
        state.record(record)
        if unreadable is not None:
            record.status = unreadable.status
            payload = {"code": unreadable.code, "message": unreadable.message, "detail": unreadable.detail}
            self._answer(unreadable.status, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(),
                         None, {})
            return
        fault = state.take_fault(split.path)
        if fault and fault.kind == "delay":
            time.sleep(fault.seconds)
            fault = None
        try:
            self._check_request(record)
            if fault and fault.kind == "status":
                raise ApiFailure(fault.status, fault.code, fault.message)
            status, payload = self._route(record, split.path)
        except Unanswered:
            # Received, checked and recorded (status 0): the client waits for an answer that never comes.
            self.close_connection = True
            if self.server.log:
                from wxpay_cli.i18n import _

                self.server.log(_("{method} {path} -> no answer, connection closed (a termination marked "
                                  "unanswered)").format(method=self.command, path=self.path))
            return
        except ApiFailure as failure:
            status = failure.status
            payload = {"code": failure.code, "message": failure.message}
            if failure.detail is not None:
                payload["detail"] = failure.detail
        record.status = status
        if fault and fault.kind == "slow_answer":
            time.sleep(fault.seconds)
        # Compact, as WeChat answers: clients must verify the raw bytes, not a re-serialisation.
        raw = b"" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        extra = {"Retry-After": fault.retry_after} if (fault and fault.retry_after is not None) else {}
        self._answer(status, raw, fault, extra)

    # -- the body, as HTTP/1.1 frames it --------------------------------------

    def _read_body(self) -> bytes:
        """The request body, whole: by `Content-Length` or chunked, at most MAX_REQUEST_BYTES.

        ApiFailure (400, 413 or 501) when it cannot be read: the caller then closes the
        connection, since the next request would start somewhere in this one.
        """
        codings = ",".join(self.headers.get_all("Transfer-Encoding") or [])
        if codings:
            if codings.strip().lower() != "chunked":
                raise ApiFailure(501, "NOT_IMPLEMENTED", "不支持的传输编码",
                                 {"issue": f"Transfer-Encoding {codings} is not read here; send chunked or Content-Length"})
            if self.headers.get("Content-Length") is not None:
                self.close_connection = True  # both framings: chunked wins (RFC 9112 6.3), and no more on this connection
            return read_chunked(self.rfile, MAX_REQUEST_BYTES)
        lengths = {value.strip() for value in self.headers.get_all("Content-Length") or []}
        if not lengths:
            return b""
        text = lengths.pop()
        if lengths or not (text.isascii() and text.isdigit()):
            raise malformed("Content-Length is not one number")
        length = int(text)
        if length > MAX_REQUEST_BYTES:
            raise too_large()
        body = self.rfile.read(length)
        if len(body) < length:
            raise malformed(f"the body ended after {len(body)} of its {length} bytes")
        return body

    # -- request checks, like the real server --------------------------------

    def _check_request(self, record: Received) -> None:
        state = self.server.state
        if not record.headers.get("User-Agent"):
            raise ApiFailure(400, "INVALID_REQUEST", "请求缺少User-Agent", {"issue": "missing User-Agent header"})
        header = record.headers.get("Authorization", "")
        if not header:
            self._sign_error(record, "missing Authorization header")
        fields = protocol.authorization_fields(header)
        if fields is None:
            self._sign_error(record, f"Authorization scheme is not {protocol.SCHEME}")
        missing = [k for k in protocol.AUTH_FIELDS if not fields.get(k)]
        if missing:
            self._sign_error(record, f"Authorization lacks {', '.join(missing)}")
        if fields["mchid"] != state.keys.mchid:
            self._sign_error(record, f"mchid {fields['mchid']} is not the merchant these keys belong to")
        if not protocol.names_key(fields["serial_no"], state.keys.serial_no):
            self._sign_error(record, f"serial_no {fields['serial_no']} is not the merchant's API certificate serial")
        if not (fields["timestamp"].isascii() and fields["timestamp"].isdigit()):
            self._sign_error(record, "timestamp is not a unix time")
        skew = abs(state.now() - int(fields["timestamp"]))
        if skew > protocol.WINDOW:
            self._sign_error(record, f"timestamp is {int(skew)} s away from the server clock")
        if not state.first_use(fields["nonce_str"], int(fields["timestamp"])):
            self._sign_error(record, "nonce_str was already used (replayed request)")
        message = protocol.signed_request(record.method, record.target, fields["timestamp"], fields["nonce_str"], record.body)
        if not protocol.verify(state.keys.merchant_key.public_key(), message, fields["signature"]):
            self._sign_error(record, "signature does not match the request", message)
        record.signature_ok = True
        serial = record.headers.get("Wechatpay-Serial")
        known = (state.keys.public_key_id, state.keys.platform_serial)
        if serial and not any(protocol.names_key(serial, key) for key in known):
            raise ApiFailure(400, "PARAM_ERROR", "Wechatpay-Serial 无效", {"issue": f"unknown Wechatpay-Serial {serial}"})

    def _sign_error(self, record: Received, issue: str, message: bytes | None = None) -> None:
        record.sign_error = issue
        detail = {"issue": issue, "method": record.method, "url": record.target}
        if message is not None:
            detail["sign_message"] = message.decode("utf-8", "replace")
        raise ApiFailure(401, "SIGN_ERROR", "签名错误", detail)

    # -- routes ----------------------------------------------------------------

    def _route(self, record: Received, raw_path: str) -> tuple[int, dict | None]:
        for method, pattern, name in ROUTES:
            match = pattern.match(raw_path)
            if match:
                if record.method != method:
                    raise ApiFailure(405, "METHOD_NOT_ALLOWED", f"{record.method} is not allowed here")
                args = [unquote(g) for g in match.groups()]
                return getattr(self, f"route_{name}")(record, *args)
        raise ApiFailure(404, "NOT_FOUND", "无效的请求地址", {"path": raw_path})

    def _json_body(self, record: Received) -> dict:
        try:
            data = json.loads(record.body)
        except ValueError:
            raise ApiFailure(400, "PARAM_ERROR", "请求体不是有效的JSON") from None
        if not isinstance(data, dict):
            raise ApiFailure(400, "PARAM_ERROR", "请求体必须是JSON对象")
        return data

    def _user(self, organization_id: str, out_user_id: str) -> SandboxUser:
        user = self.server.state.find_user(organization_id, out_user_id)
        if user is None:
            raise ApiFailure(404, "RESOURCE_NOT_EXISTS", "用户不存在", {"organization_id": organization_id, "out_user_id": out_user_id})
        return user

    def route_repayment_url(self, record: Received):
        data = self._json_body(record)
        for name in ("out_user_id", "organization_id"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise ApiFailure(400, "PARAM_ERROR", f"缺少参数 {name}")
        user = self._user(data["organization_id"], data["out_user_id"])
        token = uuid.uuid4().hex
        expire = datetime.now(CHINA).replace(microsecond=0) + timedelta(minutes=30)
        return 200, {
            # https and a named host, like WeChat's: wxpay refuses any other link. It is only shown,
            # never fetched; .invalid (RFC 2606) names no host anywhere.
            "repayment_url": f"https://{LINK_HOST}/sandbox/repay/{user.user_id}?token={token}",
            "expire_at": expire.isoformat(),
        }

    def route_user_query(self, record: Received, organization_id: str, out_user_id: str):
        user = self._user(organization_id, out_user_id)
        keys = self.server.state.keys
        name = protocol.encrypt_for(keys.merchant_key.public_key(), user.user_name) if user.encrypt_name else user.user_name
        answer = {
            "use_id" if user.use_id_typo else "user_id": user.user_id,
            "out_user_id": user.out_user_id,
            "organization_id": user.organization_id,
            "user_name": name,
            "user_type": user.user_type,
            "status": user.status,
            "contract_state": user.contract_state,
            "face_image_ok": user.face_image_ok,
            "contract_id": user.contract_id,
        }
        if user.user_type == "STUDENT":
            answer["student_info"] = {"class_name": user.class_name}
        else:
            answer["staff_info"] = {"occupation": user.class_name}
        return 200, answer

    def route_terminate(self, record: Received, organization_id: str, user_id: str):
        if record.body:
            raise ApiFailure(400, "PARAM_ERROR", "解约请求不应有请求体")
        state = self.server.state
        with state.lock:
            user = state.find_user_id(organization_id, user_id)
            if user is None:
                raise ApiFailure(404, "RESOURCE_NOT_EXISTS", "用户不存在", {"user_id": user_id})
            if user.contract_state != "CONTRACTED":
                raise ApiFailure(400, "INVALID_REQUEST", "用户未签约或已解约", {"contract_state": user.contract_state})
            if user.termination_unanswered:
                state.receive_unanswered(user)
                raise Unanswered
            state.terminate(user, state.now())
        return 204, None

    def route_contract_query(self, record: Received, contract_id: str):
        found = self.server.state.find_contract(contract_id)
        if found is None:
            raise ApiFailure(404, "RESOURCE_NOT_EXISTS", "签约记录不存在", {"contract_id": contract_id})
        user, contract = found
        answer = {
            "contract_id": contract["contract_id"],
            "mchid": self.server.state.keys.mchid,
            "organization_id": user.organization_id,
            "user_id": user.user_id,
            "openid": user.openid,
            "contract_state": contract["contract_state"],
            "contract_signed_time": contract["contract_signed_time"],
            "contract_mode": "LIMIT_NONE",
            "contract_bank_card_from": "USER_SELECT_FREE",
        }
        if contract["contract_terminated_time"]:
            answer["contract_terminated_time"] = contract["contract_terminated_time"]
        return 200, answer

    def route_organization_query(self, record: Received):
        by_id = record.query.get("organization_id", [""])[0]
        by_name = record.query.get("organization_name", [""])[0]
        if not by_id and not by_name:
            raise ApiFailure(400, "PARAM_ERROR", "organization_id 与 organization_name 至少填写一个")
        organizations = self.server.state.organizations
        found = [
            (oid, name) for oid, name in organizations.items()
            if (not by_id or oid == by_id) and (not by_name or name == by_name)
        ]
        if not found:
            raise ApiFailure(404, "RESOURCE_NOT_EXISTS", "机构不存在",
                             {"organization_id": by_id, "organization_name": by_name})
        oid, name = found[0]
        return 200, {"organization_id": oid, "organization_name": name}

    def route_certificates(self, record: Received):
        state = self.server.state
        if not state.has_platform_certs:
            raise ApiFailure(404, "RESOURCE_NOT_EXISTS", "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥")
        cert = state.keys.platform_cert
        nonce = protocol.nonce(12)
        return 200, {
            "data": [
                {
                    "serial_no": state.keys.platform_serial,
                    "effective_time": cert.not_valid_before_utc.astimezone(CHINA).isoformat(),
                    "expire_time": cert.not_valid_after_utc.astimezone(CHINA).isoformat(),
                    "encrypt_certificate": {
                        "algorithm": "AEAD_AES_256_GCM",
                        "nonce": nonce,
                        "associated_data": "certificate",
                        "ciphertext": protocol.seal(
                            state.keys.apiv3_key, nonce, "certificate", cert_pem(state.keys.platform_cert)
                        ),
                    },
                }
            ]
        }

    # -- signed answers ---------------------------------------------------------

    def _answer(self, status: int, body: bytes, fault: Fault | None, extra: dict[str, str]) -> None:
        state = self.server.state
        keys = state.keys
        if state.mode == "public_key":
            signing_key, serial = keys.wechat_key, keys.public_key_id
        else:
            signing_key, serial = keys.platform_key, keys.platform_serial
        timestamp = str(int(state.now()))
        nonce = protocol.nonce()
        kind = fault.kind if fault else None
        if kind == "not_json":
            body = b"<html>gateway</html>"
        signature = protocol.sign(signing_key, protocol.signed_answer(timestamp, nonce, body))
        if kind == "tamper_body":
            body = body.replace(b"sandbox/repay", b"evil.example/repay") or b"{}"
        elif kind == "flip_byte" and body:
            body = flip_one_byte(body)
        elif kind == "flip_byte":  # nothing to change in an empty body: change the signed nonce instead
            nonce = flip_one_byte(nonce.encode()).decode()
        elif kind == "bad_signature":
            signature = protocol.sign(keys.merchant_key, protocol.signed_answer(timestamp, nonce, body))
        elif kind == "signtest":
            signature = "WECHATPAY/SIGNTEST/" + signature
        elif kind == "stale_timestamp":
            timestamp = str(int(timestamp) - 3600)
            signature = protocol.sign(signing_key, protocol.signed_answer(timestamp, nonce, body))
        elif kind == "unknown_serial":
            serial = "PUB_KEY_ID_0114000000000000000000000000"
        headers = {
            "Request-ID": f"08{uuid.uuid4().hex.upper()}",
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": protocol.SCHEME,
        }
        if kind == "missing_header":
            del headers["Wechatpay-Signature"]
        if kind == "unsigned":
            headers = {"Request-ID": headers["Request-ID"]}
        headers.update(extra)
        if self.close_connection:  # asked for, or this request's framing leaves nothing to read after it
            headers["Connection"] = "close"
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        if status != 204:  # a 204 has no body, so no Content-Length either (RFC 9110 8.6)
            self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body and status != 204:
            self.wfile.write(body)


CHUNK_LINE = 1024  # bytes of a chunk-size line (extensions included) or of a trailer line
CHUNK_TRAILERS = 32  # trailer lines read past at most


def malformed(issue: str) -> ApiFailure:
    return ApiFailure(400, "INVALID_REQUEST", "请求体格式错误", {"issue": issue})


def too_large() -> ApiFailure:
    return ApiFailure(413, "REQUEST_ENTITY_TOO_LARGE", "请求体过大",
                      {"issue": f"the body is larger than {MAX_REQUEST_BYTES} bytes"})


def read_chunked(stream, limit: int) -> bytes:
    """A chunked body (RFC 9112 7.1) read from `stream` whole; ApiFailure when it is malformed,
    cut short or larger than `limit` (refused from a chunk's size, before its data is read).

    Chunk extensions are read past, and so are trailer fields: the body is what was signed.
    """
    body = bytearray()
    while True:
        size_field = _chunk_line(stream).split(b";", 1)[0].strip(b" \t")
        if not (0 < len(size_field) <= 16 and all(c in b"0123456789abcdefABCDEF" for c in size_field)):
            raise malformed(f"chunk size {size_field[:20]!r} is not hex")
        size = int(size_field, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            raise too_large()
        data = stream.read(size + 2)  # the data and its CRLF
        if len(data) < size + 2:
            raise malformed("the body ended inside a chunk")
        if data[size:] != b"\r\n":
            raise malformed("a chunk's data is not followed by CRLF")
        body += data[:size]
    for _ in range(CHUNK_TRAILERS + 1):
        line = _chunk_line(stream)
        if line == b"":
            return bytes(body)
        if b":" not in line:
            raise malformed("a trailer line is not a header field")
    raise malformed(f"more than {CHUNK_TRAILERS} trailer fields")


def _chunk_line(stream) -> bytes:
    """One CRLF-ended line of the chunked framing, without its CRLF."""
    line = stream.readline(CHUNK_LINE + 1)
    if not line.endswith(b"\r\n"):
        raise malformed("a line of the chunked body is too long" if len(line) > CHUNK_LINE else
                        "the body ended before its last chunk")
    return line[:-2]


def flip_one_byte(body: bytes) -> bytes:
    """The body with its last ASCII letter changed in case: still JSON, no longer what was signed."""
    for index in range(len(body) - 1, -1, -1):
        char = body[index:index + 1]
        if char.isalpha() and char.isascii():
            return body[:index] + char.swapcase() + body[index + 1:]
    return body + b" "  # no letter at all: one more byte


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a batch opening 32 connections
    # at once had its extra SYNs dropped and retried a second later.
    request_queue_size = 128

    def __init__(self, address, state: SandboxState, log=None):
        super().__init__(address, Handler)
        self.state = state
        self.log = log

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up mid-answer is normal here (timeouts, Ctrl-C): stay quiet."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Sandbox:
    """A running sandbox on 127.0.0.1: `url`, `state`, `received`, `stop()`."""

    def __init__(self, keys: SandboxKeys | None = None, *, mode: str = "public_key", port: int = 0,
                 has_platform_certs: bool | None = None, log=None, history: int = HISTORY):
        self.keys = keys or SandboxKeys.generate()
        self.state = SandboxState(self.keys, mode=mode, has_platform_certs=has_platform_certs, history=history)
        self.server = SandboxHTTPServer(("127.0.0.1", port), self.state, log=log)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def received(self) -> list[Received]:
        """The last `history` requests, oldest first."""
        return self.state.received

    def seed_user(self, organization_id: str, out_user_id: str, **fields) -> SandboxUser:
        return self.state.seed_user(organization_id, out_user_id, **fields)

    def seed_organization(self, organization_id: str, organization_name: str) -> None:
        self.state.seed_organization(organization_id, organization_name)

    def inject(self, kind: str, **fields) -> None:
        self.state.inject(Fault(kind, **fields))

    def start(self) -> Sandbox:
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="wxpay-sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        if self._thread:
            self.server.shutdown()
            self._thread.join(timeout=5)
        self.server.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def seed_demo(sandbox: Sandbox) -> None:
    """The organizations and pupils the README's demo commands use (see roster.py)."""
    from wxpay_cli.sandbox.roster import seed_demo_roster

    seed_demo_roster(sandbox)
