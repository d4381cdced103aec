"""Mutations of what makes wxpay fast without changing what it does (issue 11): the
httpx CLI placeholder, the collector eased at start-up, the replay check's memory."""

TESTS = ["tests/test_imports.py", "tests/test_collector.py", "tests/test_binding_and_replay.py"]

MUTATIONS = [
    # (path, original, replacement, why)
    ("wxpay_cli/wire/httpx_loading.py", "    if _unsupported:\n", "    if False:\n",
     "an httpx that no longer takes the placeholder is used half-understood"),
    ("wxpay_cli/wire/httpx_loading.py", "    sys.modules[\"httpx._main\"] = placeholder\n", "\n",
     "every call pays for httpx's own CLI (rich, pygments) again"),
    ("wxpay_cli/collector.py", "        gc.set_threshold(*_usual)\n", "\n",
     "a batch runs with start-up's rare collections"),
    ("wxpay_cli/collector.py", "        gc.freeze()\n", "\n", "start-up's objects walked again by every collection"),
    ("wxpay_cli/commands/sandbox.py", "        collector.started()  # it may serve for hours", "        pass  # it may",
     "sandbox serve runs for hours with start-up's rare collections"),
    ("wxpay_cli/app.py", "        collector.started()  # a batch is collected as usual", "        pass  # a batch",
     "a batch client never ends start-up"),
    ("wxpay_cli/local/nonces.py", "                if nonce in self._others:\n                    return True",
     "                if False:\n                    return True", "an answer another run accepted is not refused"),
    ("wxpay_cli/local/nonces.py", "                # This run's own nonces are the Verifier's memory's: kept there only, not twice.",
     "                self._others.add(nonce, now)", "a run's own nonces held twice"),
    ("wxpay_cli/wire/signing.py", "        return any(fingerprint in table for table in self._tables)",
     "        return False", "NonceMemory never contains anything"),
]
