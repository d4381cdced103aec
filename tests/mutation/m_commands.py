"""Mutations of the command-level guards: who is asked, where output goes, what request may send (issue 8)."""

TESTS = [
    'tests/test_lookup_and_request.py', 'tests/test_repayment_url.py', 'tests/test_terminal.py', 'tests/test_termination.py',
]

MUTATIONS = [
    # (path, original, replacement, why)
    ('wxpay_cli/terminal/prompt.py',
     'sys.stdin.isatty() and sys.stderr.isatty()',
     'sys.stdin.isatty() or sys.stderr.isatty()',
     'a prompt shown when only one of stdin/stderr is a terminal'),
    ('wxpay_cli/terminal/output.py',
     'def stdout_is_terminal() -> bool:\n    return _isatty(sys.stdout)',
     'def stdout_is_terminal() -> bool:\n    return _isatty(sys.stderr)',
     'the output format chosen from stderr'),
    ('wxpay_cli/commands/request.py',
     'if method != "GET" and pattern.search(bare):',
     'if method == "POST" and pattern.search(bare):',
     'wxpay request lets PUT/PATCH/DELETE reach terminate-contract'),
]
