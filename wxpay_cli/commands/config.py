"""`wxpay config init|show|check`: from the merchant platform's files to a verified profile."""

from __future__ import annotations

import click

from wxpay_cli.app import App
from wxpay_cli.commands._click import Group
from wxpay_cli.commands._options import output_options
from wxpay_cli.errors import WxpayError
from wxpay_cli.i18n import N_, _
from wxpay_cli.terminal import output, prompt
from wxpay_cli.terminal.output import View
from wxpay_cli.terminal.prompt import ask


@click.group("config", cls=Group)
def config_group() -> None:
    """Create, show and check profiles (`wxpay config init` to start)."""


class _Inputs:
    """Each value from its flag, else asked on a terminal, else a usage error naming the flag.

    Optional values are asked only in a guided session (no flags given at all), so
    an operator who passes the flags is asked only for what is missing.
    """

    def __init__(self, asking: bool, guided: bool):
        self.asking = asking
        self.guided = asking and guided

    def get(self, value, flag: str, text: str, check=None, *, default=None, optional: bool = False):
        if value is not None:
            return check(value) if check else value
        if not (self.guided if optional else self.asking):
            if optional:
                return default
            raise click.UsageError(_("Missing option '{flag}' (stdin is not a terminal, so wxpay cannot ask for it).").format(flag=flag))
        answer = ask(text, (lambda v: check(v) if (check and v) else v), default=default if default else ("" if optional else None))
        return answer or None


@config_group.command("init")
@click.option("--profile", "name", metavar="NAME", help="Profile name (default: the global --profile, else 'default').")
@click.option("--operator", metavar="NAME",
              help="Who runs wxpay with this profile, as the audit log names them (asked on a terminal; "
                   "default: the login name at each run).")
@click.option("--mchid", metavar="MCHID", help="The service provider's merchant id (digits).")
@click.option("--serial-no", metavar="HEX", help="Merchant API certificate serial; read from --merchant-cert when given.")
@click.option("--merchant-cert", metavar="PATH", help="apiclient_cert.pem: gives serial_no and must match the private key.")
@click.option("--private-key", metavar="PATH", help="apiclient_key.pem (passphrase from $WXPAY_PRIVATE_KEY_PASSWORD or asked).")
@click.option("--public-key-id", metavar="PUB_KEY_ID_…", help="WeChat Pay public key id (public-key mode).")
@click.option("--public-key", metavar="PATH", help="WeChat Pay public key, pub_key.pem (public-key mode).")
@click.option("--platform-cert", "platform_certs", metavar="PATH", multiple=True,
              help="A platform certificate wechatpay_<SERIAL>.pem (certificate mode; repeatable).")
