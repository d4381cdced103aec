"""The garbage collector is eased only while wxpay starts: every command, above all
a long batch, runs with the usual one (see wxpay_cli/collector.py)."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys

import pytest

from wxpay_cli import cli as cli_module
from wxpay_cli import collector
from wxpay_cli.app import App


@pytest.fixture(autouse=True)
def usual_collector():
    """Each test starts with the usual collector, and leaves the process as it found it
    (main and `sandbox serve` also install signal handlers: the test process gets its own back)."""
    usual = gc.get_threshold()
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGHUP)}
    yield usual
    for number, handler in handlers.items():
        signal.signal(number, handler)
    collector._usual = None
    gc.set_threshold(*usual)
    gc.unfreeze()


def test_start_up_collects_rarely_then_as_usual(usual_collector):
    collector.starting()
    assert gc.isenabled() and gc.get_threshold() == collector.STARTING_THRESHOLDS
    collector.starting()  # a second call does not lose the usual thresholds
    collector.started()
    assert gc.get_threshold() == usual_collector
    assert gc.get_freeze_count() > 1000  # what start-up made is set aside
    collector.started()  # and a second end changes nothing
    assert gc.get_threshold() == usual_collector


def test_building_a_client_ends_start_up(sandbox, configure, usual_collector):
    configure(sandbox)
    collector.starting()
    app = App()
    try:
        app.client()
        assert gc.get_threshold() == usual_collector
    finally:
        app.close()


def test_a_batch_runs_with_the_usual_collector(sandbox, configure, usual_collector):
    configure(sandbox)
    collector.starting()
    app = App()

    async def build():
        client = app.async_client(concurrency=2, rate=None)
        await client.aclose()

    try:
        asyncio.run(build())
        assert gc.get_threshold() == usual_collector
    finally:
        app.close()


@pytest.mark.parametrize("argv", [["--version"], ["repayment-url", "--user", ""], ["config", "show"]])
def test_every_command_ends_with_the_usual_collector(monkeypatch, argv, usual_collector):
    """Even a command that builds no client, or fails, hands the usual collector back."""
    monkeypatch.setattr(sys, "argv", ["wxpay", *argv])
    with pytest.raises(SystemExit):
        cli_module.main()
    assert gc.isenabled() and gc.get_threshold() == usual_collector



def test_the_sandbox_serves_with_the_usual_collector(monkeypatch, tmp_path, usual_collector):
    """`sandbox serve` builds no client and may run for hours under a rehearsal batch:
    it serves with the usual collector, not start-up's."""
    from wxpay_cli.sandbox.server import Sandbox

    serving_with = []

    def serve_forever(self):
        serving_with.append(gc.get_threshold())
        raise KeyboardInterrupt  # as Ctrl-C would

    monkeypatch.setattr(Sandbox, "serve_forever", serve_forever)
    monkeypatch.setattr(sys, "argv", ["wxpay", "sandbox", "serve", "--quiet", "--state", str(tmp_path / "box")])
    with pytest.raises(SystemExit):
        cli_module.main()
    assert serving_with == [usual_collector]
