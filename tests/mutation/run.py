"""Hand-made mutation run: break the safety-critical code one line at a time, see a test fail.

Each `tests/mutation/m_*.py` lists `MUTATIONS` (path, exact original text,
replacement, why it matters) and the `TESTS` that should kill them. For each
mutation the run copies the project to a temporary folder, applies it there
(the working tree is never touched), runs those tests with `-x` and the copy
first on PYTHONPATH, and counts it killed when they fail. Mutations run two
(or `-j N`) at a time.

    python tests/mutation/run.py                  # every list (about 15 minutes on 2 cores)
    python tests/mutation/run.py serials batch    # only m_serials.py and m_batch.py
    python tests/mutation/run.py -j 4 -k window   # mutations whose reason mentions "window"

It prints each survivor and the score per list, and exits 1 when any list is
under 90 % killed or a mutation no longer applies (its original text changed:
update the list). CI does not run it: it runs the tests once per mutation.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TARGET = 0.90
IGNORE = shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", ".pytest_cache", ".venv", "node_modules")


def lists(names: list[str]):
    for path in sorted(HERE.glob("m_*.py")):
        if names and path.stem[2:] not in names:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield path.stem[2:], module.MUTATIONS, module.TESTS


def run_one(job) -> str:
    """'killed', 'ALIVE' or 'STALE' for one mutation, tried on its own copy of the project."""
    path, original, replacement, tests = job
    source = (ROOT / path).read_text(encoding="utf-8")
    if source.count(original) != 1:
        return "STALE"
    with tempfile.TemporaryDirectory(prefix="wxpay-mutation-") as temp:
        copy = Path(temp) / "project"
        shutil.copytree(ROOT, copy, ignore=IGNORE)
        (copy / path).write_text(source.replace(original, replacement), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider", *tests],
                                    cwd=copy, env=env, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            return "killed"  # the tests hung: they noticed
    if result.returncode in (4, 5):  # pytest's usage error / no tests collected: the list is wrong
        return "STALE"
    return "ALIVE" if result.returncode == 0 else "killed"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Hand-made mutation run (see the module docstring).")
    parser.add_argument("lists", nargs="*", help="list names (m_NAME.py); default: all")
    parser.add_argument("-j", type=int, default=os.cpu_count() or 2, help="mutations tried at once")
    parser.add_argument("-k", default="", help="only mutations whose reason contains this text")
    args = parser.parse_args(argv)
    jobs = [(name, why, (path, original, replacement, tests))
            for name, mutations, tests in lists(args.lists)
            for path, original, replacement, why in mutations if args.k in why]
    started = time.monotonic()
    tally: dict[str, Counter] = {}
    with ThreadPoolExecutor(max_workers=max(1, args.j)) as pool:
        for (name, why, (path, *_rest)), outcome in zip(jobs, pool.map(run_one, [job for *_n, job in jobs]), strict=True):
            tally.setdefault(name, Counter())[outcome] += 1
            print(f"{outcome:6} {name}: {path}: {why}", flush=True)
    print()
    failing = False
    for name, counts in tally.items():
        tried = counts["killed"] + counts["ALIVE"]
        score = counts["killed"] / tried if tried else 1.0
        failing |= score < TARGET or bool(counts["STALE"])
        print(f"{name:14} {counts['killed']}/{tried} killed ({score:.0%}); {counts['STALE']} stale")
    killed = sum(c["killed"] for c in tally.values())
    tried = killed + sum(c["ALIVE"] for c in tally.values())
    print(f"{'all':14} {killed}/{tried} killed ({killed / max(1, tried):.0%}) in {time.monotonic() - started:.0f} s")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
