"""The index of cases kept beside the audit log, so `wxpay cases` reads only what is new.

`audit.jsonl.cases` (mode 600, in the log's folder) holds what flows/cases.py
folded from the log so far (one small object per pupil), with where that
reading stopped: the log's identity (device, inode), the byte offset and line
number of the last whole line read, the bytes just before that offset, and
the damaged lines met. The next run reads the log from there on.

The index is never trusted more than the log: it is set aside, and the log
read from its start, when it is missing, unreadable, too large, of another
version or kind, when the log is shorter than the offset, has another inode
or device (replaced, rotated), or no longer has the same bytes before the
offset (rewritten in place). When the index cannot be written, nothing fails:
the next run only reads the whole log again.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from wxpay_cli.local.files import open_state_file, pread

VERSION = 1
MAX_INDEX = 256 << 20  # bytes: an index larger than this is not one wxpay wrote
FINGERPRINT = 64  # bytes before the offset kept to notice a log rewritten in place
HEAD = 4096  # bytes at the log's start whose digest is kept, for the same reason
MAX_DAMAGED = 20  # damaged line numbers kept (the count goes on)


def index_path(log: Path) -> Path:
    return log.with_name(log.name + ".cases")


@dataclass
class Saved:
    """Where the last reading of the log stopped, and what it had folded."""

    offset: int = 0
    line: int = 0
    damaged: list[int] = field(default_factory=list)  # the first MAX_DAMAGED damaged lines
    damaged_count: int = 0
    state: dict = field(default_factory=dict)


def load(log: Path, kind: str, identity: tuple[int, int], size: int) -> Saved | None:
    """The index for the log `log` (device and inode `identity`, `size` bytes now), if it can be
    trusted and was folded by `kind` (the fold's name and version); else None."""
    path = index_path(log)
    try:
        fd = open_state_file(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if os.fstat(fd).st_size > MAX_INDEX:
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    finally:
        os.close(fd)
    try:
        if data["version"] != VERSION or data["kind"] != kind:
            return None
        if [data["device"], data["inode"]] != list(identity):
            return None
        offset, line = data["offset"], data["line"]
        if not (isinstance(offset, int) and isinstance(line, int) and 0 <= offset <= size and line >= 0):
            return None
        if _before(log, offset) != data["before"]:
            return None
        damaged = [number for number in data["damaged"] if isinstance(number, int)][:MAX_DAMAGED]
        count, state = data["damaged_count"], data["state"]
        if not isinstance(count, int) or not isinstance(state, dict):
            return None
    except (KeyError, TypeError):
        return None
    return Saved(offset=offset, line=line, damaged=damaged, damaged_count=count, state=state)


def save(log: Path, kind: str, identity: tuple[int, int], saved: Saved) -> bool:
    """Write the index for `log` whole (a new file that takes the index's name), mode 600;
    False when it could not be (the next run reads the log from its start)."""
    path = index_path(log)
    before = _before(log, saved.offset)
    if before is None:
        return False
    document = {"version": VERSION, "kind": kind, "device": identity[0], "inode": identity[1],
                "offset": saved.offset, "line": saved.line, "before": before,
                "damaged": saved.damaged[:MAX_DAMAGED], "damaged_count": saved.damaged_count, "state": saved.state}
    data = json.dumps(document, separators=(",", ":")).encode("ascii")  # any text, even half a pair
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = open_state_file(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except OSError:
        return False
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return False
    return True


def _before(log: Path, offset: int) -> str | None:
    """What the index remembers of the log's first `offset` bytes: a digest of their start and
    the bytes just before `offset` ('' at 0); None when they cannot be read."""
    if offset == 0:
        return ""
    import hashlib

    start = max(0, offset - FINGERPRINT)
    head = min(offset, HEAD)
    try:
        fd = open_state_file(log, os.O_RDONLY)
    except OSError:
        return None
    try:
        data, first = pread(fd, offset - start, start), pread(fd, head, 0)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) != offset - start or len(first) != head:
        return None
    return hashlib.sha256(first).hexdigest()[:32] + ":" + data.hex()
