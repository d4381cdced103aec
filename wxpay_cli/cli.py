"""The `wxpay` command line: global options, the command table, and the one
place where errors become messages and exit codes."""

from __future__ import annotations

import errno
import importlib
import os
import sys

import click

from wxpay_cli import __version__, i18n
from wxpay_cli.app import App
from wxpay_cli.commands._click import Group
from wxpay_cli.errors import (
    ExitStatus,
    InternalError,
    OutputFailed,
    SignalReceived,
    WxpayError,
    exit_for_signal,
)
from wxpay_cli.i18n import _
from wxpay_cli.terminal import output

# name -> "module:attribute". A command's module is imported only when that
# command runs (or --help lists them all), so `wxpay --version` and
# `wxpay repayment-url --help` load one module of commands, or none.
COMMANDS = {
    "repayment-url": "wxpay_cli.commands.repayment:repayment_url",
    "user": "wxpay_cli.commands.user:user_group",
    "contract": "wxpay_cli.commands.contract:contract_group",
    "handover": "wxpay_cli.commands.handover:handover",
    "audit": "wxpay_cli.commands.audit:audit",
    "cases": "wxpay_cli.commands.cases:cases_group",
    "org": "wxpay_cli.commands.org:org_group",
    "request": "wxpay_cli.commands.request:request",
    "config": "wxpay_cli.commands.config:config_group",
    "certs": "wxpay_cli.commands.certs:certs_group",
    "sandbox": "wxpay_cli.commands.sandbox:sandbox_group",
}


