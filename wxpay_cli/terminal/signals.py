"""The signals that stop wxpay, wherever it runs: the one place that knows what each system has.

SIGTERM (timeout, systemd, docker), SIGHUP (a lost ssh session) and SIGQUIT
(Ctrl-\\) stop wxpay the way Ctrl-C (SIGINT) does. Windows has no SIGHUP or
SIGQUIT, and its asyncio event loops take no signal handlers
(`add_signal_handler` raises NotImplementedError): there a plain `signal.signal`
handler hands the signal to the loop instead, so a batch still finishes the
rows in flight (a termination's POST among them) before it stops.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

STOPPING = ("SIGTERM", "SIGHUP", "SIGQUIT")


def stopping(names: tuple[str, ...] = STOPPING) -> list[int]:
    """The numbers of the signals named that this system has."""
    return [getattr(signal, name) for name in names if hasattr(signal, name)]


def catch(numbers: list[int], handler) -> None:
    """`signal.signal(number, handler)` for each number it can be set for here (the main thread only)."""
    for number in numbers:
        try:
            signal.signal(number, handler)
        except (ValueError, OSError):  # not the main thread; a signal this system will not catch
            pass


def on_loop(loop, callback: Callable[[int | None], None]) -> Callable[[], None]:
    """From now on, Ctrl-C calls `callback(None)` and each STOPPING signal `callback(number)`,
    on `loop`. Returns the function that puts every handler back as it was (wxpay's own, from
    cli.main)."""
    wanted = [(signal.SIGINT, None)] + [(number, number) for number in stopping()]
    previous = {}
    for number, reported in wanted:
        try:
            previous[number] = signal.getsignal(number)
            loop.add_signal_handler(number, callback, reported)
        except NotImplementedError:  # Windows: the handler runs between bytecodes, the loop does the work
            try:
                signal.signal(number, _handing_to(loop, callback, reported))
            except (ValueError, OSError):
                previous.pop(number)
        except (RuntimeError, ValueError, OSError):
            previous.pop(number, None)  # not the main thread: the signal keeps its handler

    def restore() -> None:
        for number, handler in previous.items():
            try:
                loop.remove_signal_handler(number)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
            try:
                signal.signal(number, handler)
            except (ValueError, OSError, TypeError):
                pass

    return restore


def end_by(loop, number: int) -> None:
    """The same signal a second time: end the process as that signal does, at once."""
    try:
        loop.remove_signal_handler(number)
    except (NotImplementedError, RuntimeError, ValueError):
        pass
    signal.signal(number, signal.SIG_DFL)
    os.kill(os.getpid(), number)


def _handing_to(loop, callback, reported):
    def handler(signum, frame) -> None:
        loop.call_soon_threadsafe(callback, reported)

    return handler
