"""Deployment statuses, spelled as the Stoxlify Core API names them, and which of them run.

- ``TaskPending``: deployed, no bar evaluated yet.
- ``NoPosition`` / ``OpenPosition``: running, flat or holding the position it bought.
- ``Paused``: kept, not evaluated (by the user, ``/stopall``, or a revoked key); ``/resume`` continues.
- ``TaskDone``: ended on its own: the ticker is no longer served by the market source.
- ``TaskCanceled``: stopped by the user; holdings stay in the account (nothing is sold for them).
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "TaskPending"
    FLAT = "NoPosition"
    LONG = "OpenPosition"
    PAUSED = "Paused"
    DONE = "TaskDone"
    CANCELED = "TaskCanceled"

    @property
    def words(self) -> str:
        """What a person reads in chat; the seed's spellings stay in the data and the HTTP API."""
        return _WORDS[self]


_WORDS = {
    Status.PENDING: "waiting for the next candle",
    Status.FLAT: "no position, waiting for a buy signal",
    Status.LONG: "holding",
    Status.PAUSED: "paused",
    Status.DONE: "finished",
    Status.CANCELED: "stopped",
}


# Groups as tuples, not sets: SQL's ``IN`` (``Deployment.status.in_(RUNNING)``) takes them in a fixed order, so a
# statement is the same text each time; ``in`` in Python reads them alike.
RUNNING: tuple[Status, ...] = (Status.PENDING, Status.FLAT, Status.LONG)  # evaluated at each candle close
ACTIVE: tuple[Status, ...] = (*RUNNING, Status.PAUSED)  # count against the per-user limit
ENDED: tuple[Status, ...] = (Status.DONE, Status.CANCELED)
