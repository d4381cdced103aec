"""Mutations of what makes wxpay fast without changing what it does (issue 11): the
deferred imports, the collector eased at start-up, the replay check's memory."""

TESTS = ["tests/test_imports.py", "tests/test_collector.py", "tests/test_review_attacks.py"]

MUTATIONS = [
    # (path, original, replacement, why)
    ("wxpay_cli/httpx_loading.py", 'for name in ("trio", "anyio", "certifi", "idna"):',
     'for name in ("trio", "anyio", "idna"):', "a single call pays for certifi again"),
    ("wxpay_cli/httpx_loading.py", 'for name in ("trio", "anyio", "certifi", "idna"):',
     'for name in ("trio", "anyio", "certifi"):', "a single call pays for idna again"),
    ("wxpay_cli/httpx_loading.py", 'for name in ("trio", "anyio", "certifi", "idna"):',
     'for name in ("trio", "certifi", "idna"):', "a single call pays for anyio again"),
    ("wxpay_cli/httpx_loading.py", "        with state[0]:", "        if True:",
     "a second thread finds a deferred module half run"),
    ("wxpay_cli/httpx_loading.py", "                    if type(self) is _Deferred:  # its code may",
     "                    if True:  # its code may", "a module that sets its own class (trio) loses it"),
    ("wxpay_cli/collector.py", "        gc.set_threshold(*_usual)\n", "\n",
     "a batch runs with start-up's rare collections"),
    ("wxpay_cli/collector.py", "        gc.freeze()\n", "\n", "start-up's objects walked again by every collection"),
    ("wxpay_cli/commands/sandbox.py", "        collector.started()  # it may serve for hours", "        pass  # it may",
     "sandbox serve runs for hours with start-up's rare collections"),
    ("wxpay_cli/app.py", "        collector.started()  # a batch is collected as usual", "        pass  # a batch",
     "a batch client never ends start-up"),
    ("wxpay_cli/nonces.py", "            if nonce in self._others:\n                return True",
     "            if False:\n                return True", "an answer another run accepted is not refused"),
    ("wxpay_cli/nonces.py", "            # This run's own nonces are the Verifier's memory's: kept there only, not twice.",
     "            self._others.add(nonce, now)", "a run's own nonces held twice"),
    ("wxpay_cli/signing.py", "        return any(fingerprint in table for table in self._tables)",
     "        return False", "NonceMemory never contains anything"),
]
