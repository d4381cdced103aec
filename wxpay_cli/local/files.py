"""Opening this machine's state files (audit log, replay memory, open terminations) safely.

A state file is opened only when it is a regular file reached without
following a symlink as the last path component (a symlinked home or state
folder is fine), never a FIFO or a device: a FIFO would block or swallow the
lines, a symlink could make wxpay write where its owner did not mean.
`UnsafeFile` (an OSError) says which, in the reader's language.

What POSIX has and Windows lacks is here, each with its fallback: `pread` and
`pwrite` (Windows: a seek, then a read or a write, on a descriptor only this
run uses), `O_NOFOLLOW` and `O_NONBLOCK` (absent there), `O_BINARY`
(Windows only: without it a descriptor translates line ends, and offsets and
byte counts stop matching the file), and whether an append is atomic.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from wxpay_cli.i18n import _

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a reader or writer
BINARY = getattr(os, "O_BINARY", 0)
# POSIX appends to an O_APPEND file in one step; Windows' C runtime seeks to the end, then
# writes, so two processes appending at once can write over each other's line.
APPEND_IS_ATOMIC = os.name != "nt"


class UnsafeFile(OSError):
    """The path is a symlink, a FIFO, a device or a folder: it is not used."""


def open_state_file(path: Path, flags: int, mode: int = 0o600) -> int:
    """os.open(path, flags | O_NOFOLLOW | O_NONBLOCK), then make sure it is a regular file."""
    try:
        fd = os.open(path, flags | NOFOLLOW | NONBLOCK | BINARY | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK) and os.path.islink(path):  # EMLINK: the BSDs
            raise UnsafeFile(exc.errno, _("it is a symlink, which is not followed")) from None
        if exc.errno == errno.EISDIR:
            raise UnsafeFile(exc.errno, _("it is a folder, not a regular file")) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafeFile(errno.EINVAL, _("it is not a regular file (a FIFO or a device)"))
    if NONBLOCK:
        os.set_blocking(fd, True)
    return fd


def pread(fd: int, size: int, offset: int) -> bytes:
    """Up to `size` bytes from `offset`, as os.pread (Windows: seek, then read)."""
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, size)


def pwrite(fd: int, data: bytes, offset: int) -> int:
    """Write `data` at `offset`, as os.pwrite (Windows: seek, then write)."""
    if hasattr(os, "pwrite"):
        return os.pwrite(fd, data, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.write(fd, data)


def reason(exc: OSError) -> str:
    """What went wrong, in words: the strerror, else the error itself."""
    return exc.strerror or str(exc)
