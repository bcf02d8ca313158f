"""The pure parts of core.statistic.performance: drawdown and period arithmetic."""

from __future__ import annotations

from datetime import date

from core.statistic.performance import Unit, _back, _start_of, max_drawdown


def test_max_drawdown_of_cumulative_realised_pnl():
    assert max_drawdown([]) == 0.0
    assert max_drawdown([10, 20]) == 0.0
    assert max_drawdown([-5]) == 5.0  # below the start counts: the equity began at 0
    assert max_drawdown([28_000, -1_000, -5_000, 10_000, -7_000]) == 7_000.0


def test_periods_start_on_utc_days_mondays_and_first_of_month():
    wednesday = date(2026, 3, 4)
    assert _start_of(wednesday, Unit.WEEK) == date(2026, 3, 2)
    assert _start_of(wednesday, Unit.MONTH) == date(2026, 3, 1)
    assert _back(date(2026, 3, 1), Unit.MONTH, 3) == date(2025, 12, 1)
    assert _back(date(2026, 1, 1), Unit.MONTH, 13) == date(2024, 12, 1)
    assert _back(date(2026, 3, 2), Unit.WEEK, 1) == date(2026, 2, 23)
    assert _back(date(2026, 3, 1), Unit.DAY, 1) == date(2026, 2, 28)
