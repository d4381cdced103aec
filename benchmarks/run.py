"""wxpay benchmark: start-up, one call as a whole process next to two peers, batch
throughput against the sandbox and against a near-free server, CPU per row, batch
memory, and `wxpay cases` over a large audit log, side by side in one run.

    python benchmarks/run.py            # the full run (about 10 minutes)
    python benchmarks/run.py --quick    # fewer repeats and rows, for a smoke test

Two servers run in their own processes: the sandbox (`wxpay sandbox serve`,
which checks every request) and benchmarks/freeserver.py (answers at once,
validly signed, checks nothing), so the batch figure against it is wxpay's own.
wxpay (this checkout, as a regular install) and the PyPI `wechatpayv3` SDK are
installed side by side into benchmarks/.venv; when node and npm are on PATH the
npm `wechatpay-axios-plugin` goes into benchmarks/.node. Nothing is added to
your environment or to the project. Commands take turns and every figure is a
median of repeats in this run. Targets (issue 11; `wxpay cases`: issue 19) are
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
NODE_DIR = HERE / ".node"
NODE_SCRIPT = HERE / "peer_node.js"
FREE_SERVER = HERE / "freeserver.py"


def prepare_venv() -> bool:
    """benchmarks/.venv with this checkout's wxpay and the wechatpayv3 SDK; False if the peer cannot be had."""
    pip = [str(BIN / "python"), "-m", "pip", "install", "-q"]
    if not (BIN / "python").exists():
        print("creating benchmarks/.venv (wxpay + wechatpayv3) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([*pip, str(HERE.parent)], check=True)
    else:  # refresh wxpay from this checkout, then whatever it now depends on
        subprocess.run([*pip, "--force-reinstall", "--no-deps", str(HERE.parent)], check=True)
        subprocess.run([*pip, str(HERE.parent)], check=True)
    result = subprocess.run([*pip, "wechatpayv3"], capture_output=True, text=True)
    if result.returncode:
        print(f"could not install wechatpayv3: {result.stderr.strip()[:300]}", file=sys.stderr)
        return False
    return True


def prepare_node() -> bool:
    """benchmarks/.node with the npm wechatpay-axios-plugin; False without node and npm."""
    if not (shutil.which("node") and shutil.which("npm")):
        print("node or npm not found: the node peer is skipped", file=sys.stderr)
        return False
    if not (NODE_DIR / "node_modules" / "wechatpay-axios-plugin").is_dir():
        NODE_DIR.mkdir(exist_ok=True)
        result = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", "wechatpay-axios-plugin"],
                                cwd=NODE_DIR, capture_output=True, text=True)
        if result.returncode:
            print(f"could not install wechatpay-axios-plugin: {result.stderr.strip()[:300]}", file=sys.stderr)
            return False
    return True


def node_peer_command(config: Path) -> list[str]:
    import tomllib

    profile = tomllib.loads(config.read_text())["profiles"]["sandbox"]
    return ["node", str(NODE_SCRIPT), profile["base_url"], profile["mchid"], profile["serial_no"],
            profile["private_key"], profile["public_key_id"], profile["public_key"]]


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


def measure(cmd: list[str], env: dict, stdin_path: Path | None = None) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds (user + system), peak resident memory in MiB) of one run of `cmd`."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "stdin = open(sys.argv[1]) if sys.argv[1] != '-' else None\n"
        "t = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[2:], stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
        "t = time.perf_counter() - t\n"
        "if r.returncode: sys.exit(r.stderr.decode())\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(t, u.ru_utime + u.ru_stime, u.ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(stdin_path or "-"), *cmd], env=env,
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr}")
    seconds, cpu, kib = out.stdout.split()
    return float(seconds), float(cpu), int(kib) / 1024


