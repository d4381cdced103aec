"""The audit log: one JSON line per repayment link fetched and per termination step.

The profile's `audit_log`, else `$XDG_STATE_HOME/wxpay/audit.jsonl` (default
`~/.local/state/wxpay/audit.jsonl`); `--sandbox` uses a throwaway one. Folder
mode 700, file mode 600, opened only as a regular file and never through a symlink
(local.files); each line is fsynced (in a batch, in groups: see
`AuditLog`) before what it records is shown or sent. A record holds
only the fields in `FIELDS`: never a key, a signature or a link (a pupil's name
and class, when wxpay knew them: the log is the operator's private file). Every
record says who: `operator` (the profile's, else the login name) and `host`.
`scan` reads it from a byte offset on, for the index of cases (local/case_index.py).
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from wxpay_cli.errors import AuditLogError
from wxpay_cli.i18n import _, english_data
from wxpay_cli.local import files, locks
from wxpay_cli.local.files import open_state_file, pread, reason

FIELDS = (
    "time", "operator", "host", "profile", "mchid", "operation", "organization_id", "out_user_id", "user_id",
    "contract_id", "outcome", "http_status", "request_id", "error",
    # What a case needs (flows/cases.py): a link's expiry, the pupil's name and class when wxpay
    # already knew them, the contract state an observation saw. Older records lack them.
    "expire_at", "user_name", "class_name", "contract_state",
)
MAX_WHO_LENGTH = 64
LOCK_WAIT = 2.0  # seconds another run's append is waited for, where appends take the lock (Windows)


def login_name() -> str:
    """Who is logged in (getpass: $LOGNAME, $USER, ..., then the password database), never an error."""
    import getpass

    try:
        name = getpass.getuser()
    except Exception:  # no such variables and no passwd entry (containers): say what is known
        name = ""
    if not name and hasattr(os, "getuid"):
        name = f"uid {os.getuid()}"
    return name[:MAX_WHO_LENGTH] or "unknown"


def host_name() -> str:
    import socket

    try:
        return socket.gethostname()[:MAX_WHO_LENGTH] or "unknown"
    except OSError:
        return "unknown"


def default_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "wxpay" / "audit.jsonl"


class AuditLog:
    """Single mode: each `append` opens the file, writes, fsyncs and closes.

    Batch mode (`held_open`): one open file for the whole run; `append` writes
    at once and `commit` makes every line written so far durable, one fsync (in
    a worker thread) serving all the rows that wait for it (group commit). A
    row awaits `commit` before its output line is written; `sync_now=True`
    (a termination's `attempted` line) fsyncs before `append` returns, as in
    single mode, so the line is durable before the POST.
    """

    def __init__(self, path: Path | None = None):
        self.path = path or default_path()
        self._fd: int | None = None  # the file held open by held_open()
        self._written = 0  # lines written while held
        self._synced = 0  # of those, lines known durable
        self._syncing = None  # the fsync in flight (an asyncio task), shared by every waiter
        self.unreadable: list[int] = []  # line numbers `records()` could not read

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            return open_state_file(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT)  # no symlink, no FIFO
        except OSError as exc:
            raise AuditLogError(
                _("cannot write the audit log {path}: {strerror}").format(path=self.path, strerror=reason(exc)),
                hint=_("fix the folder's permissions or set XDG_STATE_HOME"),
            ) from None

    def _write(self, fd: int, line: bytes) -> None:
        """Append `line` whole: after a torn tail (a line cut short by a crash or a full
        disk) it starts on a new line, and a short write is followed by the rest. Where an
        append is not atomic (Windows), under the file's lock: other runs append too."""
        if files.APPEND_IS_ATOMIC:
            self._append(fd, line)
            return
        locks.hold(fd, LOCK_WAIT)
        try:
            self._append(fd, line)
        finally:
            locks.release(fd)

    def _append(self, fd: int, line: bytes) -> None:
        size = os.fstat(fd).st_size
        if size and pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        view = memoryview(line)
        while view:
            written = os.write(fd, view)
            if written <= 0:
                raise OSError(errno.EIO, _("the audit line could not be written whole"))
            view = view[written:]

    def _failed(self, exc: OSError) -> AuditLogError:
        return AuditLogError(_("cannot write the audit log {path}: {reason}").format(
            path=self.path, reason=exc.strerror or exc))

    def check_writable(self) -> None:
        """Raise AuditLogError now, before anything irreversible is sent, if a line could not be written."""
        os.close(self._open())

    @contextmanager
    def held_open(self):
        """Keep the file open for a batch (see the class docstring). If it cannot be
        opened, appends go the single-mode way and fail (and are reported) one by one."""
        try:
            fd = self._open()
        except AuditLogError:
            yield self
            return
        self._fd, self._written, self._synced = fd, 0, 0
        try:
            yield self
        finally:
            self._fd = None
            try:
                os.fsync(fd)  # rows cut short (Ctrl-C, a fatal row) never reached their commit
            except OSError:
                pass  # each finished row's commit already reported its own failure
            finally:
                os.close(fd)

    async def commit(self) -> None:
        """Return once every line written so far is on disk; AuditLogError if fsync fails."""
        import asyncio

        target = self._written
        while self._fd is not None and self._synced < target:
            if self._syncing is None:
                self._syncing = asyncio.ensure_future(self._fsync())
            await asyncio.shield(self._syncing)

    async def _fsync(self) -> None:
        import asyncio

        covered = self._written  # lines written before this fsync starts
        try:
            await asyncio.get_running_loop().run_in_executor(None, os.fsync, self._fd)
        except OSError as exc:
            raise self._failed(exc) from None
        finally:
            self._syncing = None
        self._synced = max(self._synced, covered)

    def append(self, *, sync_now: bool = False, **fields: object) -> dict:
        """Write one record (unknown fields are a programming error) and fsync it
        (held open: fsync now only with `sync_now`, else at the next `commit`)."""
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise ValueError(f"not an audit field: {sorted(unknown)}")
        record = {"time": datetime.now().astimezone().isoformat(timespec="seconds")}
        record.update({key: fields.get(key) for key in FIELDS if key != "time"})
        # Who: the profile's `operator` when the caller passes it, else the login name.
        record["operator"] = record["operator"] or login_name()
        record["host"] = record["host"] or host_name()
        line = (json.dumps(english_data(record), ensure_ascii=False) + "\n").encode()
        if self._fd is not None:
            try:
                self._write(self._fd, line)
                self._written += 1
                if sync_now:
                    os.fsync(self._fd)
                    self._synced = self._written
            except OSError as exc:
                raise self._failed(exc) from None
            return record
        fd = self._open()
        try:
            self._write(fd, line)
            os.fsync(fd)
        except OSError as exc:
            raise self._failed(exc) from None
        finally:
            os.close(fd)
        return record

    def records(self) -> Iterator[dict]:
        """Every well-formed record, oldest first. A damaged line (torn, not UTF-8, not
        a JSON object) is not fatal: its line number is added to `self.unreadable`."""
        self.unreadable: list[int] = []
        try:
            handle = os.fdopen(open_state_file(self.path, os.O_RDONLY), "rb")
        except FileNotFoundError:
            return
        except OSError as exc:
            raise AuditLogError(_("cannot read the audit log {path}: {reason}").format(
                path=self.path, reason=reason(exc))) from None
        with handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line.decode("utf-8"))
                except (UnicodeDecodeError, ValueError, RecursionError):
                    record = None
                if isinstance(record, dict):
                    yield record
                else:
                    self.unreadable.append(number)


