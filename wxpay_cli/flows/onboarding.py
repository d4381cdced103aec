"""Checking the files an operator brings from the merchant platform, and describing a profile.

`config init` validates each value with the `check_*` functions here before a
profile is written (each raises `ConfigError` saying what is wrong and how to
fix it); `config show` describes a resolved profile with `describe`. Key
contents never leave this module: only fingerprints, serials and dates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from wxpay_cli.errors import ConfigError
from wxpay_cli.i18n import _
from wxpay_cli.local import credentials, keys
from wxpay_cli.local.config import PRIVATE_KEY_ENV, Profile, base_url_problem, expand, shown_url
from wxpay_cli.terminal import times
from wxpay_cli.wire import serials

EXPIRY_WARNING_DAYS = 30


def absolute(value: str) -> str:
    """A path as the profile stores it: `~` expanded, made absolute against the current folder."""
    return str(expand(value).absolute())


def _shaped(value: str, pattern: str, problem: str, hint: str | None = None) -> str:
    """`value` if it matches `pattern` whole, else a ConfigError: '<value!r> <problem>'."""
    if not re.fullmatch(pattern, value):
        raise ConfigError(_("{value!r} {problem}").format(value=value, problem=problem), hint=hint)
    return value


def check_mchid(value: str) -> str:
    from wxpay_cli.wire.api import typed_problem

    problem = typed_problem(value.strip())
    if problem:
        raise ConfigError(_("{value!r} is not an mchid: {problem}").format(value=value.strip(), problem=problem))
    return _shaped(value.strip(), r"[0-9]+", _("is not an mchid: it must be digits"), _("the merchant id, e.g. \"1900000001\""))


def check_operator(value: str) -> str:
    """Who runs wxpay with the profile, as the audit log will name them: trimmed, checked."""
    from wxpay_cli.local.config import operator_problem

    problem = operator_problem(value.strip())
    if problem:
        raise ConfigError(problem)
    return value.strip()


def check_serial_no(value: str) -> str:
    """A serial typed or pasted from openssl (`serial=0A1B…`), in its canonical form."""
    try:
        return serials.canonical(value)
    except ValueError:
        raise ConfigError(
            _("{value} is not a certificate serial_no in hex").format(value=repr(value)),
            hint=_("pass --merchant-cert apiclient_cert.pem to read it, or `openssl x509 -noout -serial -in apiclient_cert.pem`"),
        ) from None


def check_public_key_id(value: str) -> str:
    return _shaped(value.strip(), r"PUB_KEY_ID_[0-9A-Za-z]+", _("does not look like a public key id PUB_KEY_ID_0114..."),
                   _("copy it from the merchant platform (API安全 → 微信支付公钥)"))


def check_base_url(value: str) -> str:
    value = value.strip().rstrip("/")
    problem = base_url_problem(value)
    if problem:
        raise ConfigError(_("{value!r} {problem}").format(value=shown_url(value), problem=problem), hint=_("e.g. https://api.mch.weixin.qq.com"))
    return value


def private_key_is_encrypted(path: str) -> bool:
    return b"ENCRYPTED" in keys.read_pem_file(expand(path), _("private key"))


def check_private_key(path: str, password: str | None):
    """Load the merchant private key from `path` (the key object; never shown)."""
    file = expand(path)
    return keys.load_private_key(keys.read_pem_file(file, _("private key")), source=str(file), password=password)


def check_merchant_cert(path: str, private_key, serial_no: str | None = None) -> keys.Certificate:
    """apiclient_cert.pem: parses, is not expired, belongs to the key, and has `serial_no` when one is given."""
    file = expand(path)
    cert = keys.load_certificate(keys.read_pem_file(file, _("merchant certificate")), source=str(file))
    refuse_expired(cert, str(file))
    if private_key is not None and not keys.key_matches(private_key, cert.public_key):
        raise ConfigError(
            _("the private key does not belong to {file} (serial {serial_no})").format(file=file, serial_no=cert.serial_no),
            hint=_("use the apiclient_key.pem and apiclient_cert.pem downloaded together"),
        )
    if serial_no and not serials.same(serial_no, cert.serial_no):
        raise ConfigError(
            _("serial_no {serial_no} is not the serial of {file} ({serial_no2})").format(serial_no=serial_no, file=file, serial_no2=cert.serial_no),
            hint=_("set serial_no = \"{serial_no}\" (config init reads it from --merchant-cert)").format(serial_no=cert.serial_no),
        )
    return cert


def check_public_key(path: str):
    return credentials.load_public_key(expand(path))


def check_platform_cert(path: str, merchant_serial: str) -> keys.Certificate:
    cert = credentials.load_platform_certificate(expand(path), merchant_serial=merchant_serial)
    refuse_expired(cert, path)
    return cert


def refuse_expired(cert: keys.Certificate, source: str) -> None:
    if days_left(cert) < 0:
        raise ConfigError(
            _("{source} (serial {serial_no}) expired on {not_after}").format(
                source=source, serial_no=cert.serial_no, not_after=times.local(cert.not_after)),
            hint=_("download a current one from the merchant platform, or run `wxpay certs download`"),
        )


def days_left(cert: keys.Certificate, now: datetime | None = None) -> float:
    return (cert.not_after - (now or datetime.now(UTC))).total_seconds() / 86400


def validity(cert: keys.Certificate) -> str:
    """'until 2027-11-25 08:00:00 +08:00 (364 days)' / 'expired on 2025-01-01 08:00:00 +08:00' (local time)."""
    left = days_left(cert)
    if left < 0:
        return _("expired on {not_after}").format(not_after=times.local(cert.not_after))
    return _("until {not_after} ({days} days)").format(not_after=times.local(cert.not_after), days=int(left))


# -- config show -----------------------------------------------------------------


@dataclass
class Setting:
    """One line of `config show`: a value, where it came from, and facts read from its file."""

    name: str
    value: object
    source: str
    facts: dict

    def to_dict(self) -> dict:
        return {"value": self.value, "source": self.source, **self.facts}

    def shown(self) -> str:
        text = "" if self.value is None else str(self.value)
        extra = ", ".join(str(self.facts[k]) for k in ("serial_no", "fingerprint", "validity", "problem") if k in self.facts)
        return f"{text} ({extra})" if extra else text


def describe(profile: Profile) -> list[Setting]:
    """Every value of the resolved profile with its source; files as fingerprints and serials."""
    src = profile.sources
    settings = [
        Setting("profile", profile.name, src.get("profile", "default"), {}),
        Setting("config", str(profile.config_path) if profile.config_path else None, src.get("config", "default"), {}),
        Setting("mchid", profile.mchid, src.get("mchid", "file"), {}),
        Setting("serial_no", profile.serial_no, src.get("serial_no", "file"), {}),
        _private_key_setting(profile),
    ]
    if profile.merchant_cert:
        settings.append(_file_setting("merchant_cert", profile.merchant_cert, src, _cert_facts))
    if profile.public_key_id:
        settings.append(Setting("public_key_id", profile.public_key_id, src.get("public_key_id", "file"), {}))
        settings.append(_file_setting("public_key", profile.public_key, src, _public_key_facts))
    for path in profile.platform_certs:
        settings.append(_file_setting("platform_cert", path, src, _cert_facts, source_key="platform_certs"))
    settings.append(Setting("base_url", profile.base_url, src.get("base_url", "default"), {}))
    settings.append(Setting("timeout", profile.timeout, src.get("timeout", "default"), {}))
    if profile.apiv3_key:
        settings.append(Setting("apiv3_key", _("(set; not shown)"), src.get("apiv3_key", "file"), {}))
    from wxpay_cli.local.audit import default_path

    settings.append(Setting("audit_log", str(profile.audit_log or default_path()),
                            src.get("audit_log", "file") if profile.audit_log else "default", {}))
    return settings


def _private_key_setting(profile: Profile) -> Setting:
    source = profile.sources.get("private_key", "file")
    value = f"${PRIVATE_KEY_ENV} (PEM)" if profile.private_key is None else str(profile.private_key)
    try:
        key = credentials.load_private_key(profile)
    except ConfigError as exc:
        return Setting("private_key", value, source, {"problem": exc.message})
    facts = {"fingerprint": keys.fingerprint(key.public_key())}
    if profile.private_key is not None and keys.loose_permissions(profile.private_key):
        facts["problem"] = _("readable by other users")
    return Setting("private_key", value, source, facts)


def _file_setting(name: str, path: Path, sources: dict, read, source_key: str | None = None) -> Setting:
    try:
        facts = read(path)
    except ConfigError as exc:
        facts = {"problem": exc.message}
    return Setting(name, str(path), sources.get(source_key or name, "file"), facts)


def _cert_facts(path: Path) -> dict:
    cert = keys.load_certificate(keys.read_pem_file(path, _("certificate")), source=str(path))
    return {"serial_no": cert.serial_no, "expires": cert.not_after.isoformat(), "validity": validity(cert)}


def _public_key_facts(path: Path) -> dict:
    return {"fingerprint": keys.fingerprint(credentials.load_public_key(path))}
