"""`wxpay certs download`: fetch, decrypt and verify WeChat Pay platform certificates."""

from __future__ import annotations

import click

from wxpay_cli.app import App
from wxpay_cli.commands._click import Group
from wxpay_cli.commands._options import output_options
from wxpay_cli.i18n import _
from wxpay_cli.terminal import output, prompt, times
from wxpay_cli.terminal.output import View
from wxpay_cli.terminal.prompt import ask


@click.group("certs", cls=Group)
def certs_group() -> None:
    """WeChat Pay platform certificates (for certificate-mode merchants)."""


@certs_group.command("download")
@click.option("--output", "-o", "folder", required=True, metavar="DIR",
              type=click.Path(file_okay=False), help="Folder for the wechatpay_<SERIAL>.pem files (created if missing).")
@click.option("--save", is_flag=True, help="Add the files to the profile's platform_certs.")
@output_options
@click.pass_obj
def download(app: App, folder: str, save: bool) -> None:
    """Download the platform certificates, decrypt them with the APIv3 key, verify the answer.

    The APIv3 key comes from $WXPAY_APIV3_KEY, else apiv3_key in the profile,
    else a hidden prompt. Works with a profile that has no verification key yet.
    A wrong APIv3 key is an error (exit 3) and nothing is written.
    """

    from wxpay_cli.errors import ConfigError
    from wxpay_cli.flows import certificates, onboarding
    from wxpay_cli.local import config, credentials
    from wxpay_cli.wire.signing import Verifier

    profile = app.profile()
    if save and profile.config_path is None:
        raise ConfigError(_("--save needs a profile from a config file; this profile has none (--sandbox?)"))
    apiv3_key = _apiv3_key(profile)
    try:
        existing = credentials.verification_keys(profile)
    except ConfigError as exc:
        output.warn(_("{message}; verifying with the downloaded certificates only").format(message=exc.message))
        existing = []
    download = certificates.download_certificates(app.client_with(Verifier(existing) if existing else None), apiv3_key)

    target = config.expand(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
        paths = []
        for cert in download.certificates:
            paths.append(target / f"wechatpay_{cert.serial_no}.pem")
            paths[-1].write_bytes(cert.pem)
    except OSError as exc:
        raise ConfigError(_("cannot write certificates to {target}: {strerror}").format(target=target, strerror=exc.strerror)) from None
    if save:
        config.add_platform_certs(profile.config_path, profile.name, [onboarding.absolute(str(p)) for p in paths])

    records = [
        {"serial_no": cert.serial_no, "not_before": cert.certificate.not_before.isoformat(),
         "not_after": cert.certificate.not_after.isoformat(), "path": str(path)}
        for cert, path in zip(download.certificates, paths, strict=True)
    ]
    rows = [
        (cert.serial_no, times.local(cert.certificate.not_before), onboarding.validity(cert.certificate), str(path))
        for cert, path in zip(download.certificates, paths, strict=True)
    ]
    if save:
        output.info(_("added to profile {name!r} in {config_path}").format(name=profile.name, config_path=profile.config_path))
    app.render(View(data={"certificates": records, "saved_to_profile": profile.name if save else None},
                    rows=rows, columns=("serial_no", _("valid from"), _("valid"), _("file")), title=_("Platform certificates")))


def _apiv3_key(profile) -> str:
    """$WXPAY_APIV3_KEY, else the profile's apiv3_key, else a hidden prompt on a terminal."""
    import os

    from wxpay_cli.errors import ConfigError
    from wxpay_cli.flows.certificates import APIV3_KEY_ENV, check_apiv3_key
    from wxpay_cli.local import keys

    if os.environ.get(APIV3_KEY_ENV):
        return os.environ[APIV3_KEY_ENV]
    if profile.apiv3_key:
        if profile.config_path and keys.loose_permissions(profile.config_path):
            output.warn(_("{config_path} holds apiv3_key and is readable by other users; run: chmod 600 {config_path} (or use ${APIV3_KEY_ENV} instead)").format(config_path=profile.config_path, APIV3_KEY_ENV=APIV3_KEY_ENV))
        return profile.apiv3_key
    if prompt.interactive():
        return ask("APIv3 key", lambda value: check_apiv3_key(value) and value, hide_input=True)
    raise ConfigError(_("no APIv3 key to decrypt the certificates with"),
                      hint=_("set {APIV3_KEY_ENV}, or run on a terminal to be asked").format(APIV3_KEY_ENV=APIV3_KEY_ENV))
