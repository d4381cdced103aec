"""QR codes for repayment links (segno: pure Python, PNG without Pillow)."""

from __future__ import annotations

import io
from pathlib import Path

from wxpay_cli.errors import WxpayError
from wxpay_cli.i18n import _


class LinkTooLong(WxpayError):
    """The link holds more than the largest QR code can (about 2,300 bytes)."""

    code = "QR_TOO_LONG"


def _make(link: str):
    import segno

    try:
        return segno.make(link, error="m")
    except segno.DataOverflowError:
        raise LinkTooLong(
            _("the link is too long for a QR code ({count} characters)").format(count=len(link)),
            hint=_("forward the link itself"),
        ) from None


def terminal_text(link: str) -> str:
    """The link as a QR code drawn with Unicode half blocks, for a terminal; LinkTooLong if it cannot be."""
    buffer = io.StringIO()
    _make(link).terminal(out=buffer, compact=True, border=2)
    return buffer.getvalue().rstrip("\n")


def save_png(link: str, path: Path) -> None:
    """Write the QR code as a PNG; OSError when the file cannot be written, LinkTooLong when no QR code can hold it."""
    import os
    import stat

    code = _make(link)
    # Never through a symlink, never into a FIFO or a device (checked again here: the
    # command's check ran before the link was fetched).
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_BINARY", 0)  # Windows: else every 0x0A byte of the PNG gains a 0x0D
    descriptor = os.open(path, flags, 0o644)
    with os.fdopen(descriptor, "wb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(22, _("not a regular file"))  # EINVAL
        handle.truncate()
        code.save(handle, kind="png", scale=8, border=4)
