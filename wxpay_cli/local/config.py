"""Profiles: find the config file, load and validate a profile, write one back.

The schema (`wxpay config example` prints it, explained: local/config.example.toml, the same
file as config.example.toml at the top of the repository):

    default_profile = "school-a"
    [profiles.school-a]
    mchid, serial_no, private_key, merchant_cert, public_key_id, public_key,
    platform_certs, base_url, timeout

Paths are relative to the config file's folder, `~` expanded. The config file
comes from `--config`, else `$WXPAY_CONFIG`, else `<app dir>/config.toml`; the
profile from `--profile`, else `$WXPAY_PROFILE`, else `default_profile`, else
the only profile. Every problem is a `ConfigError` (exit 3) that says where.
`write_profile` adds or replaces one profile (file mode 600, folder 700),
keeping the others.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from wxpay_cli.errors import ConfigError, OperationRefused
from wxpay_cli.i18n import _
from wxpay_cli.local.files import BINARY, NONBLOCK
from wxpay_cli.wire import serials

CONFIG_ENV = "WXPAY_CONFIG"
PROFILE_ENV = "WXPAY_PROFILE"
PRIVATE_KEY_ENV = "WXPAY_PRIVATE_KEY"  # may hold the PEM itself (CI secrets)
DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 600.0


def base_url_problem(value: str) -> str | None:
    """What is wrong with a base URL (scheme and host, optional port, nothing else), or None.

    http:// is for the loopback sandbox only: anything else would send signed
    requests and take answers in the clear. The message never holds the URL.
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        return _("is not a valid URL")
    if parts.username is not None or parts.password is not None:
        return _("must not hold a user name or password (they are not shown here)")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _("must start with https:// and name a host")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return _("must use https:// (plain http:// is only for the sandbox on this machine)")
    if parts.path.strip("/") or parts.query or parts.fragment:
        return _("must be just scheme, host and port: no path, query, fragment or user")
    if any(c.isspace() for c in value):
        return _("must not hold spaces")
    return None


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def shown_url(value: str) -> str:
    """A URL for a message: any user name and password replaced by `***`."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        if parts.username is None and parts.password is None:
            return value
        return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()
    except ValueError:
        return _("(a URL that cannot be read)")


PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def check_proxy_environment(environ=None) -> None:
    """A proxy variable httpx would use but cannot work with is a ConfigError naming it.

    httpx itself would fail with a traceback (unknown scheme, SOCKS without the
    socksio package) or an unclear message; the value is not shown (it may hold a password).
    """
    from urllib.parse import urlsplit

    environ = os.environ if environ is None else environ
    for name in PROXY_VARIABLES:
        value = environ.get(name, "").strip()
        if not value:
            continue
        url = value if "://" in value else "http://" + value
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018
        except ValueError:
            parts = None
        if parts is None or not parts.hostname or any(c.isspace() or ord(c) < 0x20 for c in url):
            raise ConfigError(_("${name} is not a usable proxy URL").format(name=name),
                              hint=_("fix or unset it; e.g. http://proxy.example:3128"))
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https", "socks5", "socks5h"):
            raise ConfigError(_("${name} names a proxy of a kind wxpay cannot use ({scheme})").format(
                name=name, scheme=scheme[:20]), hint=_("use an http://, https:// or socks5:// proxy, or unset it"))
        if scheme.startswith("socks"):
            import importlib.util

            if importlib.util.find_spec("socksio") is None:
                raise ConfigError(_("${name} names a SOCKS proxy, but SOCKS support is not installed").format(
                    name=name), hint=_("run `pip install 'httpx[socks]'`, or use an http:// proxy"))


def expand(value: str) -> Path:
    """`~` and `~user` expanded; an unknown user is a ConfigError, not a crash."""
    try:
        return Path(value).expanduser()
    except RuntimeError:
        raise ConfigError(_("cannot expand {value!r}: no such user's home folder").format(value=value)) from None

PROFILE_KEYS = (
    "mchid",
    "serial_no",
    "private_key",
    "merchant_cert",
    "public_key_id",
    "public_key",
    "platform_certs",
    "base_url",
    "timeout",
    "apiv3_key",
    "operator",
    "message_template",
    "audit_log",
    "link_hosts",
)

MAX_OPERATOR_LENGTH = 64


def operator_problem(name: str) -> str | None:
    """Why `name` cannot be a profile's `operator` (who the audit log names), or None."""
    if not name.strip() or len(name) > MAX_OPERATOR_LENGTH or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F
                                                                   for c in name):
        return _("operator must be a name of at most {count} characters, without control characters").format(
            count=MAX_OPERATOR_LENGTH)
    return None
