"""The hand-made mutants: one exact piece of a safety-critical module, and what it becomes.

Each names the test files that guard its module; the runner runs those with
`-x` on a copy of the tree with the mutant applied. The first group are the
mutations a review left alive (issue 8); the rest break each remaining
decision of these modules once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    name: str
    module: str
    find: str
    replace: str
    tests: tuple[str, ...]


SIGNING_TESTS = ("test_signing.py", "test_protocol_vectors.py", "test_serials.py", "test_client.py",
                 "test_hostile.py", "test_verification_edges.py")


def signing(name: str, find: str, replace: str) -> Mutant:
    return Mutant(name, "wxpay_cli/signing.py", find, replace, SIGNING_TESTS)


MUTANTS: list[Mutant] = [
    # -- signing.py ---------------------------------------------------------
    signing("response message: timestamp and nonce swapped",
            'return f"{timestamp}\\n{nonce}\\n".encode() + body + b"\\n"',
            'return f"{nonce}\\n{timestamp}\\n".encode() + body + b"\\n"'),
    signing("response message: last newline dropped",
            'return f"{timestamp}\\n{nonce}\\n".encode() + body + b"\\n"',
            'return f"{timestamp}\\n{nonce}\\n".encode() + body'),
    signing("request message: last newline dropped",
            "return head + body + b\"\\n\"", "return head + body"),
    signing("request message: path and method swapped",
            'head = f"{method.upper()}\\n{target}\\n{timestamp}\\n{nonce}\\n".encode()',
            'head = f"{target}\\n{method.upper()}\\n{timestamp}\\n{nonce}\\n".encode()'),
    signing("SIGNTEST probe not refused",
            "if signature.startswith(SIGNTEST_PREFIX):", "if False:"),
    signing("window boundary > becomes >=",
            "if skew > self._window:", "if skew >= self._window:"),
    signing("window 300 becomes 301",
            "if skew > self._window:", "if skew > self._window + 1:"),
    signing("signature base64 decoded leniently",
            "raw = base64.b64decode(signature_b64, validate=True)",
            "raw = base64.b64decode(signature_b64, validate=False)"),
    signing("empty Wechatpay-* header taken as present",
            "if not value:", "if value is None:"),
    signing("other signature type accepted",
            "if signature_type and signature_type != SCHEME:", "if False:"),
    signing("serial looked up as written (case and leading zeros matter)",
            "key = self.keys.get(serials.key_id(serial))", "key = self.keys.get(serial)"),
    signing("verification says yes on a malformed signature",
            "    except (InvalidSignature, ValueError):\n        return False",
            "    except (InvalidSignature, ValueError):\n        return True"),
    signing("replayed answers accepted",
            "self._check_fresh(nonce, now, fail)", "pass"),
    signing("replay memory forgets at once",
            "if now - seen[oldest] <= keep:", "if now - seen[oldest] <= 0:"),
    signing("timestamp of any shape parsed",
            'if not _UNIX_TIME.fullmatch(timestamp):', 'if not timestamp.strip():'),
    signing("AES-GCM associated data ignored",
            '(associated_data or "").encode()', 'b""'),
    signing("Authorization names no serial",
            'serial_no="{self.serial_no}",signature', 'serial_no="",signature'),
    signing("public key ids compared without case",
            "key = self.keys.get(serials.key_id(serial))", "key = self.keys.get(serials.key_id(serial.upper()))"),
]

TERMINATION_TESTS = ("test_termination.py", "test_last_net.py", "test_hostile.py", "test_audit_faults.py")
AUDIT_TESTS = ("test_audit.py", "test_audit_faults.py", "test_audit_group_commit.py", "test_termination.py")
BATCH_TESTS = ("test_batch.py", "test_batch_sheets.py")


def termination(name: str, find: str, replace: str) -> Mutant:
    return Mutant(name, "wxpay_cli/termination.py", find, replace, TERMINATION_TESTS)


def audit(name: str, find: str, replace: str) -> Mutant:
    return Mutant(name, "wxpay_cli/audit.py", find, replace, AUDIT_TESTS)


def batch(name: str, find: str, replace: str, module: str = "wxpay_cli/batch.py") -> Mutant:
    return Mutant(name, module, find, replace, BATCH_TESTS)


MUTANTS += [
    # -- termination.py -----------------------------------------------------
    termination("no attempted line before the POST",
                'self.record(target, "attempted")', "pass"),
    termination("attempted line not durable before the POST",
                'sync_now=outcome == "attempted"', "sync_now=False"),
    termination("every network failure called not sent",
                "if exc.never_sent:", "if True:"),
    termination("a failed connection called an open outcome",
                "if exc.never_sent:", "if False:"),
    termination("an answer after sending taken as final (no re-query)",
                "        except WxpayError as exc:  # any answer, even a 4xx, proves it was sent: ask, never resend\n"
                "            return (yield from self._after_uncertain_answer(target, exc))",
                "        except WxpayError as exc:  # any answer, even a 4xx, proves it was sent: ask, never resend\n"
                "            raise"),
    termination("re-query of another pupil used",
                'if data.get("user_id") != target.user_id:', "if False:"),
    termination("re-query without a state used",
                "if not isinstance(state, str) or not state:\n            raise VerificationError(_(\"the re-query",
                "if False:\n            raise VerificationError(_(\"the re-query"),
    termination("a failed re-query read as TERMINATED",
                'if state == "TERMINATED":', 'if state in ("TERMINATED", None):'),
    termination("open outcome recorded as refused",
                '"unknown", http_status=exc.http_status', '"refused", http_status=exc.http_status'),
    termination("a record without contract_state terminable",
                "if target.looked_up and not (isinstance(target.contract_state, str) and target.contract_state):",
                "if False:"),
    termination("a looked-up pupil treated as found by user_id",
                "looked_up=True,", "looked_up=False,"),
    termination("a TERMINATED contract terminable",
                'if target.contract_state not in (None, "CONTRACTED"):',
                'if target.contract_state not in (None, "CONTRACTED", "TERMINATED"):'),
    termination("Ctrl-C during the POST not recorded",
                "            raise self._abandoned(target, exc) from exc", "            raise"),
    termination("dry run not recorded",
                'self.record(target, "dry_run")', "pass"),
    termination("success without a verified answer's state re-queried",
                "result[\"contract_state\"] = yield from self._current_state(target)", "pass"),
    # -- audit.py -------------------------------------------------------------
    audit("fsync skipped in single mode",
          "            self._write(fd, line)\n            os.fsync(fd)", "            self._write(fd, line)"),
    audit("fsync skipped for a sync_now line in a batch",
          "                if sync_now:\n                    os.fsync(self._fd)",
          "                if False:\n                    os.fsync(self._fd)"),
    audit("unknown audit fields accepted",
          "        if unknown:\n            raise ValueError", "        if False:\n            raise ValueError"),
    audit("a failed audit write swallowed",
          "        except OSError as exc:\n            raise self._failed(exc) from None\n        finally:\n            os.close(fd)",
          "        except OSError as exc:\n            pass\n        finally:\n            os.close(fd)"),
    audit("a damaged audit line fatal",
          "                except (UnicodeDecodeError, ValueError, RecursionError):\n                    record = None",
          "                except (UnicodeDecodeError, ValueError, RecursionError):\n                    raise"),
    audit("damaged lines not reported",
          "                    self.unreadable.append(number)", "                    pass"),
    audit("audit times without their UTC offset",
          'datetime.now().astimezone().isoformat(timespec="seconds")',
          'datetime.now().isoformat(timespec="seconds")'),
    audit("a short write taken as whole",
          "            view = view[written:]", "            view = view[len(view):]"),
    audit("a torn tail glued to the next line",
          'if size and os.pread(fd, 1, size - 1) != b"\\n":', "if False:"),
    audit("operator not recorded",
          'record["operator"] = record["operator"] or login_name()', 'record["operator"] = None'),
    audit("a batch commit that returns before the fsync",
          "await asyncio.shield(self._syncing)", "return"),
    # -- batch.py -------------------------------------------------------------
    batch("NOT_STARTED counted as failed",
          '        if code == "NOT_STARTED":\n            self.not_started += 1',
          '        if code == "NOT_STARTED":\n            self.failed += 1'),
    batch("the last fatal row named instead of the first",
          "if self.fatal is None or number < self.fatal[0]:", "if True:"),
    batch("halt() does not wake a blocked reader",
          "        incoming.put_nowait(None)\n        room.release()", "        incoming.put_nowait(None)"),
    batch("a 401 fails one row instead of stopping the run",
          "if isinstance(exc, ApiError) and exc.http_status == 401:", "if False:"),
    batch("a verification failure fails one row only",
          "FATAL = (ConfigError, AuditLogError, VerificationError)", "FATAL = (ConfigError, AuditLogError)"),
    batch("rows started after the run stopped",
          "            if stop.is_set():\n                return _error_line(row, \"NOT_STARTED\"",
          "            if False:\n                return _error_line(row, \"NOT_STARTED\""),
    batch("a duplicate pupil blamed on the earlier row",
          "return owner if owner < number else None", "return owner if owner > number else None"),
    batch("a pupil listed twice sent twice",
          "return owner if owner < number else None", "return None"),
    batch("a batch dry run skipping the CONTRACTED check",
          "        self.check_terminable(target)\n        if dry_run:", "        if dry_run:",
          module="wxpay_cli/termination.py"),
    batch("a batch termination without the audit check up front",
          "        audit.check_writable()  # refuse before asking, looking up or sending anything", "        pass",
          module="wxpay_cli/commands/contract.py"),
    # -- commands: who may be asked, where output goes, what request may send ---
    Mutant("a prompt shown when only one of stdin/stderr is a terminal", "wxpay_cli/commands/_prompt.py",
           "sys.stdin.isatty() and sys.stderr.isatty()", "sys.stdin.isatty() or sys.stderr.isatty()",
           ("test_terminal.py", "test_termination.py")),
    Mutant("the output format chosen from stderr", "wxpay_cli/output.py",
           "def stdout_is_terminal() -> bool:\n    return sys.stdout.isatty()",
           "def stdout_is_terminal() -> bool:\n    return sys.stderr.isatty()",
           ("test_terminal.py", "test_repayment_url.py")),
    Mutant("wxpay request lets PUT/PATCH/DELETE reach terminate-contract", "wxpay_cli/commands/request_cmd.py",
           'if method != "GET" and pattern.search(bare):', 'if method == "POST" and pattern.search(bare):',
           ("test_lookup_and_request.py",)),
]
