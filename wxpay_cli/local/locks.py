"""File locks between wxpay processes of this user, without ever waiting for ever.

`hold(fd, wait)` takes an exclusive lock on an open file, trying without
blocking and again every few milliseconds until `wait` seconds have passed;
then `LockBusy`. `try_hold(fd)` tries once; `release(fd)` lets go. Each open
file holds its own lock, and the system drops it when the process ends, so a
crash never leaves one behind:

- POSIX: `flock` on the whole file.
- Windows: `msvcrt.locking` of one byte at `WINDOWS_BYTE` (far past any
  content: Windows' byte-range locks are mandatory, and a lock on the content
  would stop other runs reading it). Windows drops it with the process too.
  The file's position is left where it was.

Where neither exists, `LocksUnavailable`: no lock is faked with a lock file,
because one left by a crashed run would either block every run or, removed
by guesswork, let two runs both send a termination; the replay memory then
checks within the run only, and a termination refuses (see local/nonces.py).
"""

from __future__ import annotations

import errno
import os
import time

from wxpay_cli.i18n import _

RETRY_EVERY = 0.01  # seconds between tries while another process holds the lock
WINDOWS_BYTE = 1 << 30  # where the Windows lock sits (SQLite's lock bytes sit there too)
_BUSY = {errno.EACCES, errno.EAGAIN, getattr(errno, "EDEADLK", errno.EACCES), getattr(errno, "EDEADLOCK", errno.EACCES)}


class LockBusy(OSError):
    """Another process held the lock for longer than the caller could wait."""


class LocksUnavailable(OSError):
    """No file locks on this system."""


def _system():
    """("flock", fcntl) or ("msvcrt", msvcrt): the first this system has."""
    try:
        import fcntl
    except ImportError:
        pass
    else:
        return "flock", fcntl
    try:
        import msvcrt
    except ImportError:
        raise LocksUnavailable(errno.ENOSYS, _("file locks are not available on this system")) from None
    return "msvcrt", msvcrt


def try_hold(fd: int) -> bool:
    """Take the exclusive lock now if it is free; False when another process holds it."""
    kind, module = _system()
    if kind == "flock":
        try:
            module.flock(fd, module.LOCK_EX | module.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    try:
        _at_lock_byte(fd, module.locking, module.LK_NBLCK)
    except OSError as exc:
        if exc.errno in _BUSY:  # the C runtime's answer when another open file holds the byte
            return False
        raise
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
    kind, module = _system()
    if kind == "flock":
        module.flock(fd, module.LOCK_UN)
    else:
        _at_lock_byte(fd, module.locking, module.LK_UNLCK)


def _at_lock_byte(fd: int, locking, mode: int) -> None:
    """msvcrt.locking works from the file's position: go to the lock byte, and back."""
    position = os.lseek(fd, 0, os.SEEK_CUR)
    os.lseek(fd, WINDOWS_BYTE, os.SEEK_SET)
    try:
        locking(fd, mode, 1)
    finally:
        os.lseek(fd, position, os.SEEK_SET)