@click.option("--base-url", metavar="URL", help="API base URL (default: https://api.mch.weixin.qq.com).")
@click.option("--force", is_flag=True, help="Replace the profile if it already exists.")
@output_options
@click.pass_obj
def init(app: App, name, operator, mchid, serial_no, merchant_cert, private_key, public_key_id, public_key,
         platform_certs, base_url, force) -> None:
    """Create a profile from the merchant platform's files, checking each one first.

    Asks for what is missing on a terminal; otherwise every required value must
    come as a flag. Nothing is written unless the key loads, the certificates
    parse and are current, and the public key loads. The config file is written
    mode 600 and keeps its other profiles; an existing profile is replaced only
    with --force.
    """

    from wxpay_cli.app import warn_if_readable
    from wxpay_cli.flows import onboarding
    from wxpay_cli.local import config, keys

    if app.use_sandbox:
        raise click.UsageError(_("config init writes your real config file; drop --sandbox (`wxpay sandbox serve` writes a sandbox profile of its own)"))

    given = (name, operator, mchid, serial_no, merchant_cert, private_key, public_key_id, public_key, base_url)
    inputs = _Inputs(prompt.interactive(), guided=all(value is None for value in given) and not platform_certs)
    path = config.config_path(app.config_flag)[0]
    name = name or app.profile_flag or inputs.get(None, "--profile", _("Profile name"), default="default", optional=True) or "default"
    config.refuse_existing_profile(path, name, force=force)
    from wxpay_cli.local.audit import login_name

    # Who the audit log names: asked in a guided session (Enter keeps the login name);
    # by flags, only when --operator is given (otherwise the login name at each run).
    operator = inputs.get(operator, "--operator", _("Your name, for the audit log"), onboarding.check_operator,
                          default=login_name() if inputs.guided else None, optional=True)
    mchid = inputs.get(mchid, "--mchid", _("Merchant id (mchid)"), onboarding.check_mchid)
    key_path = inputs.get(private_key, "--private-key", _("Private key file (apiclient_key.pem)"), _readable_key)
    key, asked_passphrase = _load_key(key_path, inputs.asking)
    warn_if_readable(config.expand(key_path))
    # Every file is checked as it is answered, so a wrong one is asked again, not fatal.
    def merchant_cert_of_key(path: str) -> str:
        onboarding.check_merchant_cert(path, key, serial_no)
        return path

    if merchant_cert is None and serial_no is None:
        merchant_cert = inputs.get(None, "--merchant-cert", _("Merchant certificate (apiclient_cert.pem; empty to type serial_no)"),
                                   merchant_cert_of_key, optional=True)
    if merchant_cert:
        serial_no = onboarding.check_merchant_cert(merchant_cert, key, serial_no).serial_no
    else:
        serial_no = inputs.get(serial_no, "--serial-no", _("Merchant certificate serial_no (hex)"), onboarding.check_serial_no)
    if public_key_id is None and public_key is None:
        public_key_id = inputs.get(None, "--public-key-id", _("WeChat Pay public key id (PUB_KEY_ID_…; empty for certificate mode)"),
                                   onboarding.check_public_key_id, optional=True)
    if public_key_id or public_key:
        public_key_id = inputs.get(public_key_id, "--public-key-id", _("WeChat Pay public key id"), onboarding.check_public_key_id)
        public_key = inputs.get(public_key, "--public-key", _("WeChat Pay public key file (pub_key.pem)"),
                                lambda path: onboarding.check_public_key(path) and path)
        public_key_facts = keys.fingerprint(onboarding.check_public_key(public_key))
    if not platform_certs and not public_key_id and inputs.guided:
        def certificates(listed: str) -> str:
            for item in (part.strip() for part in listed.split(",")):
                if item:
                    onboarding.check_platform_cert(item, serial_no)
            return listed

        listed = inputs.get(None, "--platform-cert", _("Platform certificate files, comma-separated (empty: none yet)"),
                            certificates, optional=True)
        platform_certs = [item.strip() for item in (listed or "").split(",") if item.strip()]
    certs = [onboarding.check_platform_cert(item, serial_no) for item in platform_certs]
    base_url = inputs.get(base_url, "--base-url", _("API base URL"), onboarding.check_base_url,
                          default=config.DEFAULT_BASE_URL, optional=True)

    table = {
        "operator": operator,
        "mchid": mchid,
        "serial_no": serial_no,
        "private_key": onboarding.absolute(key_path),
        "merchant_cert": onboarding.absolute(merchant_cert) if merchant_cert else None,
        "public_key_id": public_key_id,
        "public_key": onboarding.absolute(public_key) if public_key else None,
        "platform_certs": [onboarding.absolute(item) for item in platform_certs],
        "base_url": base_url if base_url != config.DEFAULT_BASE_URL else None,
    }
    config.write_profile(path, name, table, force=force)

    rows = [(_("Profile"), name), (_("Config file"), str(path))]
    if operator:
        rows.append((_("Operator"), operator))
    rows += [("mchid", mchid),
            ("serial_no", serial_no + (_(" (from the merchant certificate, matches the key)") if merchant_cert else "")),
            (_("Private key"), f"{table['private_key']} ({keys.fingerprint(key.public_key())})")]
    if public_key_id:
        rows.append((_("Public key"), f"{public_key_id} ({public_key_facts})"))
    rows += [(_("Platform certificate"), f"{cert.serial_no} ({onboarding.validity(cert)})") for cert in certs]
    rows.append((_("Next"), "wxpay config check"))
    if not public_key_id and not certs:
        output.warn(_("no key to verify WeChat's answers yet: run `wxpay certs download --output DIR --save`, or add public_key_id and public_key"))
    if asked_passphrase:
        output.info(_("note: the key is encrypted; set {PASSWORD_ENV} when you run wxpay").format(PASSWORD_ENV=keys.PASSWORD_ENV))
    written = {key: value for key, value in table.items() if value not in (None, [])}
    app.render(View(data={"profile": name, "config": str(path), "written": written}, rows=rows, title=_("Profile written")))


