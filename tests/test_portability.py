"""wxpay on Windows desktops: it imports and runs without the POSIX-only modules (`fcntl`,
`termios`, `pwd`), without SIGHUP and SIGQUIT, and with an event loop that cannot take
signal handlers; the replay memory and the per-pupil claim lock through `msvcrt` there.

Windows cannot run here, so each test runs wxpay in a process that looks like it: a
launcher (written below) takes those modules and functions away before wxpay is imported,
and puts in an `msvcrt` of this file's own (`FAKE_MSVCRT`): Windows' byte-range lock,
kept per open file and dropped with the process, built on the real `flock` it took before
`fcntl` was blocked. It logs each call, so a test can see the locks were taken there.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from batchrows import csv_rows, lines
from common import LINK, SHOW, TERMINATE, terminations

from wxpay_cli.local.audit import AuditLog
from wxpay_cli.local.nonces import default_path as nonces_path

FAKE_MSVCRT = '''
"""msvcrt as wxpay uses it on Windows, for a test on Linux: locking() locks `nbytes` bytes
from the file's current position, per open file, failing at once (EACCES) when another
open file holds them (LK_NBLCK); unlocking a range this file does not hold fails too.
kbhit()/getwch() read keys typed ahead, from the list `typed`."""
import errno, os
import fcntl as _fcntl  # imported before the launcher blocks fcntl

LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = 0, 1, 2, 3, 4
held = {}  # fd -> (position, nbytes)
typed = []

def _log(*words):
    name = os.environ.get("FAKE_MSVCRT_LOG")
    if name:
        with open(name, "a") as log:
            log.write(" ".join(map(str, words)) + "\\n")

def locking(fd, mode, nbytes):
    position = os.lseek(fd, 0, os.SEEK_CUR)
    _log("locking", mode, position, nbytes)
    if mode == LK_NBLCK:
        if fd in held:
            raise PermissionError(errno.EACCES, "Permission denied")
        try:
            _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
        except BlockingIOError:
            raise PermissionError(errno.EACCES, "Permission denied") from None
        held[fd] = (position, nbytes)
    elif mode == LK_UNLCK:
        if held.get(fd) != (position, nbytes):
            raise PermissionError(errno.EACCES, "Permission denied")
        del held[fd]
        _fcntl.flock(fd, _fcntl.LOCK_UN)
    else:
        raise ValueError(f"mode {mode}: wxpay never waits on a lock inside msvcrt")

def kbhit():
    return bool(typed)

def getwch():
    return typed.pop(0)
'''

AS_WINDOWS = '''
"""Imported first: takes away what Windows does not have (fcntl, termios, pwd; SIGHUP,
SIGQUIT; os.pread, os.pwrite, os.getuid; signal handlers on the event loop), and puts in
the test's msvcrt."""
import asyncio, os, signal, sys

import fake_msvcrt  # the test's own (it keeps the real flock for itself)

for name in ("fcntl", "termios", "pwd", "grp", "tty", "pty", "resource"):
    sys.modules[name] = None
# The standard library decides "Windows" by whether msvcrt imports: its own modules keep
# their Linux parts (they are not under test), wxpay gets the stand-in.
import getpass, subprocess  # noqa: E401
sys.modules["msvcrt"] = fake_msvcrt
for name in ("SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGALRM"):
    delattr(signal, name)
for name in ("pread", "pwrite", "getuid", "geteuid", "getgid", "getpgrp", "killpg", "fchmod", "O_NOFOLLOW",
             "O_DIRECTORY"):
    if hasattr(os, name):
        delattr(os, name)


def refused(self, *args):
    raise NotImplementedError  # what asyncio's Windows event loops do


