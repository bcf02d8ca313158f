"""Candle-close arithmetic: when a bar closes, and which bars of a frame have closed by a moment.

Bars are indexed by their open time (UTC). Sources return the still-forming bar with its running
values; anything that must not act on a value that can still change (deployments, watch alerts)
looks at closed bars only. ``core.deployment.bars`` builds its timing rules on these.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from core.market.types import Interval


def bar_close(opened: datetime | pd.Timestamp, interval: Interval) -> datetime:
    """When the bar that opened at ``opened`` closes (calendar months for ``1mo``)."""
    at = pd.Timestamp(opened)
    at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
    if interval.code == "1mo":
        year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
        return datetime(year, month, 1, tzinfo=UTC)
    return (at + pd.Timedelta(interval.delta)).to_pydatetime()


def bar_closes(opens: pd.DatetimeIndex, interval: Interval) -> pd.DatetimeIndex:
    """When each bar opened at ``opens`` closes (calendar months for ``1mo``)."""
    if interval.code == "1mo":
        return pd.DatetimeIndex([bar_close(t, interval) for t in opens])
    return opens + pd.Timedelta(interval.delta)


def closed_by(frame: pd.DataFrame, interval: Interval, cutoff: datetime) -> pd.DataFrame:
    """``frame`` without the bars whose close is after ``cutoff`` (the forming one)."""
    if frame.empty:
        return frame
    cutoff_ts = pd.Timestamp(cutoff)
    cutoff_ts = cutoff_ts.tz_localize("UTC") if cutoff_ts.tzinfo is None else cutoff_ts.tz_convert("UTC")
    index = pd.DatetimeIndex(frame.index)
    if index.tz is None:
        index = index.tz_localize("UTC")
    closes = bar_closes(index, interval)
    if closes.is_monotonic_increasing:
        return frame.iloc[: int((closes <= cutoff_ts).sum())]
    return frame[closes <= cutoff_ts]
