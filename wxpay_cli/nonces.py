"""Answer nonces seen lately, shared by every wxpay process of this user.

A replayed answer keeps its signature, timestamp and nonce. WeChat's link
answer names no pupil, so its nonce is the only thing that tells a replay
from a fresh answer: the daily job runs one pupil per process, and a proxy
that replays the first run's answer into the next run (asked for another
pupil) must be refused there too, not only within one process.

`$XDG_STATE_HOME/wxpay/seen-nonces`: one `unix-time nonce` line per accepted
answer, kept for `keep` seconds (twice the timestamp window). Every change and
every read happen under an exclusive `flock` of `seen-nonces.lock` (a file
never replaced), so the data file can be pruned by replacing it. Each process
reads only what was appended since it last looked, unless the file was
replaced. Where no lock is available (no `fcntl`) or the folder cannot be
written, the check stays within the process.
"""

from __future__ import annotations

import os
from pathlib import Path

PRUNE_AT = 256 * 1024  # bytes: a file larger than this is rewritten with its fresh lines only


def default_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "wxpay" / "seen-nonces"


class SeenNonces:
    """`seen(nonce, now)`: True when another answer (in any process) had `nonce` within `keep` s."""

    def __init__(self, path: Path | None = None, keep: float = 600.0):
        self.path = path or default_path()
        self.keep = keep
        self._memory: dict[str, float] = {}  # nonce -> time seen, this process's view
        self._shared = True  # False once the file cannot be used: memory only
        self._inode = None
        self._offset = 0

    def seen(self, nonce: str, now: float) -> bool:
        self._forget(now)
        if self._shared:
            try:
                return self._seen_shared(nonce, now)
            except (OSError, ImportError):
                self._shared = False
        if nonce in self._memory:
            return True
        self._memory[nonce] = now
        return False

    def _forget(self, now: float) -> None:
        stale = [n for n, t in self._memory.items() if now - t > self.keep]
        for nonce in stale:
            del self._memory[nonce]

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
                if nonce in self._memory:
                    return True
                self._memory[nonce] = now
                os.write(fd, f"{now:.0f} {nonce}\n".encode("utf-8", "replace"))
                self._offset = os.fstat(fd).st_size
                if self._offset > PRUNE_AT:
                    self._prune()
            finally:
                os.close(fd)
        finally:
            os.close(lock)  # releases the flock
        return False

    def _read_new(self, fd: int, now: float) -> None:
        """Take in the lines other processes appended since this one last looked."""
        status = os.fstat(fd)
        if status.st_ino != self._inode or status.st_size < self._offset:
            self._inode, self._offset = status.st_ino, 0  # replaced (pruned): read it all
        size = status.st_size - self._offset
        data = os.pread(fd, size, self._offset) if size > 0 else b""
        self._offset += len(data)
        for line in data.decode("utf-8", "replace").splitlines():
            moment, _sep, seen = line.partition(" ")
            try:
                when = float(moment)
            except ValueError:
                continue
            if seen and now - when <= self.keep:
                self._memory.setdefault(seen, when)

    def _prune(self) -> None:
        """Rewrite the file with the nonces still within `keep` (under the lock)."""
        fresh = "".join(f"{t:.0f} {n}\n" for n, t in self._memory.items()).encode("utf-8", "replace")
        temporary = self.path.with_name(self.path.name + ".new")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            os.write(fd, fresh)
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
        status = os.stat(self.path)
        self._inode, self._offset = status.st_ino, status.st_size
