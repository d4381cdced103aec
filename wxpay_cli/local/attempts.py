"""Terminations in progress on this machine: the per-pupil claim and the attempts left open.

One small file per pupil being terminated, in this user's state folder
(`default_folder`), named by a digest of (mchid, organization_id, user_id):

- **The claim.** A run that is about to terminate a pupil holds an exclusive
  lock on that pupil's file (`OpenAttempts.claim`); a second run of this user
  on this machine finds it held and sends nothing for that pupil. The system
  drops the lock when a run ends, however it ends (local/locks.py).
- **The open attempt.** Right before the audit log's `attempted` line, the
  claim writes the attempt into the file (`Claim.begin`, fsynced); once the
  outcome is known the file goes (`Claim.close`). An outcome that stays
  unknown (a crash, a lost answer) leaves the file: the next run names it
  (`left_open`) and checks that pupil before doing anything else for them,
  without reading the whole audit log.

Nothing here protects across machines or logins: the termination flow
re-queries the pupil right before the POST for that.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from wxpay_cli.local import locks
from wxpay_cli.local.files import open_state_file, pread, pwrite

MAX_RECORD = 4096  # bytes: an attempt's file holds one small JSON object
MAX_LISTED = 1000  # files looked at by `left_open`: a folder of more is not this tool's
# seconds a claim waits for the pupil's lock: long enough for another run's `left_open` to
# read the file under it, short enough not to hold up a batch when another run is at work
CLAIM_WAIT = 0.1


@dataclass(frozen=True)
class Pupil:
    """Whom a claim is for: WeChat's user_id within one merchant and organization."""

    mchid: str
    organization_id: str
    user_id: str

    def file_name(self) -> str:
        digest = hashlib.sha256("\n".join((self.mchid, self.organization_id, self.user_id)).encode("utf-8",
                                "surrogatepass")).hexdigest()
        return f"{digest[:40]}.json"


def default_folder() -> Path:
    """`$XDG_STATE_HOME/wxpay/open-terminations`: this user's, whatever audit log a profile names
    (a shared audit folder must not make one operator's claims another's permission error, and
    two profiles of one merchant must still see each other's claims)."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "wxpay" / "open-terminations"


class Claim:
    """This run's hold on one pupil; `release` ends it (an attempt not closed stays open)."""

    def __init__(self, path: Path, fd: int, left_open: dict | None):
        self.path = path
        self._fd: int | None = fd
        self.left_open = left_open  # an earlier run's attempt on this pupil, without an outcome
        self._open = left_open is not None  # the file holds an attempt

    def begin(self, record: dict) -> None:
        """Write the attempt, durably, before the audit log's `attempted` line and the POST."""
        data = json.dumps(record, ensure_ascii=False).encode("utf-8", "backslashreplace")[:MAX_RECORD]
        os.ftruncate(self._fd, 0)
        pwrite(self._fd, data, 0)
        os.fsync(self._fd)
        self._open = True

    def close(self) -> None:
        """The outcome is known (and recorded): the attempt is no longer open."""
        os.ftruncate(self._fd, 0)
        self._open = False
        self.left_open = None

    def release(self) -> None:
        """Let other runs claim the pupil. An attempt still open stays in the file for the next run."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        remove_after = False
        try:
            if not self._open:
                try:
                    os.unlink(self.path)  # under the lock: a run that opened it first sees another inode
                except PermissionError:
                    # Windows removes no file that is open, this run's own included: it goes once
                    # closed, and if another run opened it meanwhile, Windows refuses again.
                    remove_after = True
                except OSError:
                    pass
        finally:
            _let_go(fd)
        if remove_after:
            try:
                os.unlink(self.path)
            except OSError:
                pass


class OpenAttempts:
    def __init__(self, folder: Path):
        self.folder = folder

    def claim(self, pupil: Pupil) -> Claim | None:
        """This run's claim on `pupil`, or None while another run holds it (a moment's
        hold, another run's `left_open` reading the file, is waited out)."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.folder / pupil.file_name()
        while True:
            fd = open_state_file(path, os.O_RDWR | os.O_CREAT)
            try:
                try:
                    locks.hold(fd, CLAIM_WAIT)
                except locks.LockBusy:  # another run is at work on the pupil
                    os.close(fd)
                    return None
                try:  # released and removed by its holder between our open and our lock: open again
                    same = os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False))
                except FileNotFoundError:
                    same = False
                if same:
                    return Claim(path, fd, _read(fd))
                _let_go(fd)
            except BaseException:
                _let_go(fd)
                raise

    def left_open(self) -> list[dict]:
        """Attempts whose run is gone without an outcome (their file is not claimed), oldest first."""
        try:
            names = sorted(os.listdir(self.folder))[:MAX_LISTED]
        except OSError:
            return []
        found = []
        for name in names:
            if not name.endswith(".json"):
                continue
            try:
                fd = open_state_file(self.folder / name, os.O_RDWR)
            except OSError:
                continue
            held = False
            try:
                held = locks.try_hold(fd)
                if held:  # not held: a run is at work on that pupil now
                    record = _read(fd)
                    if record is not None:
                        found.append(record)
            finally:
                if held:
                    _let_go(fd)
                else:
                    os.close(fd)
        return sorted(found, key=lambda record: str(record.get("time", "")))


def _let_go(fd: int) -> None:
    """Unlock, then close (closing alone drops a flock; Windows asks for the unlock first)."""
    try:
        locks.release(fd)
    except OSError:
        pass  # closing drops it all the same
    finally:
        os.close(fd)


def _read(fd: int) -> dict | None:
    data = pread(fd, MAX_RECORD, 0)
    if not data.strip():
        return None
    try:
        record = json.loads(data.decode("utf-8", "replace"))
    except ValueError:
        record = None
    return record if isinstance(record, dict) else {"unreadable": True}