asyncio.SelectorEventLoop.add_signal_handler = refused
asyncio.SelectorEventLoop.remove_signal_handler = refused
'''

LAUNCH = """import sys, as_windows
from wxpay_cli.local import files, keys
files.APPEND_IS_ATOMIC = keys.FILE_MODES = False  # what wxpay finds out for itself on Windows
from wxpay_cli.cli import main
sys.argv[0] = 'wxpay'
main()
"""


@pytest.fixture
def windows(tmp_path, monkeypatch):
    """windows(*args, stdin=None) runs wxpay as on Windows; returns the finished process.
    `.log` lists the fake msvcrt's calls."""
    folder = tmp_path / "as-windows"
    folder.mkdir()
    (folder / "fake_msvcrt.py").write_text(FAKE_MSVCRT)
    (folder / "as_windows.py").write_text(AS_WINDOWS)
    (folder / "launch.py").write_text(LAUNCH)
    log = tmp_path / "msvcrt.log"
    monkeypatch.setenv("FAKE_MSVCRT_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")])))
    for name in ("LOGNAME", "USER", "LNAME"):  # Windows names the login in USERNAME only
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("USERNAME", "wangli")

    def start(*args: str, stdin=subprocess.DEVNULL) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(folder / "launch.py"), *args], stdin=stdin,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")

    def run(*args: str, input: str | None = None, expect: int = 0) -> subprocess.CompletedProcess:
        process = start(*args, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL)
        out, err = process.communicate(input, timeout=60)
        assert process.returncode == expect, (args, process.returncode, out, err)
        assert "Traceback" not in err, err
        return subprocess.CompletedProcess(args, process.returncode, out, err)

    run.start = start
    run.log = lambda: log.read_text().splitlines() if log.exists() else []
    return run


def test_lookup_link_and_termination_run_without_posix_modules(windows, hostile, sandbox):
    shown = json.loads(windows(*SHOW, "--json").stdout)
    assert shown["user_name"] == "张小明" and shown["contract_state"] != "TERMINATED"
    link = json.loads(windows(*LINK, "--json").stdout)
    assert link["repayment_url"].startswith("https://")
    done = json.loads(windows(*TERMINATE, "--yes", "--json").stdout)
    assert done["contract_state"] == "TERMINATED"
    assert len(terminations(sandbox)) == 1
    records = [r for r in AuditLog().records() if r["operation"] == "terminate"]
    assert [r["outcome"] for r in records][-2:] == ["attempted", "succeeded"]
    assert {r["operator"] for r in records} == {"wangli"}  # the login name, as Windows gives it
    assert "\n\n" not in AuditLog().path.read_text(encoding="utf-8")  # each line after the last, whole
    # The replay memory was shared (written for the other runs), under msvcrt's lock:
    assert nonces_path().read_text().strip()
    calls = windows.log()
    assert any(call.startswith("locking 2 ") for call in calls), calls  # LK_NBLCK
    assert sum(c.startswith("locking 2 ") for c in calls) == sum(c.startswith("locking 0 ") for c in calls)


def test_batches_run_without_posix_modules(windows, hostile, sandbox, pupils, tmp_path):
    shown = lines(windows("user", "show", "--batch", "-", input=csv_rows(pupils[:4])).stdout)
    assert [r["out_user_id"] for r in shown] == pupils[:4] and all("error" not in r for r in shown)
    roster = tmp_path / "roster.csv"
    roster.write_text(csv_rows(pupils[:3]))
    result = tmp_path / "结果.csv"
    assert windows("contract", "terminate", "--batch", str(roster), "--yes", "--format", "csv",
                   "-o", str(result)).stdout == ""
    done = list(csv.DictReader(io.StringIO(result.read_text(encoding="utf-8-sig"))))
    assert [r["contract_state"] for r in done] == ["TERMINATED"] * 3, done
    assert len(terminations(sandbox)) == 3


def test_a_second_run_sends_nothing_while_the_first_holds_the_pupil(windows, hostile, sandbox):
    """The per-pupil claim works across processes through msvcrt's lock."""
    answered = threading.Event()
    hostile.hold("terminate-contract", until=answered, limit=30)  # the first run's POST is in flight
    first = windows.start(*TERMINATE, "--yes", "--json")
    try:
        deadline = time.monotonic() + 30
        while not terminations(sandbox):
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.02)
        second = windows(*TERMINATE, "--yes", "--json", expect=1)
    finally:
        answered.set()
        out, err = first.communicate(timeout=30)
    assert first.returncode == 0, err
    assert json.loads(second.stderr)["error"]["code"] == "PUPIL_BUSY"
    assert len(terminations(sandbox)) == 1


def test_ctrl_c_stops_a_batch_the_usual_way_without_loop_signal_handlers(windows, hostile, pupils):
    """The event loop refuses signal handlers (as on Windows): Ctrl-C still lets the row in
    flight finish and be written (a POST in flight is never cancelled), the next is
    NOT_STARTED, then the summary; exit 130."""
    for name in pupils[1:]:
        hostile.sandbox.inject("delay", seconds=0.5, path_contains=f"/{name}")
    process = windows.start("user", "show", "--batch", "-", "--concurrency", "1", stdin=subprocess.PIPE)
    process.stdin.write(csv_rows(pupils[:6]))
    process.stdin.close()
    process.stdin = None
    first = process.stdout.readline()
    process.send_signal(signal.SIGINT)
    rest, err = process.communicate(timeout=30)
    out = lines(first + rest)
    assert process.returncode == 130, (out, err)
    assert [r["out_user_id"] for r in out] == pupils[:len(out)] and len(out) < 6, out
    assert "error" not in out[1], out  # in flight when Ctrl-C came: finished and written, not cancelled
    assert out[-1]["error"]["code"] == "NOT_STARTED", out
    assert "batch:" in err and "Traceback" not in err, err


def test_help_needs_no_posix_module(windows):
    assert "repayment-url" in windows("--help").stdout


def test_the_stand_in_really_takes_them_away(windows):
    """The tests above are worth something only if those names are gone in that process."""
    code = textwrap.dedent('''
        import as_windows, asyncio, os, signal
        for name in ("fcntl", "termios", "pwd"):
            try:
                __import__(name)
            except ImportError:
                continue
            raise SystemExit(name + " is still there")
        assert not hasattr(signal, "SIGHUP") and not hasattr(signal, "SIGQUIT")
        assert not hasattr(os, "pread") and not hasattr(os, "getuid")
        loop = asyncio.new_event_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, print)
        except NotImplementedError:
            print("refused")
    ''')
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout.strip() == "refused", done.stderr


def test_nothing_posix_only_is_imported_at_module_level():
    """Every module of wxpay imports where fcntl, termios and pwd do not exist."""
    code = textwrap.dedent('''
        import pkgutil, importlib, sys
        for name in ("fcntl", "termios", "pwd"):
            sys.modules[name] = None
        import wxpay_cli
        for module in pkgutil.walk_packages(wxpay_cli.__path__, "wxpay_cli."):
            importlib.import_module(module.name)
    ''')
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# -- one seam at a time, in this process, with Windows' rules played by the test ------------


@pytest.fixture
def msvcrt(tmp_path, monkeypatch):
    """The fake msvcrt above as `msvcrt`, with fcntl and termios gone (as on Windows)."""
    import importlib.util

    source = tmp_path / "fake_msvcrt.py"
    source.write_text(FAKE_MSVCRT)
    spec = importlib.util.spec_from_file_location("msvcrt", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "msvcrt", module)
    monkeypatch.setitem(sys.modules, "fcntl", None)
    monkeypatch.setitem(sys.modules, "termios", None)
    return module


def test_file_locks_use_msvcrt_where_there_is_no_fcntl(msvcrt, tmp_path):
    from wxpay_cli.local import locks

    path = tmp_path / "state"
    path.write_bytes(b'{"attempt": 1}')
    mine, theirs = (os.open(path, os.O_RDWR) for _ in range(2))
    try:
        assert locks.try_hold(mine)
        assert os.read(mine, 2) == b'{"'  # the lock left the file's position alone
        assert not locks.try_hold(theirs)  # another open file (another run) finds it held
        with pytest.raises(locks.LockBusy):
            locks.hold(theirs, wait=0.05)
        os.lseek(mine, 5, os.SEEK_SET)  # the holder reads its file (Windows has no pread: a seek)
        locks.release(mine)  # still lets go of what it took
        assert locks.try_hold(theirs)
        locks.release(theirs)
    finally:
        os.close(mine)
        os.close(theirs)


def test_typed_ahead_keys_are_dropped_on_a_windows_console(msvcrt):
    """A `y` typed before the termination question appeared must not answer it (msvcrt's console)."""
    from wxpay_cli.terminal import prompt

    msvcrt.typed.extend("y\ry\r")
    prompt.flush_typeahead()
    assert msvcrt.typed == []


def open_in_this_process(path: Path) -> bool:
    """Whether a descriptor of this process has `path` open (Linux's /proc)."""
    folder = Path("/proc/self/fd")
    for entry in folder.iterdir():
        try:
            if os.path.realpath(entry) == os.path.realpath(path):
                return True
        except OSError:
            continue
    return False


@pytest.fixture
def windows_sharing(monkeypatch):
    """Windows' rule, played here: a file that is open cannot be removed, nor replaced."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to see which files are open")
    unlink, replace = os.unlink, os.replace

    def refusing_unlink(path, *args, **kwargs):
        if open_in_this_process(Path(path)):
            raise PermissionError(13, "The process cannot access the file because it is being used", str(path))
        return unlink(path, *args, **kwargs)

    def refusing_replace(source, target, *args, **kwargs):
        if open_in_this_process(Path(source)) or (os.path.exists(target) and open_in_this_process(Path(target))):
            raise PermissionError(13, "Access is denied", str(target))
        return replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", refusing_unlink)
    monkeypatch.setattr(os, "replace", refusing_replace)


def test_a_finished_claim_leaves_no_file_where_open_files_cannot_be_removed(windows_sharing, hostile, run):
    """Each pupil's claim file goes once the termination is done, on Windows too: the next run
    looks at no more than 1000 of them, and an attempt left open must be among those."""
    from wxpay_cli.local.attempts import default_folder

    run(*TERMINATE, "--yes", "--json", expect=0)
    assert list(default_folder().iterdir()) == []


def test_the_replay_memory_is_pruned_where_open_files_cannot_be_replaced(windows_sharing, tmp_path, monkeypatch):
    from wxpay_cli.local import nonces

    monkeypatch.setattr(nonces, "PRUNE_AT", 300)
    path = tmp_path / "state" / "seen-nonces"
    one, other = nonces.SeenNonces(path, keep=10), nonces.SeenNonces(path, keep=10)
    for index in range(40):  # several prunings, each run looking in between
        now = 1000.0 + 3 * index
        assert not one.seen(f"one-{index}", now)
        assert other.seen(f"one-{index}", now + 0.5)
        assert not other.seen(f"other-{index}", now + 0.6)
        assert one.seen(f"other-{index}", now + 0.7)
    assert one.problem is None and other.problem is None, (one.problem, other.problem)
    assert path.stat().st_size < 1500  # pruned, not grown without end


def test_the_replay_memory_is_shared_without_pread(monkeypatch, tmp_path):
    """Windows has no os.pread: each run still reads exactly what the others added since it looked."""
    from wxpay_cli.local import nonces

    monkeypatch.delattr(os, "pread")
    monkeypatch.delattr(os, "pwrite")
    path = tmp_path / "state" / "seen-nonces"
    one, other = nonces.SeenNonces(path, keep=600), nonces.SeenNonces(path, keep=600)
    for index in range(20):
        assert not one.seen(f"one-{index}", 1000.0 + index)
        assert not other.seen(f"other-{index}", 1000.5 + index)
        assert other.seen(f"one-{index}", 1000.6 + index) and one.seen(f"other-{index}", 1000.7 + index)


def test_every_file_wxpay_opens_itself_is_opened_as_binary():
    """os.open on Windows translates line ends unless told O_BINARY: a QR code's PNG would
    gain a byte before each 0x0A, and offsets in the state files would stop matching."""
    import ast

    from common import PACKAGE

    text_mode = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assignments = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, (ast.Assign, ast.AugAssign))]
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "os.open":
                flags = ast.unparse(node.args[1])  # the flags, or a name they were put together in
                if "O_DIRECTORY" in flags:  # a folder, opened to fsync it (POSIX only)
                    continue
                if "BINARY" not in flags and not any(a.startswith(flags + " ") and "BINARY" in a for a in assignments):
                    text_mode.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert text_mode == []


def test_no_chmod_advice_where_files_have_no_modes(sandbox, configure, run, monkeypatch):
    """Windows shows every file as readable by all (mode 666): warning on each command that the
    key is readable by other users, and telling the operator to run chmod, would be false."""
    from wxpay_cli.local import keys

    table = configure(sandbox)
    Path(table["private_key"]).chmod(0o666)  # what Windows shows for a file in a private user folder
    monkeypatch.setattr(keys, "FILE_MODES", False)
    result = run(*SHOW, expect=0)
    assert "readable by other users" not in result.stderr and "chmod" not in result.stderr


def test_audit_lines_are_appended_under_the_lock_where_appends_are_not_atomic(monkeypatch, tmp_path):
    """Windows appends by seeking to the end and then writing: two runs writing at once could
    write over each other's line. There the line is written under the file's lock, so a run
    that holds it (another process appending) is waited for."""
    from wxpay_cli.local import audit, files, locks

    monkeypatch.setattr(files, "APPEND_IS_ATOMIC", False)
    monkeypatch.setattr(audit, "LOCK_WAIT", 0.2)
    log = audit.AuditLog(tmp_path / "audit.jsonl")
    log.append(operation="fetch_url", outcome="succeeded")
    other_run = os.open(log.path, os.O_RDWR)
    try:
        assert locks.try_hold(other_run)  # another process is appending its line right now
        with pytest.raises(audit.AuditLogError, match="held its lock"):
            log.append(operation="terminate", outcome="attempted", sync_now=True)
        locks.release(other_run)
        log.append(operation="terminate", outcome="attempted", sync_now=True)
    finally:
        os.close(other_run)
    assert [r["outcome"] for r in log.records()] == ["succeeded", "attempted"]


@pytest.mark.parametrize(("langid", "expected"), [(0x0804, "zh"), (0x0404, "zh"), (0x1004, "zh"),
                                                  (0x0409, "en"), (0x0411, "en")])
def test_a_chinese_windows_speaks_chinese_without_any_variable(monkeypatch, langid, expected):
    """Windows sets no LANG: with no variable at all, the display language the user chose in
    Windows decides (GetUserDefaultUILanguage: primary language 0x04 is Chinese)."""
    import ctypes
    import types

    from wxpay_cli import i18n

    kernel32 = types.SimpleNamespace(GetUserDefaultUILanguage=lambda: langid)
    monkeypatch.setattr(ctypes, "windll", types.SimpleNamespace(kernel32=kernel32), raising=False)
    monkeypatch.setattr(i18n, "ON_WINDOWS", True)
    assert i18n.choose_language(None, {}) == expected
    assert i18n.choose_language(None, {"WXPAY_LANG": "en"}) == "en"  # a variable still wins
    assert i18n.choose_language(None, {"LANG": "zh_CN.UTF-8"}) == "zh"


def test_windows_display_language_is_not_asked_elsewhere_or_when_it_fails(monkeypatch):
    import ctypes
    import types

    from wxpay_cli import i18n

    def broken():
        raise OSError("no such function")

    monkeypatch.setattr(ctypes, "windll", types.SimpleNamespace(kernel32=types.SimpleNamespace(
        GetUserDefaultUILanguage=lambda: 0x0804)), raising=False)
    assert i18n.choose_language(None, {}) == ("zh" if os.name == "nt" else "en")  # Linux: never asked
    monkeypatch.setattr(i18n, "ON_WINDOWS", True)
    ctypes.windll.kernel32.GetUserDefaultUILanguage = broken
    assert i18n.choose_language(None, {}) == "en"
