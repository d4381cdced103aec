"""`config check`: one row per thing that can be wrong with a profile, from the key
file's permissions to one live signed call and the clock.

`local_checks` looks at the files; `live_checks` sends `GET /v3/certificates`
and reads the answer: 200 verified, 404 `RESOURCE_NOT_EXISTS` (the signature was
accepted; a public-key merchant), 401 `SIGN_ERROR` with WeChat's detail and the
likely causes. The clock offset comes from the answer's `Date` header, which
`HeaderRecorder` (a response hook on the client) keeps for any status.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from wxpay_cli.errors import ApiError, ConfigError, NetworkError, VerificationError
from wxpay_cli.flows import onboarding
from wxpay_cli.i18n import N_, _
from wxpay_cli.local import credentials, keys
from wxpay_cli.local.config import PRIVATE_KEY_ENV, Profile
from wxpay_cli.wire import api
from wxpay_cli.wire.api import CERTIFICATES_PATH, Response
from wxpay_cli.wire.client import Client
from wxpay_cli.wire.signing import TIMESTAMP_WINDOW, VerificationKey, Verifier

MARKS = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "-"}
CLOCK_WARNING = 60  # seconds; WeChat refuses at TIMESTAMP_WINDOW
SIGN_ERROR_CAUSES = (
    N_("likely causes: serial_no is not the serial of the certificate that belongs to this private key (set merchant_cert, or `openssl x509 -noout -serial -in apiclient_cert.pem`); mchid is not the merchant the key was issued to; the local clock is off (see the clock row)")
)


@dataclass
class Check:
    name: str
    status: str  # ok, warn, fail or skip
    result: str
    hint: str | None = None

    @property
    def row(self) -> tuple[str, str, str, str]:
        return (MARKS[self.status], self.name, self.result, self.hint or "")

    def to_dict(self) -> dict:
        return {"check": self.name, "status": self.status, "result": self.result, "hint": self.hint}


def failed(name: str, exc: ConfigError) -> Check:
    return Check(name, "fail", exc.message, exc.hint)


@dataclass
class LocalResult:
    checks: list[Check] = field(default_factory=list)
    private_key: object = None  # loaded, or None when it could not be
    verification_keys: list[VerificationKey] = field(default_factory=list)


def local_checks(profile: Profile) -> LocalResult:
    """The checks that need no network: key file, key, merchant certificate, verification keys."""
    result = LocalResult()
    add = result.checks.append
    add(_key_file_check(profile))
    if result.checks[-1].status == "fail":
        add(Check(_("private key loads"), "skip", _("skipped: the file cannot be read")))
    else:
        try:
            result.private_key = credentials.load_private_key(profile)
            bits = result.private_key.key_size
            add(Check(_("private key loads"), "ok", f"RSA {bits}, {keys.fingerprint(result.private_key.public_key())}"))
        except ConfigError as exc:
            add(failed(_("private key loads"), exc))
    add(_merchant_cert_check(profile, result.private_key))
    if profile.public_key_id and profile.public_key:
        try:
            public_key = credentials.load_public_key(profile.public_key)
            result.verification_keys.append(VerificationKey(profile.public_key_id, public_key, "public_key"))
            add(Check(_("public key {public_key_id}").format(public_key_id=profile.public_key_id), "ok", keys.fingerprint(public_key)))
        except ConfigError as exc:
            add(failed(_("public key {public_key_id}").format(public_key_id=profile.public_key_id), exc))
    for path in profile.platform_certs:
        add(_platform_cert_check(profile, path, result.verification_keys))
    if not profile.has_verification_key:
        add(Check(
            _("verification keys"), "fail", _("none configured: WeChat's answers cannot be verified"),
            _("run `wxpay certs download --output DIR --save` (platform certificates), or add public_key_id and public_key"),
        ))
    return result


def _key_file_check(profile: Profile) -> Check:
    name = _("private key file")
    if profile.private_key is None:
        return Check(name, "ok", _("PEM from ${PRIVATE_KEY_ENV}").format(PRIVATE_KEY_ENV=PRIVATE_KEY_ENV))
    try:
        keys.read_pem_file(profile.private_key, _("private key"))
    except ConfigError as exc:
        return failed(name, exc)
    mode = profile.private_key.stat().st_mode & 0o777
    if keys.loose_permissions(profile.private_key):
        return Check(name, "warn", _("{private_key} is readable by other users (mode {mode:03o})").format(private_key=profile.private_key, mode=mode),
                     f"chmod 600 {profile.private_key}")
    return Check(name, "ok", _("{private_key} (mode {mode:03o})").format(private_key=profile.private_key, mode=mode))


def _merchant_cert_check(profile: Profile, private_key) -> Check:
    name = _("merchant certificate")
    if profile.merchant_cert is None:
        return Check(name, "skip", _("not configured"),
                     _("add merchant_cert (apiclient_cert.pem) to check serial_no and the key locally"))
    try:
        cert = onboarding.check_merchant_cert(str(profile.merchant_cert), private_key, profile.serial_no)
    except ConfigError as exc:
        return failed(name, exc)
    matched = _("the key matches") if private_key is not None else _("key not checked")
    return Check(name, "ok", _("serial {serial} = serial_no, {matched}, {validity}").format(
        serial=cert.serial_no, matched=matched, validity=onboarding.validity(cert)))


def _platform_cert_check(profile: Profile, path, found: list[VerificationKey]) -> Check:
    try:
        cert = credentials.load_platform_certificate(path, merchant_serial=profile.serial_no)
    except ConfigError as exc:
        return failed(_("platform certificate"), exc)
    name = _("platform certificate {serial_no}").format(serial_no=cert.serial_no)
    found.append(VerificationKey(cert.serial_no, cert.public_key, "platform_cert", cert.not_after.timestamp()))
    left = onboarding.days_left(cert)
    renew = _("run `wxpay certs download --output DIR --save`")
    if left < 0:
        return Check(name, "fail", onboarding.validity(cert), renew)
    if left < onboarding.EXPIRY_WARNING_DAYS:
        return Check(name, "warn", _("expires soon: {validity}").format(validity=onboarding.validity(cert)), renew)
    return Check(name, "ok", onboarding.validity(cert))


# -- the live call ------------------------------------------------------------------


class HeaderRecorder:
    """A response hook that keeps the last answer's headers and when it arrived, whatever
    its status (the client's own transport stays in place, proxies and all)."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.headers: Mapping[str, str] | None = None
        self.received_at: float | None = None

    def __call__(self, response) -> None:  # the client's response hook: any answer, before it is read
        self.headers, self.received_at = response.headers, self.clock()


def live_checks(client: Client, recorder: HeaderRecorder, verification_keys: list[VerificationKey]) -> list[Check]:
    """One signed `GET /v3/certificates`, then the clock offset read from its answer."""
    name = _("signed call GET {CERTIFICATES_PATH}").format(CERTIFICATES_PATH=CERTIFICATES_PATH)
    try:
        response = client.unverified(api.list_certificates())
    except NetworkError as exc:
        return [Check(name, "fail", exc.message, _("check base_url ({base_url}) and the network").format(base_url=client.base_url))]
    except ApiError as exc:
        checks = [_refusal_check(name, exc)]
    else:
        checks = [_answer_check(name, response, verification_keys)]
    checks.append(clock_check(recorder))
    return checks


def _refusal_check(name: str, exc: ApiError) -> Check:
    if exc.http_status == 404 and exc.code == "RESOURCE_NOT_EXISTS":
        return Check(name, "ok", _("signature accepted (404 RESOURCE_NOT_EXISTS: no platform certificates, a public-key merchant)"))
    result = f"HTTP {exc.http_status} {exc.code}: {exc.message}"
    if exc.detail not in (None, "", {}):
        result += " detail: " + (exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail, ensure_ascii=False))
    if exc.request_id:
        result += f" Request-ID: {exc.request_id}"
    hint = _(SIGN_ERROR_CAUSES) if exc.code == "SIGN_ERROR" else None
    return Check(name, "fail", result, hint)


