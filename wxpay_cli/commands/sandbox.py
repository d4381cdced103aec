"""`wxpay sandbox serve`: run the loopback emulator in the foreground for scripts to rehearse against."""

from __future__ import annotations

import click

from wxpay_cli import output
from wxpay_cli.i18n import _


@click.group("sandbox")
def sandbox_group() -> None:
    """The built-in loopback emulator of the WeChat Pay endpoints."""


@sandbox_group.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Port on 127.0.0.1 (0: any free port).")
@click.option("--mode", type=click.Choice(["public-key", "certificate"]), default="public-key", show_default=True,
              help="How the sandbox signs its answers.")
@click.option("--quiet", is_flag=True, help="Do not log each request on stderr.")
def serve(port: int, mode: str, quiet: bool) -> None:
    """Serve the sandbox on 127.0.0.1 until Ctrl-C.

    Prints a ready profile (TOML) on stdout; its keys and a config.toml are
    written to a temporary folder, so `WXPAY_CONFIG=<folder>/config.toml wxpay ...`
    works at once. Demo pupils: demo, demo-2, demo-terminated in demo-org.
    """
    import shutil
    import sys
    import tempfile
    from pathlib import Path

    import tomli_w

    from wxpay_cli.sandbox.profile import profile_table
    from wxpay_cli.sandbox.server import Sandbox, seed_demo

    try:
        sandbox = Sandbox(mode=mode.replace("-", "_"), port=port, log=None if quiet else output.info)
    except OSError as exc:
        raise click.UsageError(_("cannot listen on 127.0.0.1:{port}: {strerror}").format(port=port, strerror=exc.strerror)) from None
    seed_demo(sandbox)
    folder = Path(tempfile.mkdtemp(prefix="wxpay-sandbox-"))
    document = {"default_profile": "sandbox", "profiles": {"sandbox": profile_table(sandbox, folder / "keys")}}
    text = tomli_w.dumps(document)
    config = folder / "config.toml"
    config.write_text(text)
    config.chmod(0o600)
    sys.stdout.write(text)
    sys.stdout.flush()
    output.info(_("sandbox listening on {url}; profile written to {config}").format(url=sandbox.url, config=config))
    output.info(_("try: WXPAY_CONFIG={config} wxpay repayment-url --user demo --org demo-org").format(config=config))
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        output.info(_("sandbox stopped"))
    finally:
        sandbox.server.server_close()
        shutil.rmtree(folder, ignore_errors=True)
