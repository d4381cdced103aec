"""Run the installed `wxpay` as a real process: with chosen standard streams on a real
pseudo-terminal (`run_on_terminal`), or with pipes, signalled once it is ready (`signal_once`).

The console script is found next to `sys.executable` (the interpreter running
the tests), not on PATH, so the tests run the wxpay this environment installed.
Streams not on the terminal go to files. `answers` are (text seen on the
terminal, bytes to type) pairs, typed in order once their text has appeared;
`typeahead` is typed before the process even starts.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


def wxpay_script() -> str:
    """The `wxpay` console script of the interpreter running the tests."""
    folder = Path(sys.executable).parent
    for name in ("wxpay", "wxpay.exe"):
        if (folder / name).is_file():
            return str(folder / name)
    raise AssertionError(f"no wxpay console script next to {sys.executable} (pip install -e '.[test]')")


@dataclass
class TerminalRun:
    returncode: int
    terminal: str  # everything shown on the terminal (echoed input included)
    stdout: str  # when stdout was not the terminal
    stderr: str  # when stderr was not the terminal


def run_on_terminal(*args: str, tmp_path: Path, stdin: bool = True, stdout: bool = False, stderr: bool = True,
                    typeahead: bytes = b"", answers: list[tuple[str, bytes]] = (), timeout: float = 30.0,
                    env: dict | None = None) -> TerminalRun:
    master, slave = os.openpty()
    if typeahead:
        os.write(master, typeahead)
    out_file = open(tmp_path / "pty-stdout", "w+b")  # noqa: SIM115
    err_file = open(tmp_path / "pty-stderr", "w+b")  # noqa: SIM115
    try:
        process = subprocess.Popen(
            [wxpay_script(), *args],
            stdin=slave if stdin else subprocess.DEVNULL,
            stdout=slave if stdout else out_file,
            stderr=slave if stderr else err_file,
            env={**os.environ, "TERM": "xterm", "COLUMNS": "200", **(env or {})},
            close_fds=True,
        )
        os.close(slave)
        shown, pending, seen_upto = b"", list(answers), 0
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"wxpay did not finish; terminal so far:\n{shown.decode(errors='replace')}")
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every holder of the terminal's other side has gone
                    chunk = b""
                if not chunk:
                    break
                shown += chunk
            if pending and pending[0][0].encode() in shown[seen_upto:]:
                seen_upto = len(shown)
                try:
                    os.write(master, pending.pop(0)[1])
                except OSError:
                    pass  # it has already finished
            if not ready and process.poll() is not None:
                break
        process.wait(timeout=timeout)
        out_file.seek(0)
        err_file.seek(0)
        return TerminalRun(process.returncode, shown.decode("utf-8", "replace"),
                           out_file.read().decode("utf-8", "replace"), err_file.read().decode("utf-8", "replace"))
    finally:
        os.close(master)
        out_file.close()
        err_file.close()


def signal_once(args, sig, ready) -> tuple[int, str, str]:
    """Run wxpay with `args`, send it `sig` once `ready()` holds; (exit status, stdout, stderr)."""
    process = subprocess.Popen([wxpay_script(), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 30
        while not ready():
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.01)
        process.send_signal(sig)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, out, err


def first_line(proc) -> str:
    """The first line of a running wxpay's stdout, read from the pipe a byte at a time.
    (`proc.stdout.readline()` may take the next lines into its buffer too, where
    `communicate()`, which reads the pipe itself, never finds them.)"""
    data = b""
    while not data.endswith(b"\n") and (byte := os.read(proc.stdout.fileno(), 1)):
        data += byte
    return data.decode("utf-8")


def start_batch(args, text):
    """The installed wxpay with `args`, `text` written to its stdin (then closed), stdout and stderr piped."""
    proc = subprocess.Popen([wxpay_script(), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    proc.stdin.write(text)
    proc.stdin.close()
    proc.stdin = None  # so communicate() does not flush it again
    return proc