def _readable_key(path: str) -> str:
    """The path, once its file reads as a PEM private key. An encrypted key is only
    checked for its shape here: its passphrase is `_load_key`'s business, so a wrong
    $WXPAY_PRIVATE_KEY_PASSWORD fails once instead of re-asking for the path forever."""
    from wxpay_cli.flows import onboarding

    if not onboarding.private_key_is_encrypted(path):
        onboarding.check_private_key(path, None)
    return path


def _load_key(path: str, asking: bool):
    """The key, and whether its passphrase was asked for (then it is not in the environment)."""
    from wxpay_cli.flows import onboarding
    from wxpay_cli.local import keys

    password = keys.private_key_password()
    if password is None and asking and onboarding.private_key_is_encrypted(path):
        return ask(_("Passphrase for the private key"), lambda pw: onboarding.check_private_key(path, pw), hide_input=True), True
    return onboarding.check_private_key(path, password), False


# Where a value came from, in words on a terminal (JSON keeps the recorded word).
SOURCES = {"file": N_("file"), "env": N_("env"), "flag": N_("flag"), "default": N_("default"), "sandbox": N_("sandbox")}


@config_group.command("show")
@output_options
@click.pass_obj
def show(app: App) -> None:
    """Show the resolved profile: each value and where it came from (file, env, flag).

    Keys appear as fingerprints and certificates as serials and expiry; key
    contents and the APIv3 key are never shown.
    """
    from wxpay_cli.flows import onboarding

    settings = onboarding.describe(app.profile())
    data: dict = {}
    for setting in settings:
        if setting.name == "platform_cert":
            data.setdefault("platform_certs", []).append(setting.to_dict())
        else:
            data[setting.name] = setting.to_dict()
    rows = [(setting.name, setting.shown(), _(SOURCES[setting.source]) if setting.source in SOURCES else setting.source)
            for setting in settings]
    app.render(View(data=data, rows=rows, columns=(_("setting"), _("value"), _("from")), title=_("Profile"), pretty_json=True))


@config_group.command("check")
@output_options
@click.pass_obj
def check(app: App) -> None:
    """Check the profile, then make one live signed call; exit 1 if any check fails.

    One row per check: key file private, key loads, key matches the merchant
    certificate, verification keys load and are current (warns under 30 days),
    GET /v3/certificates is accepted and verified, and the clock offset from
    WeChat's Date header. A SIGN_ERROR shows what WeChat signed and the likely causes.
    """
    from wxpay_cli.flows import checks

    report = checks.run(app.profile(), app.client_with)
    app.render(View(data=report.to_dict(), rows=[c.row for c in report.checks], columns=("", _("check"), _("result"), _("hint")),
                    title=_("Profile {name}").format(name=report.profile)))
    if report.failed:
        raise WxpayError(_("{failed} of {total} checks failed: {names}").format(
            failed=len(report.failed), total=len(report.checks), names=", ".join(c.name for c in report.failed)),
            code="CHECK_FAILED")


@config_group.command("example")
def example() -> None:
    """Print an example config file with every setting explained (save it, then edit).

    wxpay config example > ~/.config/wxpay/config.toml
    """
    from importlib.resources import files

    output.text(files("wxpay_cli.local").joinpath("config.example.toml").read_text(encoding="utf-8"))
