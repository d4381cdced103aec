"""wxpay benchmark: start-up, one call as a whole process, batch throughput, batch
memory, and the wechatpayv3 SDK as the peer to beat, side by side in one run.

    python benchmarks/run.py            # the full run (about 5 minutes)
    python benchmarks/run.py --quick    # fewer repeats and rows, for a smoke test

The sandbox runs in its own process (`wxpay sandbox serve`); every figure is
measured against it on this machine in this run. wxpay (this checkout, as a
regular install) and the peer SDK are installed side by side into one private
virtual environment, benchmarks/.venv, so both start from the same interpreter
and site-packages (and nothing is added to yours). Targets (issue 5) are
printed next to each figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
BIN = VENV / "bin"
PEER_SCRIPT = HERE / "peer_wechatpayv3.py"


def prepare_venv() -> bool:
    """benchmarks/.venv with this checkout's wxpay and the wechatpayv3 SDK; False if the peer cannot be had."""
    pip = [str(BIN / "python"), "-m", "pip", "install", "-q"]
    if not (BIN / "python").exists():
        print("creating benchmarks/.venv (wxpay + wechatpayv3) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([*pip, str(HERE.parent)], check=True)
    else:  # refresh wxpay from this checkout; its dependencies are already there
        subprocess.run([*pip, "--force-reinstall", "--no-deps", str(HERE.parent)], check=True)
    result = subprocess.run([*pip, "wechatpayv3"], capture_output=True, text=True)
    if result.returncode:
        print(f"could not install wechatpayv3: {result.stderr.strip()[:300]}", file=sys.stderr)
        return False
    return True


def wxpay_exe() -> str:
    return str(BIN / "wxpay")


def timed(commands: list[list[str]], env: dict, runs: int) -> list[float]:
    """Median wall time of each command as a whole process, in seconds.

    The commands take turns (after one warm-up round), so a busy moment on the
    machine falls on all of them alike and their ratios stay meaningful.
    """
    times: list[list[float]] = [[] for _ in commands]
    for round_ in range(runs + 1):
        for index, cmd in enumerate(commands):
            started = time.perf_counter()
            result = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            elapsed = time.perf_counter() - started
            if result.returncode != 0:
                sys.exit(f"failed: {' '.join(cmd)}\n{result.stderr}")
            if round_:
                times[index].append(elapsed)
    return [statistics.median(t) for t in times]


def peak_rss_mib(cmd: list[str], env: dict, stdin_path: Path | None = None) -> tuple[float, float]:
    """(wall seconds, peak resident memory in MiB) of one run of `cmd`."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "stdin = open(sys.argv[1]) if sys.argv[1] != '-' else None\n"
        "t = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[2:], stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
        "t = time.perf_counter() - t\n"
        "if r.returncode: sys.exit(r.stderr.decode())\n"
        "print(t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(stdin_path or "-"), *cmd], env=env,
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr}")
    seconds, kib = out.stdout.split()
    return float(seconds), int(kib) / 1024


def start_sandbox(env: dict) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen([wxpay_exe(), "sandbox", "serve", "--quiet"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    ready = proc.stderr.readline()
    if "profile written to" not in ready:
        proc.kill()
        sys.exit(f"the sandbox did not start: {ready}")
    return proc, Path(ready.rsplit("profile written to ", 1)[1].strip())


def write_rows(path: Path, count: int) -> Path:
    with path.open("w") as handle:
        handle.write("out_user_id,organization_id\n")
        for i in range(count):
            handle.write(("demo" if i % 2 else "demo-2") + ",demo-org\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and rows")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    args = parser.parse_args()
    runs = 5 if args.quick else 15
    batch_rows = 200 if args.quick else 1000
    memory_rows = (2_000, 10_000) if args.quick else (1_000, 100_000)

    have_peer = prepare_venv()
    python = str(BIN / "python")
    work = Path(tempfile.mkdtemp(prefix="wxpay-bench-"))
    env = {**os.environ, "XDG_STATE_HOME": str(work / "state"), "HOME": str(work)}
    sandbox, config = start_sandbox(env)
    env["WXPAY_CONFIG"] = str(config)
    wxpay = wxpay_exe()
    figures: dict[str, float] = {}
    try:
        # Start-up, as ratios to importing click, all in this run.
        click_import, version, help_ = timed(
            [[python, "-c", "import click"], [wxpay, "--version"], [wxpay, "repayment-url", "--help"]], env, runs * 2)
        figures["import_click_s"] = click_import
        figures["version_ratio"] = version / click_import
        figures["help_ratio"] = help_ / click_import

        # One call as a whole process, and the peer: the same call through the wechatpayv3 SDK.
        single = [wxpay, "repayment-url", "--user", "demo", "--org", "demo-org"]
        if have_peer:
            figures["single_call_s"], figures["peer_call_s"] = timed(
                [single, [python, str(PEER_SCRIPT), str(config)]], env, runs)
        else:
            [figures["single_call_s"]] = timed([single], env, runs)

        # Batch throughput.
        rows = write_rows(work / "rows.csv", batch_rows)
        for concurrency in (1, 8, 32):
            seconds, _ = peak_rss_mib([wxpay, "repayment-url", "--batch", str(rows), "--concurrency",
                                       str(concurrency)], env)
            figures[f"batch_c{concurrency}_rows_per_s"] = batch_rows / seconds

        # Peak memory: small and large batches through the same path (user show, stdin).
        for count in memory_rows:
            path = write_rows(work / f"mem{count}.csv", count)
            seconds, mib = peak_rss_mib([wxpay, "user", "show", "--batch", "-", "--concurrency", "32"], env, path)
            figures[f"peak_rss_mib_{count}"] = mib
            figures[f"mem_batch_{count}_rows_per_s"] = count / seconds
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    report(figures, batch_rows, memory_rows)
    if args.json:
        print(json.dumps(figures))


def report(f: dict[str, float], batch_rows: int, memory_rows: tuple[int, int]) -> None:
    per_row_c32 = 1 / f["batch_c32_rows_per_s"]
    lines = [
        ("wxpay --version / import click", f"{f['version_ratio']:.2f}x", "<= 1.5x"),
        ("wxpay repayment-url --help / import click", f"{f['help_ratio']:.2f}x", "<= 1.8x"),
        ("one repayment-url call, whole process", f"{f['single_call_s'] * 1000:.0f} ms", "<= peer"),
    ]
    if "peer_call_s" in f:
        lines.append(("same call, wechatpayv3 SDK script (peer)", f"{f['peer_call_s'] * 1000:.0f} ms",
                      f"wxpay/peer = {f['single_call_s'] / f['peer_call_s']:.2f}"))
    for c in (1, 8, 32):
        lines.append((f"batch of {batch_rows}, concurrency {c}", f"{f[f'batch_c{c}_rows_per_s']:.0f} rows/s",
                      ">= 200 rows/s" if c == 32 else ""))
    lines.append(("per-row cost: single process / batch row (c=32)",
                  f"{f['single_call_s'] / per_row_c32:.0f}x", ">= 30x"))
    for count in memory_rows:
        lines.append((f"peak memory, user show --batch of {count:,} rows", f"{f[f'peak_rss_mib_{count}']:.1f} MiB",
                      "flat" if count == memory_rows[1] else ""))
    width = max(len(name) for name, _, _ in lines)
    print(f"{'measure'.ljust(width)}  {'figure':>12}  target")
    for name, value, target in lines:
        print(f"{name.ljust(width)}  {value:>12}  {target}")


if __name__ == "__main__":
    main()