# Where a repayment link may lead without a question: WeChat Pay's (Tencent's) domains and
# their subdomains. A profile's `link_hosts` replaces the list.
DEFAULT_LINK_HOSTS = ("weixin.qq.com", "wechatpay.cn", "wechatpay.com", "tenpay.com", "wechat.com")
# The host of the sandbox's links (.invalid names nobody): added to the default list when the
# profile talks plain http, which only a loopback sandbox may.
SANDBOX_LINK_HOST = "wxpay-sandbox.invalid"
_HOST_NAME = re.compile(r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")


@dataclass
class Profile:
    """One merchant's credentials and settings, with paths already resolved."""

    name: str
    mchid: str
    serial_no: str
    private_key: Path | None  # None when the PEM comes from $WXPAY_PRIVATE_KEY
    merchant_cert: Path | None = None  # apiclient_cert.pem, optional: lets `config check` match key and serial
    public_key_id: str | None = None
    public_key: Path | None = None
    platform_certs: list[Path] = field(default_factory=list)
    base_url: str = DEFAULT_BASE_URL
    timeout: float = DEFAULT_TIMEOUT
    apiv3_key: str | None = field(default=None, repr=False)
    operator: str | None = None  # who runs wxpay, for the audit log (default: the login name)
    message_template: str | None = None  # `repayment-url --message` (see message.py)
    audit_log: Path | None = None  # this profile's own audit log (default: audit.default_path())
    link_hosts: tuple[str, ...] = DEFAULT_LINK_HOSTS  # domains a link may open without a question
    private_key_pem: bytes | None = field(default=None, repr=False)
    config_path: Path | None = None
    # Where each value came from: "file", "env", "flag", "default" or "sandbox".
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def has_verification_key(self) -> bool:
        return bool(self.public_key_id or self.platform_certs)


def default_config_path() -> Path:
    """`<click app dir>/config.toml` (e.g. ~/.config/wxpay/config.toml on Linux)."""
    import click

    return Path(click.get_app_dir("wxpay")) / "config.toml"


def config_path(flag: str | None) -> tuple[Path, str]:
    """The config file to use and where that choice came from."""
    if flag:
        return expand(flag), "flag"
    if os.environ.get(CONFIG_ENV):
        return expand(os.environ[CONFIG_ENV]), "env"
    return default_config_path(), "default"


MAX_CONFIG_BYTES = 1024 * 1024  # a config is a few hundred bytes; this is generous


def read_config_bytes(path: Path) -> bytes:
    """The file's bytes: a regular file of sane size only (a FIFO, a device or a
    huge file is a ConfigError, never a hang or a memory blow-up)."""
    import stat

    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; no effect on a regular file.
        fd = os.open(path, os.O_RDONLY | NONBLOCK | BINARY)
    except FileNotFoundError:
        raise ConfigError(
            _("no config file at {path}").format(path=path),
            hint=_("create one with `wxpay config init` (or start from `wxpay config example`), pass --config, or try --sandbox"),
        ) from None
    except OSError as exc:
        raise ConfigError(_("cannot read config file {path}: {reason}").format(
            path=path, reason=exc.strerror or exc)) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(_("config file {path} is not a regular file (a pipe, a device or a folder?)").format(
                path=path))
        chunks, size = [], 0
        while size <= MAX_CONFIG_BYTES:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(_("config file {path} is larger than {limit} KiB: not a wxpay config").format(
                path=path, limit=MAX_CONFIG_BYTES // 1024))
        return b"".join(chunks)
    except OSError as exc:
        raise ConfigError(_("cannot read config file {path}: {reason}").format(
            path=path, reason=exc.strerror or exc)) from None
    finally:
        os.close(fd)


def load_document(path: Path) -> dict:
    """The parsed TOML file; a ConfigError naming the file (and line) when it cannot be."""
    data = read_config_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(
            _("config file {path} is not UTF-8 text (line {line})").format(path=path, line=line),
            hint=_("save it as UTF-8 (e.g. in Notepad: Save As, Encoding: UTF-8)"),
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_("config file {path} is not valid TOML: {reason}").format(path=path, reason=exc)) from None
    except RecursionError:
        raise ConfigError(_("config file {path} is nested too deeply to be a wxpay config").format(path=path)) from None


def profile_names(document: dict) -> list[str]:
    profiles = document.get("profiles", {})
    return sorted(profiles) if isinstance(profiles, dict) else []


def known_profile_names(config_flag: str | None = None) -> list[str]:
    """The profile names in the config file, or [] when it cannot be read (shell completion)."""
    try:
        return profile_names(load_document(config_path(config_flag)[0]))
    except Exception:  # completion must never fail loudly
        return []


def load_profile(config_flag: str | None = None, profile_flag: str | None = None) -> Profile:
    """Find, read and validate the profile the flags and environment select."""
    path, path_source = config_path(config_flag)
    document = load_document(path)
    name, name_source = _choose_profile(document, path, profile_flag)
    profile = parse_profile(document["profiles"][name], name=name, path=path)
    profile.sources["config"] = path_source
    profile.sources["profile"] = name_source
    if os.environ.get(PRIVATE_KEY_ENV):
        _private_key_from_env(profile, os.environ[PRIVATE_KEY_ENV])
    return profile


def _choose_profile(document: dict, path: Path, flag: str | None) -> tuple[str, str]:
    profiles = document.get("profiles")
    if not isinstance(profiles, dict) or not profiles:
        raise ConfigError(_("config file {path} has no [profiles.NAME] table").format(path=path), hint=_("see `wxpay config example`"))
    names = sorted(profiles)
    default = document.get("default_profile")
    if default is not None and not isinstance(default, str):
        raise ConfigError(_("{path}: default_profile must be a profile name in quotes, e.g. \"school-a\"").format(path=path))
    for wanted, source in ((flag, "flag"), (os.environ.get(PROFILE_ENV), "env"), (default, "file")):
        if wanted:
            if wanted not in profiles:
                raise ConfigError(
                    _("no profile {wanted!r} in {path} (chosen by {value})").format(wanted=wanted, path=path, value=_SOURCE_WORDS[source]),
                    hint=_("known profiles: {names}").format(names=', '.join(names)),
                )
            return wanted, source
    if len(names) == 1:
        return names[0], "default"
    raise ConfigError(
        _("{path} has several profiles and none is chosen").format(path=path),
        hint=_("pass --profile, set {PROFILE_ENV} or default_profile; known: {names}").format(PROFILE_ENV=PROFILE_ENV, names=', '.join(names)),
    )


_SOURCE_WORDS = {"flag": "--profile", "env": f"${PROFILE_ENV}", "file": "default_profile"}


def parse_profile(table: object, *, name: str, path: Path | None) -> Profile:
    """Validate one `[profiles.NAME]` table and resolve its paths."""
    where = (_("profile {name!r} in {path}").format(name=name, path=path) if path
             else _("profile {name!r}").format(name=name))
    if not isinstance(table, dict):
        raise ConfigError(_("{where} must be a table").format(where=where))
    unknown = sorted(set(table) - set(PROFILE_KEYS))
    if unknown:
        raise ConfigError(_("{where}: unknown key {value!r}").format(where=where, value=unknown[0]), hint=_("known keys: {names}").format(names=', '.join(PROFILE_KEYS)))
    base = path.parent if path else Path.cwd()

    def text(key: str, required: bool = False) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                raise ConfigError(_("{where}: missing {key}").format(where=where, key=key), hint=_("see `wxpay config example`"))
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ConfigError(
                _("{where}: {key} must be text: put it in quotes, e.g. {key} = \"{value}\"").format(
                    where=where, key=key, value=value))
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(_("{where}: {key} must be a non-empty string").format(where=where, key=key))
        return value.strip()

    mchid = text("mchid", required=True)
    if not re.fullmatch(r"[0-9]+", mchid):  # ASCII digits: str.isdigit() accepts full-width ones
        raise ConfigError(_("{where}: mchid {mchid!r} must be digits, e.g. \"1900000001\"").format(where=where, mchid=mchid))
    serial_no = text("serial_no", required=True)
    try:
        serial_no = serials.canonical(serial_no)
    except ValueError:
        raise ConfigError(
            _("{where}: serial_no must be the merchant certificate serial in hex").format(where=where),
            hint=_("read it with `openssl x509 -noout -serial -in apiclient_cert.pem`"),
        ) from None
    private_key = text("private_key")
    merchant_cert = text("merchant_cert")
    if private_key is None and not os.environ.get(PRIVATE_KEY_ENV):
        raise ConfigError(_("{where}: missing private_key").format(where=where), hint=_("give the PEM path, or set {PRIVATE_KEY_ENV}").format(PRIVATE_KEY_ENV=PRIVATE_KEY_ENV))
    public_key_id = text("public_key_id")
    public_key = text("public_key")
    if bool(public_key_id) != bool(public_key):
        missing = "public_key" if public_key_id else "public_key_id"
        raise ConfigError(_("{where}: public-key mode needs both public_key_id and public_key; {missing} is missing").format(where=where, missing=missing))
    if public_key_id and not public_key_id.startswith("PUB_KEY_ID_"):
        raise ConfigError(_("{where}: public_key_id should look like PUB_KEY_ID_0114...").format(where=where))
    certs = table.get("platform_certs", [])
    if not isinstance(certs, list) or not all(isinstance(c, str) and c.strip() for c in certs):
        raise ConfigError(_("{where}: platform_certs must be a list of PEM paths").format(where=where))
    base_url = text("base_url") or DEFAULT_BASE_URL
    problem = base_url_problem(base_url)
    if problem:
        raise ConfigError(f"{where}: base_url {shown_url(base_url)!r} {problem}", hint=_("e.g. https://api.mch.weixin.qq.com"))
    timeout = table.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT:
        raise ConfigError(_("{where}: timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT:.0f}").format(where=where, MAX_TIMEOUT=MAX_TIMEOUT))

    operator = text("operator")
    if operator is not None and operator_problem(operator):
        raise ConfigError(_("{where}: operator must be a name of at most {count} characters, "
                            "without control characters").format(where=where, count=MAX_OPERATOR_LENGTH))

    message_template = table.get("message_template")
    if message_template is not None:
        from wxpay_cli.terminal.message import template_problem

        problem = template_problem(message_template)
        if problem:
            raise ConfigError(_("{where}: message_template {problem}").format(where=where, problem=problem))
    audit_log = text("audit_log")
    default_hosts = [*DEFAULT_LINK_HOSTS, *([SANDBOX_LINK_HOST] if base_url.startswith("http://") else [])]
    link_hosts = table.get("link_hosts", default_hosts)
    if not isinstance(link_hosts, list) or not all(
            isinstance(host, str) and _HOST_NAME.fullmatch(host.lower()) for host in link_hosts):
        raise ConfigError(_("{where}: link_hosts must be a list of host names (domains) such as "
                            "\"weixin.qq.com\", without https:// or a path").format(where=where))

    sources = {key: "file" for key in table}
    sources.setdefault("base_url", "default")
    sources.setdefault("timeout", "default")
    return Profile(
        name=name,
        mchid=mchid,
        serial_no=serial_no,
        private_key=resolve_path(private_key, base) if private_key else None,
        merchant_cert=resolve_path(merchant_cert, base) if merchant_cert else None,
        public_key_id=public_key_id,
        public_key=resolve_path(public_key, base) if public_key else None,
        platform_certs=[resolve_path(c, base) for c in certs],
        base_url=base_url.rstrip("/"),
        timeout=float(timeout),
        apiv3_key=text("apiv3_key"),
        operator=operator,
        message_template=message_template,
        audit_log=resolve_path(audit_log, base) if audit_log else None,
        link_hosts=tuple(host.lower().rstrip(".") for host in link_hosts),
        config_path=path,
        sources=sources,
    )


def _private_key_from_env(profile: Profile, value: str) -> None:
    """$WXPAY_PRIVATE_KEY holds either the PEM itself or the path of an existing file.

    Anything else (a base64 blob from a CI secret, a truncated PEM) is refused
    without repeating the value: it may be the key itself.
    """
    if "-----BEGIN" in value:
        profile.private_key = None
        profile.private_key_pem = value.encode()
    elif len(value) < 1024 and "\n" not in value and not value.startswith("~") and Path(value).is_file():
        profile.private_key = Path(value)
    else:
        raise ConfigError(
            _("${PRIVATE_KEY_ENV} holds neither a PEM private key nor the path of an existing file").format(PRIVATE_KEY_ENV=PRIVATE_KEY_ENV),
            hint=_("put the whole PEM (with its -----BEGIN line) or a file path in it; its value is not shown"),
        )
    profile.sources["private_key"] = "env"


def resolve_path(value: str, base: Path) -> Path:
    """`~` expanded; relative paths taken from the config file's folder."""
    path = expand(value)
    return path if path.is_absolute() else base / path


def write_profile(path: Path, name: str, table: dict, *, force: bool = False) -> None:
    """Add `[profiles.NAME]` to the config file, keeping the other profiles.

    Refuses to replace an existing profile unless `force`; sets default_profile
    when this is the first profile. The new file replaces the old one in a single
    `os.replace`, so a failure leaves the old file whole.
    """
    parse_profile(table, name=name, path=path)  # never write what could not be read back
    document = load_document(path) if path.exists() else {}
    profiles = document.setdefault("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(_("config file {path}: profiles must be a table of [profiles.NAME]").format(path=path))
    if name in profiles and not force:
        raise _exists(path, name)
    if len(profiles) == 1 and name not in profiles and not document.get("default_profile"):
        # The only profile was chosen implicitly; with a second one it would no
        # longer be, and every command without --profile would stop working.
        document["default_profile"] = next(iter(profiles))
    profiles[name] = {key: value for key, value in table.items() if value not in (None, "", [])}
    if len(profiles) == 1:
        document["default_profile"] = name
    write_document(path, document)


def refuse_existing_profile(path: Path, name: str, *, force: bool = False) -> None:
    """Fail early, before asking anything, when `write_profile` would refuse."""
    if not force and path.exists() and name in profile_names(load_document(path)):
        raise _exists(path, name)


def _exists(path: Path, name: str) -> OperationRefused:
    return OperationRefused(
        _("profile {name!r} already exists in {path}; nothing was written").format(name=name, path=path),
        hint=_("pass --force to replace it, or choose another --profile"),
    )


def write_document(path: Path, document: dict) -> None:
    """Write the TOML document: folder created mode 700, file mode 600, replaced atomically.

    A symlinked config is written through to its target. The file is rewritten
    from its data, so comments are not kept: the previous file is kept beside it
    as `<name>.bak` (mode 600).
    """
    import shutil

    import tomli_w

    path = path.resolve() if path.is_symlink() else path
    text = tomli_w.dumps(document)
    if path.exists():
        # The backup is always a new file (mode 600 from mkstemp) that replaces whatever
        # had the name: an existing .bak's looser mode is never reused, and a symlink
        # planted there is replaced, never followed.
        backup = path.with_name(path.name + ".bak")
        temp_backup = None
        try:
            fd, temp_backup = tempfile.mkstemp(prefix=".config-", suffix=".bak", dir=path.parent)
            with os.fdopen(fd, "wb") as handle, path.open("rb") as original:
                shutil.copyfileobj(original, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_backup, backup)
        except OSError as exc:
            if temp_backup:
                Path(temp_backup).unlink(missing_ok=True)
            raise ConfigError(_("cannot keep a backup of {path} before rewriting it: {reason}").format(path=path, reason=exc.strerror)) from None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    except OSError as exc:
        raise ConfigError(_("cannot write config file {path}: {reason}").format(path=path, reason=exc.strerror)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:  # mkstemp made it mode 600
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise ConfigError(_("cannot write config file {path}: {reason}").format(path=path, reason=exc.strerror)) from None


def add_platform_certs(path: Path, name: str, certs: list[str]) -> list[str]:
    """Add certificate paths to a profile's platform_certs (once each); returns the new list."""
    document = load_document(path)
    table = document.get("profiles", {}).get(name)
    if not isinstance(table, dict):
        raise ConfigError(_("no profile {name!r} in {path}").format(name=name, path=path))
    listed = list(table.get("platform_certs", []))
    present = {resolve_path(entry, path.parent) for entry in listed}
    listed += [cert for cert in certs if resolve_path(cert, path.parent) not in present]
    table["platform_certs"] = listed
    parse_profile(table, name=name, path=path)
    write_document(path, document)
    return listed