READ_BLOCK = 1 << 22  # bytes `scan` reads at a time


class Scan:
    """`AuditLog.scan`'s reading of the log from a byte offset: `records()` yields (line number,
    record or None for a damaged line) for every whole line (ending in a newline); afterwards
    `offset` and `line` are where those lines end, and `tail` is what follows the last newline
    (a line cut short, or still being written), with `tail_line` its number. `identity` is the
    file's (device, inode); `size` its length when opened."""

    def __init__(self, handle, offset: int, line: int, identity: tuple[int, int], size: int):
        self._handle = handle
        self.offset = offset
        self.line = line
        self.identity = identity
        self.size = size
        self.tail = b""
        self.tail_line = line + 1

    def records(self) -> Iterator[tuple[int, dict | None]]:
        loads = json.loads
        handle = self._handle
        handle.seek(self.offset)
        rest = b""
        number = self.line
        with handle:
            while True:
                block = handle.read(READ_BLOCK)
                if not block:
                    break
                if rest:
                    block = rest + block
                cut = block.rfind(b"\n") + 1
                rest = block[cut:]
                if not cut:
                    continue
                lines = block[:cut].split(b"\n")
                lines.pop()  # what follows the last newline: nothing
                for raw in lines:
                    number += 1
                    if not raw.strip():
                        continue
                    try:
                        record = loads(raw)
                    except (UnicodeDecodeError, ValueError, RecursionError):
                        record = None
                    yield number, (record if isinstance(record, dict) else None)
                self.offset += cut
                self.line = number
        self.tail = rest
        self.tail_line = number + 1

    def tail_record(self) -> dict | None:
        """The unterminated last line as a record (None: damaged, or nothing there)."""
        try:
            record = json.loads(self.tail)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None
        return record if isinstance(record, dict) else None


def scan(path: Path, offset: int = 0, line: int = 0) -> Scan | None:
    """The log at `path` to read from byte `offset` (`line` lines precede it), or None when there
    is no log yet. AuditLogError when it cannot be read (a symlink, a FIFO, no permission)."""
    try:
        fd = open_state_file(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditLogError(_("cannot read the audit log {path}: {reason}").format(
            path=path, reason=reason(exc))) from None
    status = os.fstat(fd)
    return Scan(os.fdopen(fd, "rb"), offset, line, (status.st_dev, status.st_ino), status.st_size)
