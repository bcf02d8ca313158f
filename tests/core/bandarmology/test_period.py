"""/bandar's DATE|RANGE: parsing, and the days or instants each provider reads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core.bandarmology.period import parse_period, resolve_days, resolve_instants, resolve_weekdays
from core.errors import Invalid, NotFound

FRIDAY = date(2024, 6, 7)
SUNDAY = date(2024, 6, 9)


def test_weekdays_count_back_from_the_latest_weekday() -> None:
    assert resolve_weekdays(parse_period(None), SUNDAY) == (FRIDAY, FRIDAY)
    assert resolve_weekdays(parse_period("5d"), SUNDAY) == (date(2024, 6, 3), FRIDAY)
    assert resolve_weekdays(parse_period("6d"), FRIDAY) == (date(2024, 5, 31), FRIDAY)
    assert resolve_weekdays(parse_period("1w"), FRIDAY) == (date(2024, 6, 1), FRIDAY)
    assert resolve_weekdays(parse_period("1mo"), FRIDAY) == (date(2024, 5, 8), FRIDAY)
    assert resolve_weekdays(parse_period("1mo"), date(2024, 3, 29)) == (date(2024, 3, 1), date(2024, 3, 29))
    assert resolve_weekdays(parse_period("1y"), FRIDAY) == (date(2023, 6, 8), FRIDAY)
    assert resolve_weekdays(parse_period("2024-06-03"), SUNDAY) == (date(2024, 6, 3), date(2024, 6, 3))
    assert resolve_weekdays(parse_period("2024-06-03..2024-06-05"), SUNDAY) == (
        date(2024, 6, 3),
        date(2024, 6, 5),
    )


def test_stored_days_count_days_with_data() -> None:
    days = [date(2024, 6, 3), date(2024, 6, 4), date(2024, 6, 6), FRIDAY]  # the 5th was a holiday
    assert resolve_days(parse_period("1d"), days, "BBCA") == (FRIDAY, FRIDAY)
    assert resolve_days(parse_period("3d"), days, "BBCA") == (date(2024, 6, 4), FRIDAY)
    assert resolve_days(parse_period("30d"), days, "BBCA") == (date(2024, 6, 3), FRIDAY)
    assert resolve_days(parse_period("2024-06-04"), days, "BBCA") == (date(2024, 6, 4), date(2024, 6, 4))
    with pytest.raises(NotFound, match="no broker data for BBCA on 2024-06-05") as caught:
        resolve_days(parse_period("2024-06-05"), days, "BBCA")
    assert caught.value.hint == "the data for BBCA covers 2024-06-03 to 2024-06-07"
    with pytest.raises(NotFound):
        resolve_days(parse_period("1d"), [], "BBCA")


def test_crypto_windows_are_instants() -> None:
    now = datetime(2024, 11, 23, 12, 30, tzinfo=UTC)
    assert resolve_instants(parse_period("15m"), now) == (now - timedelta(minutes=15), now)
    assert resolve_instants(parse_period("4h"), now) == (now - timedelta(hours=4), now)
    day = resolve_instants(parse_period("2024-11-22"), now)
    assert day == (datetime(2024, 11, 22, tzinfo=UTC), datetime(2024, 11, 23, tzinfo=UTC))
    today = resolve_instants(parse_period("2024-11-23"), now)
    assert today == (datetime(2024, 11, 23, tzinfo=UTC), now)  # clipped at now
    with pytest.raises(Invalid, match="too long"):
        resolve_instants(parse_period("1mo"), now)
    with pytest.raises(Invalid, match="at most 7 days"):
        resolve_instants(parse_period("8d"), now)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "not a date or range"),
        ("2024-13-01", "not a date"),
        ("2024-06-07..2024-06-03", "ends before it starts"),
        ("2023-01-01..2024-06-03", "more than 366 days"),
        ("0d", "empty range"),
        ("2y", "longer than a year"),
    ],
)
def test_bad_periods(text: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        parse_period(text)


def test_intraday_is_for_crypto_only() -> None:
    with pytest.raises(Invalid, match="IDX broker data is daily"):
        resolve_weekdays(parse_period("1h"), FRIDAY)
