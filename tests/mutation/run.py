"""Hand-made mutation run for the safety-critical modules: break one line at a time
and check that a test fails.

    python tests/mutation/run.py            # every mutation, 2 at a time
    python tests/mutation/run.py --list     # what would be tried
    python tests/mutation/run.py -k audit   # only mutations whose name holds "audit"

Each mutation is applied to a copy of the package in a temporary folder; the tests
named for it run against that copy (PYTHONPATH, so subprocess tests run the mutant
too). A mutation is killed when those tests fail, survived when they pass. The
score is printed at the end; the exit status is 1 when any mutation survived.
Add a mutation when you add a rule: (name, file, the exact original text, the
broken text, the test files that must notice).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TERMINATION_TESTS = ("tests/test_termination.py", "tests/test_last_net.py")
AUDIT_TESTS = ("tests/test_audit_faults.py", "tests/test_audit.py", "tests/test_termination.py")
PROMPT_TESTS = ("tests/test_terminal.py",)

MUTATIONS: list[tuple[str, str, str, str, tuple[str, ...]]] = [
    # -- termination.py -------------------------------------------------------------
    ("termination: a failed re-query read as TERMINATED", "wxpay_cli/termination.py",
     'if state == "TERMINATED":', 'if state in ("TERMINATED", None):', TERMINATION_TESTS),
    ("termination: re-query not bound to the terminated user_id", "wxpay_cli/termination.py",
     'if data.get("user_id") != target.user_id:', "if False:", TERMINATION_TESTS),
    ("termination: re-query without contract_state accepted", "wxpay_cli/termination.py",
     "if not isinstance(state, str) or not state:", "if False:", TERMINATION_TESTS),
    ("termination: record without contract_state terminable", "wxpay_cli/termination.py",
     "if target.looked_up and not (isinstance(target.contract_state, str) and target.contract_state):",
     "if False:", TERMINATION_TESTS),
    ("termination: TERMINATED contract terminable", "wxpay_cli/termination.py",
     'if target.contract_state not in (None, "CONTRACTED"):',
     'if target.contract_state not in (None, "CONTRACTED", "TERMINATED"):', TERMINATION_TESTS),
    ("termination: connect failure reported as may-or-may-not", "wxpay_cli/termination.py",
     "            if exc.never_sent:", "            if False:", TERMINATION_TESTS),
    ("termination: a 4xx answer taken as a refusal (no re-query)", "wxpay_cli/termination.py",
     "        except WxpayError as exc:  # any answer, even a 4xx, proves it was sent: ask, never resend\n"
     "            return (yield from self._after_uncertain_answer(target, exc))",
     "        except WxpayError as exc:  # any answer, even a 4xx, proves it was sent: ask, never resend\n"
     "            if exc.http_status and exc.http_status < 500:\n"
     '                self.record(target, "refused", error=exc.code)\n'
     "                raise\n"
     "            return (yield from self._after_uncertain_answer(target, exc))", TERMINATION_TESTS),
    ("termination: no attempted line before the POST", "wxpay_cli/termination.py",
     '        self.record(target, "attempted")\n', "", TERMINATION_TESTS),
    ("termination: interruption or bug not recorded", "wxpay_cli/termination.py",
     '        self._record_or_note(note, target, "unknown", error=note.code if error else type(exc).__name__)',
     "        pass", TERMINATION_TESTS),
    ("termination: SIGTERM reported as Ctrl-C", "wxpay_cli/termination.py",
     "by_sigterm=isinstance(exc, SigtermReceived)", "by_sigterm=False", TERMINATION_TESTS),
    ("termination: an open outcome recorded as succeeded", "wxpay_cli/termination.py",
     '        self._record_or_note(exc, target, "unknown", http_status=exc.http_status, request_id=exc.request_id,',
     '        self._record_or_note(exc, target, "succeeded", http_status=exc.http_status, request_id=exc.request_id,',
     TERMINATION_TESTS),
    ("termination: Ctrl-C during the POST not thrown into the flow", "wxpay_cli/steps.py",
     "        except BaseException as exc:  # the flow decides: a termination must record Ctrl-C and bugs too",
     "        except Exception as exc:", TERMINATION_TESTS),
    ("client: 429 on the termination retried", "wxpay_cli/client.py",
     "if not idempotent or not (status == 429 or status >= 500):",
     "if not (status == 429 or (status >= 500 and idempotent)):", TERMINATION_TESTS),
    ("cli: the last net removed", "wxpay_cli/cli.py",
     "        except Exception as exc:\n            # The last net", "        except ZeroDivisionError as exc:\n            # The last net",
     TERMINATION_TESTS),
    # -- audit.py -------------------------------------------------------------------
    ("audit: fsync skipped", "wxpay_cli/audit.py",
     "            self._write(fd, line)\n            os.fsync(fd)", "            self._write(fd, line)", AUDIT_TESTS),
    ("audit: unknown fields accepted", "wxpay_cli/audit.py", "        if unknown:", "        if False:", AUDIT_TESTS),
    ("audit: a failed write swallowed", "wxpay_cli/audit.py",
     "            os.fsync(fd)\n        except OSError as exc:\n            raise self._failed(exc) from None",
     "            os.fsync(fd)\n        except OSError as exc:\n            pass", AUDIT_TESTS),
    ("audit: a damaged line fatal", "wxpay_cli/audit.py",
     "                except (UnicodeDecodeError, ValueError, RecursionError):\n                    record = None",
     "                except (UnicodeDecodeError, ValueError, RecursionError):\n                    raise", AUDIT_TESTS),
    ("audit: damaged lines skipped silently", "wxpay_cli/audit.py",
     "                    self.unreadable.append(number)", "                    pass", AUDIT_TESTS),
    ("audit: times without their UTC offset", "wxpay_cli/audit.py",
     "datetime.now().astimezone().isoformat(", "datetime.now().isoformat(", AUDIT_TESTS),
    ("audit: no new line after a torn tail", "wxpay_cli/audit.py",
     'if size and os.pread(fd, 1, size - 1) != b"\\n":', "if False:", AUDIT_TESTS),
    ("audit: a short write left short", "wxpay_cli/audit.py",
     "            view = view[written:]", "            view = view[len(view):]", AUDIT_TESTS),
    ("audit: writability not checked up front", "wxpay_cli/audit.py",
     "        os.close(self._open())", "        pass", AUDIT_TESTS),
    # -- the prompt -----------------------------------------------------------------
    ("prompt: typed-ahead input not flushed", "wxpay_cli/commands/_prompt.py",
     "    flush_typeahead()\n    return click.confirm", "    return click.confirm", PROMPT_TESTS),
    ("prompt: asked when only one of stdin/stderr is a terminal", "wxpay_cli/commands/_prompt.py",
     "return sys.stdin.isatty() and sys.stderr.isatty()", "return sys.stdin.isatty() or sys.stderr.isatty()",
     PROMPT_TESTS),
    ("output: format chosen from stderr", "wxpay_cli/output.py",
     'return "table" if stdout_is_terminal() else "json"', 'return "table" if sys.stderr.isatty() else "json"',
     PROMPT_TESTS),
]


def run_one(mutation, timeout: float) -> tuple[str, str]:
    name, file, original, broken, tests = mutation
    with tempfile.TemporaryDirectory(prefix="wxpay-mutant-") as folder:
        copy = Path(folder)
        # The tests run from the copy: `python -m pytest` puts its folder first on sys.path,
        # so run from the checkout it would test the unbroken package in-process.
        for part in ("wxpay_cli", "tests"):
            shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__", "mutation"))
        shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
        if file is not None:
            target = copy / file
            text = target.read_text(encoding="utf-8")
            if text.count(original) != 1:
                return name, f"NOT APPLIED (original text found {text.count(original)} times)"
            target.write_text(text.replace(original, broken), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return name, "killed (timeout)"
        if result.returncode not in (0, 1):  # 2-5: the run itself broke (collection, usage): say so
            return name, f"ERROR ({result.returncode}): {result.stdout.strip().splitlines()[-1:]}"
        return name, "killed" if result.returncode == 1 else "SURVIVED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only mutations whose name holds this text")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if args.k in m[0]]
    if args.list:
        for mutation in chosen:
            print(mutation[0])
        return 0
    with ThreadPoolExecutor(args.jobs) as pool:
        # First the unbroken code: a test that fails anyway would count every mutation as killed.
        suites = sorted({m[4] for m in chosen})
        baseline = list(pool.map(lambda tests: run_one(("baseline", None, "", "", tests), args.timeout), suites))
        broken = [(tests, verdict) for tests, (_, verdict) in zip(suites, baseline, strict=True) if verdict != "SURVIVED"]
        if broken:
            for tests, verdict in broken:
                print(f"baseline fails ({verdict}): {' '.join(tests)}")
            return 2
        results = list(pool.map(lambda m: run_one(m, args.timeout), chosen))
    for name, verdict in results:
        print(f"{verdict:<10} {name}")
    killed = sum(verdict.startswith("killed") for _, verdict in results)
    print(f"\n{killed} of {len(results)} mutations killed ({100 * killed / max(len(results), 1):.0f} %)")
    return 0 if killed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
