"""`wxpay sandbox serve`: run the loopback emulator in the foreground for scripts to rehearse against."""

from __future__ import annotations

import click

from wxpay_cli import collector
from wxpay_cli.commands._click import FloatRange, Group, IntRange
from wxpay_cli.i18n import _
from wxpay_cli.terminal import output, signals

RESIGN_AFTER_MAX = 30 * 86400  # seconds: a month


def finite_seconds(ctx: click.Context, param: click.Parameter, value):
    import math

    if value is not None and not math.isfinite(value):
        raise click.BadParameter(_("must be a finite number of seconds"))
    return value


@click.group("sandbox", cls=Group)
def sandbox_group() -> None:
    """The built-in loopback emulator of the WeChat Pay endpoints."""


@sandbox_group.command("serve")
@click.option("--port", type=IntRange(0, 65535), default=0, show_default=True, metavar="PORT",
              help="Port on 127.0.0.1 (0: any free port; with --state, the port used last time).")
@click.option("--mode", type=click.Choice(["public-key", "certificate"]), default="public-key", show_default=True,
              help="How the sandbox signs its answers.")
@click.option("--state", "state_dir", metavar="DIR", type=click.Path(file_okay=False),
              help="Keep keys, pupils and contract states in DIR across restarts.")
@click.option("--pupils", "pupils_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Pupils from a CSV file (out_user_id,organization_id,name,class,contract_state, and optionally "
                   "termination: empty, or `unanswered` for a pupil whose termination is received but never "
                   "answered) instead of the demo roster.")
@click.option("--resign-after", type=FloatRange(0, RESIGN_AFTER_MAX, min_open=True), metavar="SECONDS",
              callback=finite_seconds,
              help="A pupil whose contract a termination request ended signs again (CONTRACTED, under a new "
                   "contract_id) this many seconds later (up to 30 days). Default: never. Pupils terminated in "
                   "the roster never sign again.")
@click.option("--unanswered-delay", type=FloatRange(0, 60), default=3.0, show_default=True, metavar="SECONDS",
              callback=finite_seconds,
              help="Seconds after an unanswered termination (see --pupils) until it takes effect: until then "
                   "queries still say CONTRACTED.")
@click.option("--zero-serials", is_flag=True,
              help="Make keys whose certificate serials start with 0 (0A1B…, as about one WeChat certificate "
                   "in sixteen does), to rehearse that case.")
@click.option("--quiet", is_flag=True, help="Do not log each request on stderr.")
def serve(port: int, mode: str, state_dir: str | None, pupils_file: str | None, resign_after: float | None,
          unanswered_delay: float, zero_serials: bool, quiet: bool) -> None:
    """Serve the sandbox on 127.0.0.1 until Ctrl-C, SIGTERM or SIGHUP.

    Prints a ready profile (TOML) on stdout and writes it, with its keys, a
    throwaway APIv3 key and its own audit log, to a temporary folder (removed
    when the sandbox stops), so `WXPAY_CONFIG=<folder>/config.toml wxpay ...`
    works at once. With --state DIR, everything is kept in DIR instead.
    Demo pupils: demo, demo-2, demo-terminated, demo-unanswered (its
    termination is never answered) and 20230001-20230300 in demo-org;
    20240101-20240160 in 1234567.

    To rehearse a case's whole life: a termination of demo-unanswered ends
    `unknown` (the connection is closed without an answer; it takes effect
    --unanswered-delay seconds later), and with --resign-after a terminated
    pupil signs again, so `wxpay cases --refresh` has something to find.
    """
    import signal
    from pathlib import Path

    import tomli_w

    from wxpay_cli.sandbox.home import HomeError, SandboxHome
    from wxpay_cli.sandbox.profile import profile_table
    from wxpay_cli.sandbox.roster import RosterError, load_csv
    from wxpay_cli.sandbox.server import Sandbox, seed_demo

    def stop(signum, frame):
        raise KeyboardInterrupt

    # Installed first: a kill between the folder's creation and serving must remove it too.
    stopping = signals.stopping(("SIGTERM", "SIGHUP"))
    signals.catch(stopping, stop)
    home = None
    sandbox = None
    try:
        try:
            home = SandboxHome(Path(state_dir) if state_dir else None)
            saved = home.saved()
            keys = home.keys(zero_serials=zero_serials)
        except HomeError as exc:
            raise click.UsageError(str(exc)) from None
        if port == 0 and saved and isinstance(saved.get("port"), int):
            port = saved["port"]  # the profile made last time names this port
        try:
            sandbox = Sandbox(keys, mode=mode.replace("-", "_"), port=port, log=None if quiet else output.info)
        except OSError as exc:
            raise click.UsageError(_("cannot listen on 127.0.0.1:{port}: {reason}").format(
                port=port, reason=exc.strerror)) from None
        sandbox.state.resign_after = resign_after
        sandbox.state.unanswered_delay = unanswered_delay
        if saved:
            try:
                sandbox.state.restore(saved)
            except ValueError as exc:
                raise click.UsageError(str(exc)) from None
        elif not pupils_file:
            seed_demo(sandbox)
        if pupils_file:
            try:
                count = load_csv(sandbox, Path(pupils_file))
            except RosterError as exc:
                raise click.UsageError(str(exc)) from None
            output.info(_("{count} pupils loaded from {file}").format(count=count, file=pupils_file))
        actual_port = sandbox.server.server_address[1]
        sandbox.state.on_change = lambda: home.save(sandbox.state.snapshot(), actual_port, sandbox.state.mode)
        sandbox.state.changed()
        table = profile_table(sandbox, home.folder / "keys", apiv3_key=True, audit_log=home.audit_log)
        text = tomli_w.dumps({"default_profile": "sandbox", "profiles": {"sandbox": table}})
        if home.keep and home.config.exists():
            # Kept as the operator left it (`certs download --save` may have added to it).
            text = home.config.read_text(encoding="utf-8")
            if saved and saved.get("mode") not in (None, sandbox.state.mode):
                output.warn(_("{config} was written for --mode {old}; answers are now signed in --mode {new}, "
                              "so its profile may not verify them").format(
                    config=home.config, old=str(saved["mode"]).replace("_", "-"), new=mode))
        else:
            home.write_config(text)
        output.text(text)
        output.info(_("sandbox listening on {url}; profile written to {config}").format(url=sandbox.url, config=home.config))
        output.info(_("try: WXPAY_CONFIG={config} wxpay repayment-url --user demo --org demo-org").format(config=home.config))
        output.info(_("stop it with Ctrl-C, or `kill {pid}`").format(pid=_pid()))
        collector.started()  # it may serve for hours: collected as usual
        sandbox.serve_forever()
    except KeyboardInterrupt:
        output.info(_("sandbox stopped"))
    finally:
        signals.catch(stopping, signal.SIG_IGN)  # a second signal during clean-up must not interrupt it
        if sandbox is not None:
            sandbox.server.server_close()
        if home is not None:
            home.close()


def _pid() -> int:
    import os

    return os.getpid()