def start_sandbox(env: dict, pupils: Path) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen([wxpay_exe(), "sandbox", "serve", "--quiet", "--pupils", str(pupils)], env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    ready = ""
    for _ in range(5):  # "N pupils loaded from …" may come first
        ready = proc.stderr.readline()
        if "profile written to" in ready or not ready:
            break
    if "profile written to" not in ready:
        proc.kill()
        sys.exit(f"the sandbox did not start: {ready}")
    return proc, Path(ready.rsplit("profile written to ", 1)[1].strip())


def start_free_server(work: Path) -> tuple[subprocess.Popen, Path]:
    folder = work / "free"
    folder.mkdir()
    proc = subprocess.Popen([str(BIN / "python"), str(FREE_SERVER), str(folder)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    ready = proc.stdout.readline()
    if not ready.startswith("ready "):
        proc.kill()
        sys.exit(f"the near-free server did not start: {ready}{proc.stderr.read()[:500]}")
    return proc, Path(ready.split(" ", 1)[1].strip())


def write_rows(path: Path, count: int) -> Path:
    """A roster of `count` different pupils (a pupil listed twice in a link batch is DUPLICATE_ROW)."""
    with path.open("w") as handle:
        handle.write("out_user_id,organization_id\n")
        for i in range(count):
            handle.write(f"b{i:06d},demo-org\n")
    return path


def write_pupils(path: Path, count: int) -> Path:
    """The sandbox's pupils: the demo pupil the single calls use, and the batch roster's."""
    with path.open("w") as handle:
        handle.write("out_user_id,organization_id,name,class,contract_state\n")
        handle.write("demo,demo-org,张小明,三年级二班,CONTRACTED\n")
        for i in range(count):
            handle.write(f"b{i:06d},demo-org,学生{i},三年级二班,CONTRACTED\n")
    return path


def write_audit_log(path: Path, records: int, pupils: int, mchid: str) -> Path:
    """An audit log of `records` lines as wxpay writes them, about `pupils` pupils taking turns:
    each pupil's case in ten steps (link, forwarding, a dry run, the attempt, the termination,
    then five observations by --refresh), names and classes filled in. Made from templates, so
    a million lines take seconds."""
    from datetime import datetime, timedelta, timezone

    fields = ("time", "operator", "host", "profile", "mchid", "operation", "organization_id", "out_user_id",
              "user_id", "contract_id", "outcome", "http_status", "request_id", "error", "expire_at", "user_name",
              "class_name", "contract_state")
    steps = [("repayment_url", "fetched", 200, None), ("forward", "confirmed", None, None),
             ("terminate", "dry_run", None, None), ("terminate", "attempted", None, None),
             ("terminate", "succeeded", 204, None)] + [("observe", "observed", 200, "TERMINATED")] * 5
    templates = []
    for operation, outcome, status, state in steps:
        record = dict.fromkeys(fields)
        record.update(time="@T", operator="张三", host="ops-laptop-01", profile="school-a", mchid=mchid,
                      operation=operation, organization_id="1234567", out_user_id="@P", user_id="wxu_@P",
                      contract_id="ct_@P", outcome=outcome, http_status=status, request_id="08A1B2C3D4E5F6@R",
                      user_name="王小明", class_name="三年级二班", contract_state=state,
                      expire_at="@X" if outcome == "fetched" else None)
        text = json.dumps(record, ensure_ascii=False).replace("{", "{{").replace("}", "}}")
        for mark, slot in (("@T", "{t}"), ("@P", "{p}"), ("@R", "{r}"), ("@X", "{x}")):
            text = text.replace(mark, slot)
        templates.append(text + "\n")
    start = datetime(2026, 1, 5, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    with path.open("w", encoding="utf-8") as handle:
        chunk = []
        for n in range(records):
            moment = start + timedelta(seconds=n * 3)
            chunk.append(templates[(n // pupils) % len(templates)].format(
                t=moment.isoformat(), p=f"2024{n % pupils:06d}", r=f"{n:012d}",
                x=(moment + timedelta(minutes=30)).isoformat()))
            if len(chunk) == 10_000:
                handle.write("".join(chunk))
                chunk = []
        handle.write("".join(chunk))
    return path


def cases_config(work: Path, config: Path, log: Path) -> Path:
    """A copy of the sandbox's profile whose audit log is `log`."""
    import tomllib

    document = tomllib.loads(config.read_text())
    profile = document["profiles"]["sandbox"]
    lines = ['default_profile = "sandbox"', "[profiles.sandbox]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in profile.items() if key != "audit_log"]
    lines.append(f"audit_log = {json.dumps(str(log))}")
    path = work / f"cases-{log.stem}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and rows")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    args = parser.parse_args()
    runs = 5 if args.quick else 15
    batch_runs = 1 if args.quick else 3
    batch_rows = 200 if args.quick else 1000
    free_rows = 500 if args.quick else 2000
    memory_rows = (2_000, 10_000) if args.quick else (1_000, 100_000)
    cases_records = (20_000, 200_000) if args.quick else (100_000, 1_000_000)
    cases_pupils = 2_000 if args.quick else 10_000

    have_peer = prepare_venv()
    have_node = prepare_node()
    python = str(BIN / "python")
    work = Path(tempfile.mkdtemp(prefix="wxpay-bench-"))
    env = {**os.environ, "XDG_STATE_HOME": str(work / "state"), "HOME": str(work),
           "NODE_PATH": str(NODE_DIR / "node_modules")}
    work.joinpath("state").mkdir()
    sandbox, config = start_sandbox(env, write_pupils(work / "pupils.csv", batch_rows))
    free, free_config = start_free_server(work)
    env["WXPAY_CONFIG"] = str(config)
    free_env = {**env, "WXPAY_CONFIG": str(free_config)}
    wxpay = wxpay_exe()
    figures: dict[str, float] = Figures()
    try:
        # Start-up, as ratios to importing click, all in this run.
        click_import, version, help_ = timed(
            [[python, "-c", "import click"], [wxpay, "--version"], [wxpay, "repayment-url", "--help"]], env, runs * 2)
        figures["import_click_s"] = click_import
        figures["version_ratio"] = version / click_import
        figures["help_ratio"] = help_ / click_import

        # One call as a whole process, and the peers making the same call to the same sandbox.
        commands = {"single_call_s": [wxpay, "repayment-url", "--user", "demo", "--org", "demo-org"]}
        if have_peer:
            commands["peer_call_s"] = [python, str(PEER_SCRIPT), str(config)]
        if have_node:
            commands["node_call_s"] = node_peer_command(config)
        figures.update(zip(commands, timed(list(commands.values()), env, runs), strict=True))

        # Batch throughput against the sandbox, and against the near-free server (with CPU per
        # row), taking turns; medians of the repeats.
        rows = write_rows(work / "rows.csv", batch_rows)
        free_rows_path = write_rows(work / "free-rows.csv", free_rows)
        samples: dict[str, list[float]] = {}
        for _ in range(batch_runs):
            for concurrency in (1, 8, 32):
                seconds, _, _ = measure([wxpay, "repayment-url", "--batch", str(rows), "--concurrency",
                                         str(concurrency)], env)
                samples.setdefault(f"batch_c{concurrency}_rows_per_s", []).append(batch_rows / seconds)
            seconds, cpu, _ = measure([wxpay, "repayment-url", "--batch", str(free_rows_path), "--concurrency", "32"],
                                      free_env)
            samples.setdefault("free_c32_rows_per_s", []).append(free_rows / seconds)
            samples.setdefault("free_cpu_ms_per_row", []).append(cpu / free_rows * 1000)
        figures.update({name: statistics.median(values) for name, values in samples.items()})

        # Peak memory: small and large batches through the same path (user show, stdin), near-free server.
        for count in memory_rows:
            path = write_rows(work / f"mem{count}.csv", count)
            seconds, _, mib = measure([wxpay, "user", "show", "--batch", "-", "--concurrency", "32"], free_env, path)
            figures[f"peak_rss_mib_{count}"] = mib
            figures[f"mem_batch_{count}_rows_per_s"] = count / seconds

        # `wxpay cases` over a large audit log: cold (no index beside the log yet: the whole log is
        # read) and warm (the index is current: nothing new to read); peak memory for both sizes.
        for count in cases_records:
            log = write_audit_log(work / f"audit{count}.jsonl", count, cases_pupils, profile_mchid(config))
            cases_env = {**env, "WXPAY_CONFIG": str(cases_config(work, config, log))}
            seconds, _, mib = measure([wxpay, "cases", "--json"], cases_env)
            figures[f"cases_{count}_cold_s"] = seconds
            figures[f"cases_peak_rss_mib_{count}"] = mib
            warm = [measure([wxpay, "cases", "--json"], cases_env)[0] for _ in range(3)]
            figures[f"cases_{count}_warm_s"] = statistics.median(warm)
            log.unlink()
    finally:
        for server in (sandbox, free):
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    report(figures, batch_rows, free_rows, memory_rows, cases_records)
    if args.json:
        print(json.dumps(figures))


class Figures(dict):
    """The figures so far; each is also shown on stderr as it comes, so a long run can be followed."""

    def __setitem__(self, name: str, value: float) -> None:
        print(f"  {name} = {value:.4g}", file=sys.stderr, flush=True)
        super().__setitem__(name, value)

    def update(self, *args, **kwargs) -> None:
        for name, value in dict(*args, **kwargs).items():
            self[name] = value


def profile_mchid(config: Path) -> str:
    import tomllib

    return tomllib.loads(config.read_text())["profiles"]["sandbox"]["mchid"]


def report(f: dict[str, float], batch_rows: int, free_rows: int, memory_rows: tuple[int, int],
           cases_records: tuple[int, int] = (100_000, 1_000_000)) -> None:
    """The run's figures as a table, each target with `met` or `MISSED`, then how many were met."""
    import platform

    single = f["single_call_s"]
    small, large = (f[f"peak_rss_mib_{count}"] for count in memory_rows)
    growth = large / small - 1
    lines = [  # (measure, figure, target, met: None when the line has no target)
        ("wxpay --version / import click", f"{f['version_ratio']:.2f}x", "<= 1.5x", f["version_ratio"] <= 1.5),
        ("wxpay repayment-url --help / import click", f"{f['help_ratio']:.2f}x", "<= 1.8x", f["help_ratio"] <= 1.8),
    ]
    # A peer that was not measured (no node or npm, wechatpayv3 not installed) leaves its
    # targets MISSED, not dropped: "faster of the two peers" needs both, and a run that
    # measured fewer peers must not read "every target met".
    if "peer_call_s" in f and "node_call_s" in f:
        faster = min(f["peer_call_s"], f["node_call_s"])
        lines.append(("one repayment-url call, whole process", f"{single * 1000:.0f} ms",
                      f"wxpay / faster peer = {single / faster:.2f} (<= 1.0)", single / faster <= 1.0))
    else:
        lines.append(("one repayment-url call, whole process", f"{single * 1000:.0f} ms",
                      "wxpay / faster peer <= 1.0: not measured (a peer is missing)", False))
    if "peer_call_s" in f:
        ratio = single / f["peer_call_s"]
        lines.append(("same call, wechatpayv3 SDK script (PyPI peer)", f"{f['peer_call_s'] * 1000:.0f} ms",
                      f"wxpay / peer = {ratio:.2f} (<= 0.8)", ratio <= 0.8))
    else:
        lines.append(("same call, wechatpayv3 SDK script (PyPI peer)", "-",
                      "wxpay / peer <= 0.8: not measured", False))
    if "node_call_s" in f:
        lines.append(("same call, wechatpay-axios-plugin script (npm peer)", f"{f['node_call_s'] * 1000:.0f} ms",
                      f"wxpay / peer = {single / f['node_call_s']:.2f}", None))
    else:
        lines.append(("same call, wechatpay-axios-plugin script (npm peer)", "-", "not measured", None))
    for c in (1, 8, 32):
        rate = f[f"batch_c{c}_rows_per_s"]
        lines.append((f"batch of {batch_rows:,}, sandbox, concurrency {c}", f"{rate:.0f} rows/s",
                      ">= 200 rows/s" if c == 32 else "", rate >= 200 if c == 32 else None))
    lines.append((f"batch of {free_rows:,}, near-free server, concurrency 32", f"{f['free_c32_rows_per_s']:.0f} rows/s",
                  ">= 250 rows/s", f["free_c32_rows_per_s"] >= 250))
    lines.append(("CPU per row (whole process / rows, near-free server)", f"{f['free_cpu_ms_per_row']:.2f} ms",
                  "<= 4 ms", f["free_cpu_ms_per_row"] <= 4))
    lines.append((f"peak memory, user show --batch of {memory_rows[0]:,} rows", f"{small:.1f} MiB", "", None))
    # Flat: 100 times the rows may not cost a tenth more. (What a batch must keep grows with
    # time, not rows: the replay check holds each answer's nonce for 600 s, 16-32 bytes.)
    lines.append((f"peak memory, user show --batch of {memory_rows[1]:,} rows", f"{large:.1f} MiB",
                  f"flat: {growth * 100:+.0f} % (<= +10 %)", growth <= 0.10))
    # `wxpay cases` (issue 19): under 5 s for the large log with its index current; the first run,
    # which reads the whole log and writes the index, is reported beside it. Memory grows with the
    # pupils, not the records: ten times the records (the same pupils) may not cost a quarter more.
    few, many = cases_records
    if f"cases_{many}_warm_s" in f:
        warm, cold = f[f"cases_{many}_warm_s"], f[f"cases_{many}_cold_s"]
        lines.append((f"wxpay cases, audit log of {many:,} records, index current", f"{warm:.2f} s", "< 5 s",
                      warm < 5))
        lines.append(("wxpay cases, the same log, first run (no index yet)", f"{cold:.2f} s", "", None))
        small_c, large_c = f[f"cases_peak_rss_mib_{few}"], f[f"cases_peak_rss_mib_{many}"]
        growth_c = large_c / small_c - 1
        lines.append((f"peak memory, wxpay cases, {few:,} records", f"{small_c:.1f} MiB", "", None))
        lines.append((f"peak memory, wxpay cases, {many:,} records", f"{large_c:.1f} MiB",
                      f"by pupils: {growth_c * 100:+.0f} % (<= +25 %)", growth_c <= 0.25))
    else:
        lines.append((f"wxpay cases, audit log of {many:,} records", "-", "< 5 s: not measured", False))
        lines.append(("peak memory, wxpay cases", "-", "by pupils: not measured", False))
    width = max(len(name) for name, *_ in lines)
    print(f"{time.strftime('%Y-%m-%d %H:%M %Z')} on {platform.node()}: {os.cpu_count()} CPUs, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
    print(f"{'measure'.ljust(width)}  {'figure':>12}  target")
    for name, value, target, met in lines:
        verdict = "" if met is None else ("  met" if met else "  MISSED")
        print(f"{name.ljust(width)}  {value:>12}  {target}{verdict}".rstrip())
    verdicts = [met for *_, met in lines if met is not None]
    print(f"targets met: {sum(verdicts)} of {len(verdicts)}")


if __name__ == "__main__":
    main()