def _answer_check(name: str, response: Response, verification_keys: list[VerificationKey]) -> Check:
    if not verification_keys:
        # Unverified, a 200 proves little: a proxy or a wrong base_url answers 200 too.
        return Check(name, "warn", _("HTTP {status_code}, but the answer cannot be verified yet, so it is not known to come from WeChat").format(status_code=response.status), _("run `wxpay certs download --output DIR --save`"))
    try:
        Verifier(verification_keys).verify(response.headers, response.body)
    except VerificationError as exc:
        return Check(name, "fail", _("signature accepted, but WeChat's answer {problem}").format(problem=exc.message.removeprefix('response ')),
                     _("run `wxpay certs download --output DIR --save`, or check public_key_id and public_key"))
    serial = response.headers.get("Wechatpay-Serial")
    return Check(name, "ok", _("signature accepted; answer verified with {serial}").format(serial=serial))


def clock_check(recorder: HeaderRecorder) -> Check:
    """How far the local clock is from WeChat's, from the `Date` header of the last answer."""
    name = _("clock")
    offset = clock_offset(recorder)
    if offset is None:
        return Check(name, "skip", _("WeChat's answer has no usable Date header"))
    seconds = round(offset)
    if abs(seconds) <= 1:
        text = _("local clock in step with WeChat's (within 1 s)")
    elif seconds > 0:
        text = _("local clock {seconds} s behind WeChat's").format(seconds=abs(seconds))
    else:
        text = _("local clock {seconds} s ahead of WeChat's").format(seconds=abs(seconds))
    if abs(offset) > TIMESTAMP_WINDOW:
        return Check(name, "fail", _("{text}; WeChat refuses requests more than {TIMESTAMP_WINDOW} s off").format(text=text, TIMESTAMP_WINDOW=TIMESTAMP_WINDOW),
                     _("synchronise the clock (NTP)"))
    if abs(offset) > CLOCK_WARNING:
        return Check(name, "warn", text, _("synchronise the clock (NTP)"))
    return Check(name, "ok", text)


