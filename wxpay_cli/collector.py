"""Python's cyclic garbage collector while wxpay starts.

Loading wxpay and its libraries creates about 30,000 objects the collector
tracks (modules' functions and classes, click's command table), almost all
living as long as the process, and almost no cyclic garbage. With the usual
thresholds the collector walks them again and again while they load, and
once more at exit: about 35 ms of a 260 ms call, when this was measured
(31 paired runs against the sandbox).

- `starting()` (the console script's first step) raises the first threshold
  from the usual one (700 on Python 3.11 and 3.12) to 50,000 allocations:
  the collector still runs, only rarely, so a command that never calls
  `started()` is collected all the same.
- `started()` (once a command has built its client, so its modules are
  loaded; `sandbox serve` once it listens) moves everything alive into the
  permanent generation (`gc.freeze`), which no collection walks, exit
  included, and puts the usual thresholds back: a long batch is collected
  exactly as before, over its own objects only. Cyclic garbage not yet
  collected is frozen with the rest and never freed: a few hundred objects
  (about 50 KiB) once, never per row.

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
