"""Candle-close arithmetic for deployments: which bar is the latest closed one, and when it is due.

Bars are indexed by their open time (UTC); a deployment records the *close* time of the last bar
it evaluated (``deployments.last_bar_at``). Boundaries are UTC, as exchanges bucket bars and as
the Yahoo source normalises daily bars. ``Late`` timing waits ``late_grace_s`` after a close so
delayed feeds have published the final bar.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

import pandas as pd

from core.errors import Invalid
from core.market.bars import bar_close, bar_closes, closed_by
from core.market.types import Interval

__all__ = [
    "LATE", "ON_TIME", "TIMINGS", "Timing", "bar_close", "bar_closes", "closed_bars", "expected_close", "last_boundary",
]


class Timing(StrEnum):
    """When a deployment evaluates a bar, spelled as the API's ``modelTradeTiming`` names it."""

    ON_TIME = "OnTime"
    LATE = "Late"

    @classmethod
    def parse(cls, text: str | None) -> Timing:
        """What a user or a request gives (``OnTime``, ``ontime``, ``on-time``, ``now``; ``late``,
        ``delayed``; nothing means OnTime); Invalid, naming both choices, for anything else."""
        lowered = (text or cls.ON_TIME).strip().lower().replace("_", "").replace("-", "")
        if lowered in ("ontime", "now"):
            return cls.ON_TIME
        if lowered in ("late", "delayed"):
            return cls.LATE
        raise Invalid(f"timing is OnTime or Late, not '{text}'")


# the stored spellings, as plain strings (rows and the tick compare against these)
ON_TIME = Timing.ON_TIME.value
LATE = Timing.LATE.value
TIMINGS = (ON_TIME, LATE)


def last_boundary(now: datetime, interval: Interval) -> datetime:
    """The latest candle boundary at or before ``now``: the close of the last bar that has closed."""
    now = now.astimezone(UTC)
    if interval.code == "1mo":
        return datetime(now.year, now.month, 1, tzinfo=UTC)
    if interval.code == "1w":
        return (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    step = int(interval.delta.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step, tz=UTC)


def expected_close(now: datetime, interval: Interval, timing: str, late_grace_s: float) -> datetime:
    """The newest bar close a deployment with ``timing`` should have evaluated by ``now``."""
    if timing == LATE:
        now = now - timedelta(seconds=late_grace_s)
    return last_boundary(now, interval)


def closed_bars(frame: pd.DataFrame, interval: Interval, now: datetime, timing: str, late_grace_s: float) -> pd.DataFrame:
    """``frame`` without the still-forming bar (and, for ``Late``, bars closed less than the grace ago).

    Sources return the forming bar with its running values; a signal on it could vanish before
    the close, so deployments only ever see bars whose close has passed.
    """
    cutoff = now if timing != LATE else now - timedelta(seconds=late_grace_s)
    return closed_by(frame, interval, cutoff)