def clock_offset(recorder: HeaderRecorder) -> float | None:
    """WeChat's clock minus ours, in seconds (whole seconds: `Date` has no more), or None."""
    date = recorder.headers.get("Date") if recorder.headers is not None else None
    try:
        return parsedate_to_datetime(date).timestamp() - recorder.received_at if date else None
    except (TypeError, ValueError):
        return None


@dataclass
class Report:
    profile: str
    checks: list[Check]
    clock_offset: float | None

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if check.status == "fail"]

    def to_dict(self) -> dict:
        offset = None if self.clock_offset is None else round(self.clock_offset)
        return {"profile": self.profile, "ok": not self.failed, "clock_offset_seconds": offset,
                "checks": [check.to_dict() for check in self.checks]}


def run(profile: Profile, connect: Callable[[Verifier | None, HeaderRecorder], Client]) -> Report:
    """Every check; `connect(verifier, transport)` makes the signed client for the live call."""
    local = local_checks(profile)
    checks = local.checks
    recorder = HeaderRecorder()
    if local.private_key is None:
        checks.append(Check(_("signed call GET {CERTIFICATES_PATH}").format(CERTIFICATES_PATH=CERTIFICATES_PATH), "skip", _("skipped: the private key does not load")))
    else:
        verifier = Verifier(local.verification_keys) if local.verification_keys else None
        checks += live_checks(connect(verifier, recorder), recorder, local.verification_keys)
    return Report(profile.name, checks, clock_offset(recorder))
