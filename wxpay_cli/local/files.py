"""Opening this machine's state files (audit log, replay memory, open terminations) safely.

A state file is opened only when it is a regular file reached without
following a symlink as the last path component (a symlinked home or state
folder is fine), never a FIFO or a device: a FIFO would block or swallow the
lines, a symlink could make wxpay write where its owner did not mean.
`UnsafeFile` (an OSError) says which, in the reader's language.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from wxpay_cli.i18n import _

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a reader or writer


class UnsafeFile(OSError):
    """The path is a symlink, a FIFO, a device or a folder: it is not used."""


def open_state_file(path: Path, flags: int, mode: int = 0o600) -> int:
    """os.open(path, flags | O_NOFOLLOW | O_NONBLOCK), then make sure it is a regular file."""
    try:
        fd = os.open(path, flags | NOFOLLOW | NONBLOCK | getattr(os, "O_CLOEXEC", 0), mode)
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


def reason(exc: OSError) -> str:
    """What went wrong, in words: the strerror, else the error itself."""
    return exc.strerror or str(exc)
