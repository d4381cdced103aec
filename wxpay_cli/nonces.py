"""Answer nonces seen lately, shared by every wxpay process of this user.

A replayed answer keeps its signature, timestamp and nonce. WeChat's link
answer names no pupil, so its nonce is the only thing that tells a replay
from a fresh answer: the daily job runs one pupil per process, and a proxy
that replays the first run's answer into the next run (asked for another
pupil) must be refused there too, not only within one process.

`$XDG_STATE_HOME/wxpay/seen-nonces`: one `unix-time run nonce` line per accepted
answer, kept for `keep` seconds (twice the timestamp window). Every change and
every read happen under an exclusive `flock` of `seen-nonces.lock` (a file
never replaced), so the data file can be pruned by replacing it. Each process
reads only what was appended since it last looked, unless the file was
replaced. Where no lock is available (no `fcntl`) or the folder cannot be
written, the check stays within the process.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PRUNE_AT = 256 * 1024  # bytes: past this (and past twice its size after the last pruning) the file is pruned


def default_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "wxpay" / "seen-nonces"


class SeenNonces:
    """`seen(nonce, now)`: True when another wxpay process accepted an answer with `nonce`
    within `keep` s. This process's own nonces are the Verifier's memory's job: they are
    written here for the others, and skipped when read back (lines carry the run's mark)."""

    def __init__(self, path: Path | None = None, keep: float = 600.0):
        from wxpay_cli.signing import NonceMemory

        self.path = path or default_path()
        self.keep = keep
        self._others = NonceMemory(keep=keep)  # what other processes saw, compactly
        self._pid = secrets.token_hex(6)  # this run's mark on its own lines
        self._shared = True  # False once the file cannot be used
        self._inode = None
        self._offset = 0
        self._pruned_size = 0

    def seen(self, nonce: str, now: float) -> bool:
        if not self._shared:
            return False
        try:
            return self._seen_shared(nonce, now)
        except (OSError, ImportError):  # a read-only home, no fcntl: the check stays in-process
            self._shared = False
            return False

    def _seen_shared(self, nonce: str, now: float) -> bool:
        import fcntl

        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        lock = os.open(self.path.with_name(self.path.name + ".lock"), flags, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            fd = os.open(self.path, flags | os.O_APPEND, 0o600)
            try:
                self._read_new(fd, now)
                if not self._others.add(nonce, now):  # (kept there too: a second ask in this process says seen)
                    return True
                os.write(fd, f"{now:.0f} {self._pid} {nonce}\n".encode("utf-8", "replace"))
                self._offset = os.fstat(fd).st_size
                if self._offset > max(PRUNE_AT, 2 * self._pruned_size):
                    self._prune(fd, now)
            finally:
                os.close(fd)
        finally:
            os.close(lock)  # releases the flock
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

    def _read_new(self, fd: int, now: float) -> None:
        """Take in the lines other processes appended since this one last looked."""
        status = os.fstat(fd)
        if status.st_ino != self._inode or status.st_size < self._offset:
            self._inode, self._offset = status.st_ino, 0  # replaced (pruned): read it all
        size = status.st_size - self._offset
        data = os.pread(fd, size, self._offset) if size > 0 else b""
        self._offset += len(data)
        for _line, when, seen_pid, seen in self._lines(data):
            if seen_pid != self._pid and now - when <= self.keep:
                self._others.add(seen, now)

    def _prune(self, fd: int, now: float) -> None:
        """Rewrite the file with the lines still within `keep` (under the lock)."""
        data = os.pread(fd, os.fstat(fd).st_size, 0)
        fresh = "".join(line + "\n" for line, when, _pid, _n in self._lines(data) if now - when <= self.keep)
        temporary = self.path.with_name(self.path.name + ".new")
        out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            os.write(out, fresh.encode("utf-8", "replace"))
        finally:
            os.close(out)
        os.replace(temporary, self.path)
        status = os.stat(self.path)
        self._inode, self._offset = status.st_ino, status.st_size
        self._pruned_size = status.st_size
