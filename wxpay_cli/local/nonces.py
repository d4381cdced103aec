"""Answer nonces seen lately, shared by every wxpay process of this user.

A replayed answer keeps its signature, timestamp and nonce. WeChat's link
answer names no pupil, so its nonce is the only thing that tells a replay
from a fresh answer: the daily job runs one pupil per process, and a proxy
that replays the first run's answer into the next run (asked for another
pupil) must be refused there too, not only within one process.

`$XDG_STATE_HOME/wxpay/seen-nonces`: a first line `wxpay seen-nonces GENERATION`,
then one `unix-time run nonce` line per accepted answer, kept for `keep` seconds
(twice the timestamp window). Every change and every read happen under an
exclusive lock of `seen-nonces.lock` (a file never replaced; local/locks.py),
so the data file can be pruned by replacing it. Each run keeps the lock file
open; the data file is opened only under the lock and closed before it is let
go (Windows replaces no file another run holds open). A run reads only what
was appended since it last looked, and the whole file again when the
generation changed (a pruning replaced it: a new file may get the old one's
inode number once nobody holds that open).

When the memory cannot be used (its folder cannot be written, a file is a
symlink, a FIFO or a folder, the file is over 16 MiB, another process held
the lock past the attempt's deadline, no file locks), the check stays within
the process, `problem` says why, and `on_problem` (the command's warning) is
called once. A termination refuses then (`check_usable`, and `problem` before
the POST): its answers must be checked against every run's.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from wxpay_cli.errors import ConfigError
from wxpay_cli.i18n import _
from wxpay_cli.local import locks
from wxpay_cli.local.files import open_state_file, pread, reason

_FLAGS = os.O_RDWR | os.O_CREAT
PRUNE_AT = 256 * 1024  # bytes: past this (and past twice its size after the last pruning) the file is pruned
# A file over this is refused when it would be read whole (opened, or replaced by a pruning), not
# read: lines are about 57 bytes, so 16 MiB is 600 s of nonces at about 490 answers/s. The file
# this run grows itself is read only where it last looked, and pruned as usual.
MAX_BYTES = 16 << 20
HEADER = b"wxpay seen-nonces "  # + the generation, a new one at each pruning, + a line end


def default_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "wxpay" / "seen-nonces"


class SeenNonces:
    """`seen(nonce, now)`: True when another wxpay process accepted an answer with `nonce`
    within `keep` s. This process's own nonces are the Verifier's memory's job: they are
    written here for the others, and skipped when read back (lines carry the run's mark)."""

    def __init__(self, path: Path | None = None, keep: float = 600.0, wait: float = 10.0):
        from wxpay_cli.wire.signing import NonceMemory

        self.path = path or default_path()
        self.keep = keep
        self.wait = wait  # seconds another process's lock is waited for (the attempt's deadline)
        self.problem: str | None = None  # why the memory cannot be used, once it cannot
        self.on_problem: Callable[[str], None] | None = None  # told once, when `problem` is set
        self._others = NonceMemory(keep=keep)  # what other processes saw, compactly
        self._pid = secrets.token_hex(6)  # this run's mark on its own lines
        self._shared = True  # False once the file cannot be used
        self._lock: int | None = None  # the lock file, held open for the run (locked per check)
        self._generation: bytes | None = None  # of the file as last read (None: a file from before)
        self._offset = 0
        self._pruned_size = 0

    def seen(self, nonce: str, now: float) -> bool:
        if not self._shared:
            return False
        try:
            return self._seen_shared(nonce, now)
        except OSError as exc:  # the check stays in-process, and whoever relies on it is told
            self._unusable(exc)
            return False

    def check_usable(self, now: float) -> None:
        """ConfigError (exit 3) unless the memory can be used now: a termination's first check."""
        if self._shared:
            try:
                self._seen_shared(None, now)
            except OSError as exc:
                self._unusable(exc)
        if self.problem is not None:
            raise ConfigError(self.problem + _("; a termination needs it, so nothing was sent"),
                              hint=_("fix or remove that file, or set XDG_STATE_HOME; it is rebuilt"),
                              code="REPLAY_MEMORY")

    def _unusable(self, exc: OSError) -> None:
        self._shared = False
        if self.problem is None:
            self.problem = _("the replay memory {path} cannot be used: {reason}").format(
                path=self.path, reason=reason(exc))
            if self.on_problem is not None:
                self.on_problem(self.problem)

    def _seen_shared(self, nonce: str | None, now: float) -> bool:
        """Read what other runs added; then, for a `nonce` none of them saw, add it."""
        if self._lock is None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._lock = open_state_file(self.path.with_name(self.path.name + ".lock"), _FLAGS)
        locks.hold(self._lock, self.wait)
        try:
            fd = open_state_file(self.path, _FLAGS | os.O_APPEND)
            try:
                size = os.fstat(fd).st_size
                if size == 0:
                    generation = secrets.token_hex(8).encode()
                    size = os.write(fd, HEADER + generation + b"\n")
                else:
                    generation = _generation(pread(fd, len(HEADER) + 64, 0))
                if generation != self._generation or size < self._offset:  # new, or replaced by a pruning
                    self._generation, self._offset = generation, 0
                if self._offset == 0 and size > MAX_BYTES:  # about to be read whole
                    raise OSError(0, _("it is larger than 16 MiB, so it was not read"))
                self._read_new(fd, size, now)
                if nonce is None:
                    return False
                if nonce in self._others:
                    return True
                # This run's own nonces are the Verifier's memory's: kept there only, not twice.
                self._offset = size + os.write(fd, f"{now:.0f} {self._pid} {nonce}\n".encode("utf-8", "replace"))
            finally:
                os.close(fd)
            if self._offset > max(PRUNE_AT, 2 * self._pruned_size):
                self._prune(now)
        finally:
            locks.release(self._lock)
        return False

    def _lines(self, data: bytes):
        for line in data.decode("utf-8", "replace").splitlines():
            moment, seen_pid, seen = (line.split(" ", 2) + ["", ""])[:3]
            try:
                when = float(moment)
            except ValueError:
                continue
            if seen:
                yield line, when, seen_pid, seen

    def _read_new(self, fd: int, size: int, now: float) -> None:
        """Take in the lines other processes appended since this one last looked."""
        data = pread(fd, size - self._offset, self._offset) if size > self._offset else b""
        self._offset += len(data)
        for _line, when, seen_pid, seen in self._lines(data):
            if seen_pid != self._pid and now - when <= self.keep:
                self._others.add(seen, now)

    def _prune(self, now: float) -> None:
        """Rewrite the file with the lines still within `keep`, under a new generation (under the lock)."""
        # Line by line: a long batch's file holds every nonce of the last 600 s, and
        # reading it whole (bytes, text, the kept copy) raised a batch's peak memory.
        temporary = self.path.with_name(self.path.name + ".new")
        generation = secrets.token_hex(8).encode()
        out = open_state_file(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        with open(out, "wb") as kept, open(open_state_file(self.path, os.O_RDONLY), "rb") as current:
            kept.write(HEADER + generation + b"\n")
            for raw in current:
                for line, when, _pid, _n in self._lines(raw):
                    if now - when <= self.keep:
                        kept.write((line + "\n").encode("utf-8", "replace"))
            kept_size = kept.tell()
        os.replace(temporary, self.path)  # neither file is open now, in this run or any other
        self._generation, self._offset = generation, kept_size
        self._pruned_size = kept_size


def _generation(start: bytes) -> bytes | None:
    """The generation named by the file's first line; None for a file written before there were any."""
    if not start.startswith(HEADER):
        return None
    return start[len(HEADER):].partition(b"\n")[0]
