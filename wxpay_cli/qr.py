"""QR codes for repayment links (segno: pure Python, PNG without Pillow)."""

from __future__ import annotations

import io
from pathlib import Path


def terminal_text(link: str) -> str:
    """The link as a QR code drawn with Unicode half blocks, for a terminal."""
    import segno

    buffer = io.StringIO()
    segno.make(link, error="m").terminal(out=buffer, compact=True, border=2)
    return buffer.getvalue().rstrip("\n")


def save_png(link: str, path: Path) -> None:
    """Write the QR code as a PNG; OSError when the file cannot be written."""
    import segno

    segno.make(link, error="m").save(str(path), kind="png", scale=8, border=4)
