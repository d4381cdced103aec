"""The test of the tests: break the safety-critical code one line at a time and
check that the suite notices.

    python tests/mutation/run.py            # every mutant (a few minutes on 2 cores)
    python tests/mutation/run.py -k serial  # only mutants whose name contains "serial"
    python tests/mutation/run.py --list     # what would run

Each mutant in `mutants.py` replaces one exact piece of code in one module
(signing, the client's verification, termination, batch, audit). The runner
copies the working tree to a temporary folder, applies the mutant there, and
runs the tests that guard that module with `-x`. A mutant is *killed* when
those tests fail, *survived* when they pass, and *stale* when its code is no
longer found (the module changed: update the mutant). It prints the score per
module and exits 1 below 90 % killed, or when any mutant is stale.

Not part of the normal test run (it runs the suite many times); run it before
closing work on these modules.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from mutants import MUTANTS, Mutant  # noqa: E402

TARGET = 0.90
TIMEOUT = 300  # seconds for one mutant's tests; a hang counts as killed (the suite noticed)


def copy_tree(into: Path) -> None:
    for name in ("wxpay_cli", "tests"):
        shutil.copytree(ROOT / name, into / name, ignore=shutil.ignore_patterns("__pycache__", "mutation"))
    shutil.copy2(ROOT / "pyproject.toml", into / "pyproject.toml")


def run_one(mutant: Mutant) -> tuple[Mutant, str, float]:
    source = (ROOT / mutant.module).read_text(encoding="utf-8")
    if source.count(mutant.find) != 1:
        return mutant, "stale", 0.0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wxpay-mutant-") as folder:
        tree = Path(folder)
        copy_tree(tree)
        (tree / mutant.module).write_text(source.replace(mutant.find, mutant.replace), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                   *(str(tree / "tests" / name) for name in mutant.tests)]
        try:
            result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=TIMEOUT)
            outcome = "survived" if result.returncode == 0 else "killed"
            if result.returncode not in (0, 1):
                outcome = "killed" if result.returncode == 2 and "error" in result.stdout.lower() else outcome
                if result.returncode in (4, 5):  # usage error / no tests: the mutant list is wrong
                    outcome = "stale"
        except subprocess.TimeoutExpired:
            outcome = "killed"
    return mutant, outcome, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only mutants whose name contains this")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("-j", type=int, default=os.cpu_count() or 2, help="mutants run at once")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if args.k in m.name]
    if args.list:
        for m in chosen:
            print(f"{m.module:32} {m.name}")
        return 0
    tally: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    problems = []
    with ThreadPoolExecutor(max_workers=args.j) as pool:
        for mutant, outcome, seconds in pool.map(run_one, chosen):
            tally[mutant.module][outcome] += 1
            print(f"{outcome:9} {seconds:5.1f} s  {mutant.module}: {mutant.name}", flush=True)
            if outcome != "killed":
                problems.append((outcome, mutant))
    print()
    total_killed = total = 0
    for module, counts in sorted(tally.items()):
        scored = counts["killed"] + counts["survived"]
        total_killed += counts["killed"]
        total += scored
        share = counts["killed"] / scored if scored else 1.0
        print(f"{module:32} {counts['killed']}/{scored} killed ({share:.0%})"
              + (f", {counts['stale']} stale" if counts["stale"] else ""))
    score = total_killed / total if total else 1.0
    print(f"{'all':32} {total_killed}/{total} killed ({score:.0%}); target {TARGET:.0%}")
    for outcome, mutant in problems:
        print(f"  {outcome}: {mutant.module}: {mutant.name}")
    below = any(c["killed"] / max(1, c["killed"] + c["survived"]) < TARGET for c in tally.values())
    return 1 if below or any(outcome == "stale" for outcome, _ in problems) else 0


if __name__ == "__main__":
    sys.exit(main())
