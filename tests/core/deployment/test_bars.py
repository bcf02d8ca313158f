"""Candle-close arithmetic: forming bars are dropped, Late waits its grace, months are calendar months."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.deployment.bars import bar_close, closed_bars, expected_close, last_boundary
from core.market.types import parse_interval
from tests.core.deployment.kit import T0, frame


def test_the_forming_bar_is_dropped_and_late_waits_for_its_grace():
    bars = frame("ggr")  # bars open at T0, T0+1h, T0+2h (forming at T0+2h30)
    hour = parse_interval("1h")
    now = T0 + timedelta(hours=2, minutes=30)
    closed = closed_bars(bars, hour, now, "OnTime", 900)
    assert list(closed.index) == list(bars.index[:2])
    late = closed_bars(bars, hour, T0 + timedelta(hours=2, minutes=10), "Late", 900)
    assert list(late.index) == list(bars.index[:1])  # the 1h bar closed 10 min ago: not final yet
    assert closed_bars(bars, hour, T0 + timedelta(hours=3), "OnTime", 0).index[-1] == bars.index[-1]


def test_boundaries_and_expected_closes():
    hour, day, week, month = (parse_interval(c) for c in ("1h", "1d", "1w", "1mo"))
    now = datetime(2026, 3, 18, 13, 7, tzinfo=UTC)  # a Wednesday
    assert last_boundary(now, hour) == datetime(2026, 3, 18, 13, tzinfo=UTC)
    assert last_boundary(now, day) == datetime(2026, 3, 18, tzinfo=UTC)
    assert last_boundary(now, week) == datetime(2026, 3, 16, tzinfo=UTC)
    assert last_boundary(now, month) == datetime(2026, 3, 1, tzinfo=UTC)
    assert expected_close(now, hour, "Late", 900) == datetime(2026, 3, 18, 12, tzinfo=UTC)
    assert expected_close(now, hour, "OnTime", 900) == datetime(2026, 3, 18, 13, tzinfo=UTC)
    assert bar_close(datetime(2026, 12, 1, tzinfo=UTC), month) == datetime(2027, 1, 1, tzinfo=UTC)
    assert bar_close(datetime(2026, 3, 16, tzinfo=UTC), week) == datetime(2026, 3, 23, tzinfo=UTC)
