"""The `wxpay` command line: global options, command registration, and the one
place where errors become messages and exit codes."""

from __future__ import annotations

import os
import sys

import click

from wxpay_cli import __version__, output
from wxpay_cli.app import App
from wxpay_cli.commands.audit_cmd import audit
from wxpay_cli.commands.certs import certs_group
from wxpay_cli.commands.config_cmd import config_group
from wxpay_cli.commands.contract import contract_group
from wxpay_cli.commands.handover import handover
from wxpay_cli.commands.repayment import repayment_url
from wxpay_cli.commands.request_cmd import request
from wxpay_cli.commands.sandbox import sandbox_group
from wxpay_cli.commands.user import user_group
from wxpay_cli.errors import ExitStatus, WxpayError


def complete_profiles(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion for --profile: the profile names in the config file (never an error)."""
    from wxpay_cli.config import known_profile_names

    return [name for name in known_profile_names(ctx.params.get("config_path")) if name.startswith(incomplete)]


class WxpayGroup(click.Group):
    """A click group that reports WxpayError and Ctrl-C with the documented exit codes."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except WxpayError as exc:
            app = ctx.find_object(App)
            if app is not None and app.traceback:
                raise
            output.error(exc, as_json=bool(app and app.json_errors))
            ctx.exit(int(exc.exit_status))
        except (KeyboardInterrupt, click.Abort):
            output.info("interrupted")
            ctx.exit(int(ExitStatus.INTERRUPTED))


@click.group(cls=WxpayGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="wxpay", message="%(prog)s %(version)s")
@click.option("--config", "config_path", metavar="PATH", help="Config file (default: $WXPAY_CONFIG, else the app dir's config.toml).")
@click.option("--profile", metavar="NAME", shell_complete=complete_profiles, help="Profile to use (default: $WXPAY_PROFILE, else default_profile, else the only one).")
@click.option("--sandbox", is_flag=True, help="Run against a built-in loopback sandbox with demo keys: no credentials needed.")
@click.option("-v", "--verbose", is_flag=True, help="Trace requests and responses on stderr (signatures redacted).")
@click.option("--traceback", is_flag=True, envvar="WXPAY_TRACEBACK", help="Show Python tracebacks for errors (debugging).")
@click.pass_context
def cli(ctx: click.Context, config_path, profile, sandbox, verbose, traceback) -> None:
    """wxpay: WeChat Pay APIv3 tool for K12 face-payment service providers.

    Fetch a pupil's verified repayment link, forward it to the family, then
    terminate the face-payment contract so they can sign again.
    """
    app = ctx.ensure_object(App)
    app.config_flag, app.profile_flag = config_path, profile
    app.use_sandbox, app.verbose, app.traceback = sandbox, verbose, traceback
    ctx.call_on_close(app.close)


cli.add_command(repayment_url)
cli.add_command(sandbox_group)
cli.add_command(user_group)
cli.add_command(contract_group)
cli.add_command(handover)
cli.add_command(audit)
cli.add_command(request)
cli.add_command(config_group)
cli.add_command(certs_group)


def main() -> None:
    """Console-script entry point."""
    try:
        cli.main(prog_name="wxpay", obj=App())
    except BrokenPipeError:
        # The reader went away (`| head`): end quietly, as 128 + SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(141)