def complete_profiles(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion for --profile: the profile names in the config file (never an error)."""
    from wxpay_cli.local.config import known_profile_names

    return [name for name in known_profile_names(ctx.params.get("config_path")) if name.startswith(incomplete)]


class WxpayGroup(Group):
    """The top-level group: loads commands from COMMANDS on demand, and reports
    WxpayError and Ctrl-C with the documented exit codes."""

    def main(self, args=None, prog_name=None, **extra):
        # The language is chosen before click parses anything, so its usage
        # errors and every --help are already in it.
        argv = sys.argv[1:] if args is None else list(args)
        output.escape_what_cannot_be_shown()
        i18n.set_language(i18n.choose_language(i18n.lang_flag(argv)))
        i18n.localize_command(self)
        return super().main(args=argv, prog_name=prog_name, **extra)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.ClickException as exc:  # a bad global option, a missing command
            _report_click_error(exc)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name].split(":")
        command = getattr(importlib.import_module(module), attribute)
        i18n.localize_command(command)
        return command

    def invoke(self, ctx: click.Context):
        try:
            result = super().invoke(ctx)
            if sys.stdout is not None:
                sys.stdout.flush()  # a full disk or a closed pipe is met here, not at exit
            return result
        except WxpayError as exc:
            app = ctx.find_object(App)
            if app is not None and app.traceback:
                raise
            output.error(exc, as_json=bool(app and app.json_errors))
            ctx.exit(int(exc.exit_status))
        except (KeyboardInterrupt, click.Abort) as exc:
            # click turns a signal at a prompt into Abort: the handler noted which one it was.
            signum = getattr(exc, "signum", None) or (_signals_received[-1] if _signals_received else None)
            try:
                output.info(_("interrupted"))
            except OSError:  # SIGHUP: the terminal has gone (EIO); the exit code still says why
                pass
            ctx.exit(int(exit_for_signal(signum)))
        except OSError as exc:
            if not _output_failed(exc):
                self._last_net(ctx, exc)
            _output_failure(ctx, exc)
        except click.ClickException as exc:
            _report_click_error(exc)
        except click.exceptions.Exit:
            raise
        except Exception as exc:
            self._last_net(ctx, exc)

    @staticmethod
    def _last_net(ctx: click.Context, exc: Exception):
        """A bug must not reach the operator as a traceback: one line, exit 70."""
        app = ctx.find_object(App)
        if app is not None and app.traceback:
            raise exc
        error = internal_error(exc)
        output.error(error, as_json=bool(app and app.json_errors))
        ctx.exit(int(error.exit_status))


OUTPUT_ERRNOS = {errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EBADF, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _output_failed(exc: OSError) -> bool:
    """An OSError that reached the top is the output failing (pipes, disks, -o FILE that cannot
    be replaced); any other is a bug."""
    return isinstance(exc, BrokenPipeError | output.OutputFileError) or exc.errno in OUTPUT_ERRNOS


def _output_failure(ctx: click.Context, exc: OSError):
    """stdout failed. Later writes (and Python's own flush at exit) go to /dev/null instead.
    Once a termination was sent, stderr says which pupils, and the exit is 74; else a closed
    pipe (`| head`) ends quietly with 141, and a full disk is 74 too."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY | getattr(os, "O_BINARY", 0))
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a real file (tests), or was closed from the start
    termination = sys.modules.get("wxpay_cli.flows.termination")
    sent = termination.SENT.summary() if termination is not None else ""
    if not sent and isinstance(exc, BrokenPipeError):
        ctx.exit(int(ExitStatus.BROKEN_PIPE))
    reason = exc.strerror or type(exc).__name__
    if sent:
        message = _("output failed ({reason}); the outcome is in the audit log").format(reason=reason)
    else:  # a read-only command on a full disk: nothing to look up anywhere
        message = _("output failed ({reason})").format(reason=reason)
    app = ctx.find_object(App)
    try:
        output.error(OutputFailed(message + ": " + sent if sent else message), as_json=bool(app and app.json_errors))
    except OSError:
        pass  # stderr is gone too: the exit code still says it
    ctx.exit(int(ExitStatus.OUTPUT_FAILED))


def _report_click_error(exc: click.ClickException):
    """click's errors with wxpay's one `error: ...` line; `wxpay GROUP` alone still shows its help."""
    no_args = getattr(click.exceptions, "NoArgsIsHelpError", ())
    if isinstance(exc, no_args):
        exc.show()
    else:
        output.click_error(exc)
    raise click.exceptions.Exit(exc.exit_code)


def internal_error(exc: BaseException) -> InternalError:
    """One line for an unexpected exception: what failed and where, and how to see more."""
    import traceback

    from wxpay_cli.sanitise import for_terminal

    frames = traceback.extract_tb(exc.__traceback__)
    ours = [frame for frame in frames if "wxpay_cli" in frame.filename] or frames
    where = f" in {os.path.basename(ours[-1].filename)} line {ours[-1].lineno}" if ours else ""
    text = for_terminal(str(exc))
    text = text[:200] + "..." if len(text) > 200 else text
    return InternalError(
        _("unexpected error ({kind}{where}){text}: this is a bug in wxpay").format(
            kind=type(exc).__name__, where=where, text=f": {text}" if text else ""),
        hint=_("rerun with --traceback to see where, and report it"),
    )


@click.group(cls=WxpayGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="wxpay", message="%(prog)s %(version)s")
@click.option("--config", "config_path", metavar="PATH", help="Config file (default: $WXPAY_CONFIG, else the app dir's config.toml).")
@click.option("--profile", metavar="NAME", shell_complete=complete_profiles, help="Profile to use (default: $WXPAY_PROFILE, else default_profile, else the only one).")
@click.option("--sandbox", is_flag=True, help="Run against a built-in loopback sandbox with demo keys: no credentials needed.")
@click.option("-v", "--verbose", is_flag=True, help="Trace requests and responses on stderr (signatures redacted).")
@click.option("--traceback", is_flag=True, envvar="WXPAY_TRACEBACK", help="Show Python tracebacks for errors (debugging).")
@click.option("--lang", type=click.Choice(i18n.LANGUAGES), help="Language of messages and help: zh (Simplified Chinese) or en (default: $WXPAY_LANG, else the locale).")
@click.pass_context
def cli(ctx: click.Context, config_path, profile, sandbox, verbose, traceback, lang) -> None:
    """wxpay: WeChat Pay APIv3 tool for K12 face-payment service providers.

    Fetch a pupil's verified repayment link, forward it to the family, then
    terminate the face-payment contract so they can sign again.
    """
    app = ctx.ensure_object(App)
    app.config_flag, app.profile_flag = config_path, profile
    app.use_sandbox, app.verbose, app.traceback = sandbox, verbose, traceback
    ctx.call_on_close(app.close)



def _on_signal(signum, frame) -> None:
    """SIGTERM, SIGHUP and SIGQUIT (those of them this system has: terminal.signals) stop wxpay
    like Ctrl-C (a termination in flight is recorded first), then it exits 128 + the signal's
    number; the same signal again kills at once."""
    import signal

    signal.signal(signum, signal.SIG_DFL)
    _signals_received.append(signum)
    raise SignalReceived(signum)


_signals_received: list[int] = []  # the stopping signals that arrived, in order


def main() -> None:
    """Console-script entry point."""
    from wxpay_cli import collector
    from wxpay_cli.terminal import signals

    collector.starting()
    signals.catch(signals.stopping(), _on_signal)
    try:
        cli.main(prog_name="wxpay", obj=App())
    finally:
        collector.started()  # a caller in the same process (a test) gets the usual collector back
