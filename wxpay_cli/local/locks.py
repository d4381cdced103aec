"""File locks between wxpay processes of this user, without ever waiting for ever.

`hold(fd, wait)` takes an exclusive lock on an open file, trying without
blocking and again every few milliseconds until `wait` seconds have passed;
then `LockBusy`. `try_hold(fd)` tries once. Locks are `flock` locks: each
open file holds its own, and the kernel drops them when the process ends, so
a crash never leaves one behind. Where `fcntl` does not exist, `LocksUnavailable`.
"""

from __future__ import annotations

import errno
import time

from wxpay_cli.i18n import _

RETRY_EVERY = 0.01  # seconds between tries while another process holds the lock


class LockBusy(OSError):
    """Another process held the lock for longer than the caller could wait."""


class LocksUnavailable(OSError):
    """No file locks on this system."""


def _fcntl():
    try:
        import fcntl
    except ImportError:
        raise LocksUnavailable(errno.ENOSYS, _("file locks are not available on this system")) from None
    return fcntl


def try_hold(fd: int) -> bool:
    """Take the exclusive lock now if it is free; False when another process holds it."""
    fcntl = _fcntl()
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def hold(fd: int, wait: float) -> None:
    """Take the exclusive lock, waiting at most `wait` seconds (LockBusy after that)."""
    deadline = time.monotonic() + wait
    while not try_hold(fd):
        if time.monotonic() >= deadline:
            raise LockBusy(errno.EWOULDBLOCK, _("another wxpay process has held its lock for over {wait:g} s")
                           .format(wait=wait))
        time.sleep(RETRY_EVERY)


def release(fd: int) -> None:
    fcntl = _fcntl()
    fcntl.flock(fd, fcntl.LOCK_UN)
