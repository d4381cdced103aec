"""Python's cyclic garbage collector while wxpay starts.

Loading wxpay and its libraries creates about a hundred thousand objects that
live as long as the process (modules, classes, click's command table) and
almost no cyclic garbage. With the collector's usual thresholds it walks those
objects again and again while they load, and once more at exit: about a tenth
of a single call (benchmarks/run.py).

- `starting()` (the console script's first step) raises the first threshold
  from 700 to 50,000 allocations: the collector still runs, only rarely, so a
  command that never calls `started()` is collected all the same.
- `started()` (once a command has built its client, so its modules are loaded)
  moves everything alive into the permanent generation (`gc.freeze`), which no
  collection walks, exit included, and puts the usual thresholds back: a long
  batch is collected exactly as before, over its own objects only.

Public `gc` functions only; nothing here changes what any object does.
"""

from __future__ import annotations

import gc

STARTING_THRESHOLDS = (50_000, 10, 10)

_usual: tuple[int, int, int] | None = None  # the thresholds before `starting()`; None: not starting


def starting() -> None:
    """Collect rarely until `started()`: start-up makes long-lived objects, not garbage."""
    global _usual
    if _usual is None:
        _usual = gc.get_threshold()
        gc.set_threshold(*STARTING_THRESHOLDS)


def started() -> None:
    """Start-up is over: set aside what it made (never walked again) and collect as usual."""
    global _usual
    if _usual is not None:
        gc.freeze()
        gc.set_threshold(*_usual)
        _usual = None
