"""The limits of the script language (``docs/script.md``, *Limits*) and the run deadline, in one place.

Scripts come from strangers in chat and run on shared workers, so every dimension a script
controls is bounded: its size, its tree, its nesting (checked while parsing so a pathological
input fails before Python's own recursion limit), its statements and plots, how far back it
looks and how long it runs.
"""

from __future__ import annotations

import time

from core.market.indicator_specs import MAX_LENGTH as MAX_INDICATOR_LENGTH

MAX_SOURCE_BYTES = 16 * 1024
MAX_NODES = 5000
MAX_DEPTH = 32
MAX_STATEMENTS = 200
MAX_PLOTS = 20
MAX_LOOKBACK = 5000
MAX_STRING = 200
TIME_LIMIT = 5.0

__all__ = [
    "MAX_DEPTH",
    "MAX_INDICATOR_LENGTH",
    "MAX_LOOKBACK",
    "MAX_NODES",
    "MAX_PLOTS",
    "MAX_SOURCE_BYTES",
    "MAX_STATEMENTS",
    "MAX_STRING",
    "TIME_LIMIT",
    "Deadline",
]


class Deadline:
    """Wall-clock budget of one run; ``check`` is called before each statement and each call.

    A single indicator call cannot be interrupted, so a run may overshoot by one call; what the
    deadline prevents is a script that strings many slow calls together.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def expired(self) -> bool:
        return time.monotonic() > self._end

    def message(self) -> str:
        return f"the script ran longer than {self.seconds:g} s; simplify it or run it on fewer bars"
