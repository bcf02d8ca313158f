"""What ``/bandar TICKER [DATE|RANGE]`` asks for, and the days or instants that means.

- ``2024-06-03``: that day (that UTC day for crypto).
- ``2024-06-03..2024-06-07``: those days, both included.
- ``Nd``: the last N trading days. For stored data (imports, the sample) these are the last N
  days that have data, so holidays never count; for the HTTP provider they are the last N
  weekdays (it cannot know IDX holidays; a holiday simply has no rows).
- ``Nw``, ``Nmo``, ``Ny``: calendar weeks, months, years back from the latest day.
- ``Nm``, ``Nh`` (crypto only): minutes and hours back from now.

IDX data is daily, so minutes and hours are refused for stocks. Windows are capped so that a
typo cannot ask a provider for a decade of data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from core.errors import Invalid, NotFound

MAX_DAYS = 366  # IDX windows, in calendar days
MAX_CRYPTO = timedelta(days=7)  # trade analysis windows
_RELATIVE = re.compile(r"^(\d{1,3})(m|h|d|w|mo|y)$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
USAGE = "a date (2024-06-03), two dates (2024-06-03..2024-06-07) or a range: 1d 5d 1w 1mo 3mo 1y (15m 1h 4h for crypto)"


@dataclass(frozen=True, slots=True)
class Period:
    text: str
    first: date | None = None  # explicit dates
    last: date | None = None
    count: int = 1
    unit: str = "d"

    @property
    def explicit(self) -> bool:
        return self.first is not None

    @property
    def intraday(self) -> bool:
        return not self.explicit and self.unit in ("m", "h")


def parse_period(text: str | None, default: str = "1d") -> Period:
    raw = (text or default).strip().lower()
    if ".." in raw:
        a, _, b = raw.partition("..")
        first, last = _date(a), _date(b)
        if last < first:
            raise Invalid(f"'{text}' ends before it starts", hint=USAGE)
        if (last - first).days >= MAX_DAYS:
            raise Invalid(f"'{text}' spans more than {MAX_DAYS} days", hint=USAGE)
        return Period(raw, first, last)
    if _DAY.match(raw):
        day = _date(raw)
        return Period(raw, day, day)
    match = _RELATIVE.match(raw)
    if match is None:
        raise Invalid(f"'{text}' is not a date or range", hint=USAGE)
    count, unit = int(match.group(1)), match.group(2)
    if count < 1:
        raise Invalid(f"'{text}' is an empty range", hint=USAGE)
    period = Period(raw, count=count, unit=unit)
    if not period.intraday and _calendar_span(period) > MAX_DAYS:
        raise Invalid(f"'{text}' is longer than a year", hint=USAGE)
    return period


def weekday_on_or_before(day: date) -> date:
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def resolve_weekdays(period: Period, today: date) -> tuple[date, date]:
    """(first, last) day for a provider that cannot list its days: ``Nd`` counts weekdays."""
    if period.first is not None and period.last is not None:
        return period.first, period.last
    _no_intraday(period)
    end = weekday_on_or_before(today)
    if period.unit == "d":
        start, left = end, period.count - 1
        while left:
            start = weekday_on_or_before(start - timedelta(days=1))
            left -= 1
        return start, end
    return _calendar_start(period, end), end


def resolve_days(period: Period, days: list[date], ticker: str) -> tuple[date, date]:
    """(first, last) day for stored data, given the sorted distinct ``days`` it holds."""
    if not days:
        raise NotFound(f"no broker data for {ticker}")
    covers = f"the data for {ticker} covers {days[0]} to {days[-1]}"
    if period.first is not None and period.last is not None:
        if not any(period.first <= d <= period.last for d in days):
            when = str(period.first) if period.first == period.last else f"{period.first} to {period.last}"
            raise NotFound(f"no broker data for {ticker} on {when}", hint=covers)
        return period.first, period.last
    _no_intraday(period)
    if period.unit == "d":
        return days[max(0, len(days) - period.count)], days[-1]
    return _calendar_start(period, days[-1]), days[-1]


def resolve_instants(period: Period, now: datetime) -> tuple[datetime, datetime]:
    """(start, end) in UTC for crypto trade analysis (dates are UTC days)."""
    if period.first is not None and period.last is not None:
        start = datetime.combine(period.first, time(), UTC)
        end = min(datetime.combine(period.last + timedelta(days=1), time(), UTC), now)
        if start >= now:
            raise Invalid(f"{period.first} is in the future")
    else:
        span = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1),
                "w": timedelta(weeks=1)}.get(period.unit)  # fmt: skip
        if span is None:
            raise Invalid(
                f"'{period.text}' is too long for trade analysis", hint="crypto windows: 15m 1h 4h 1d 7d"
            )
        start, end = now - period.count * span, now
    if end - start > MAX_CRYPTO:
        raise Invalid(f"'{period.text}' is too long for trade analysis (at most 7 days)",
                      hint="crypto windows: 15m 1h 4h 1d 7d")  # fmt: skip
    return start, end


def _no_intraday(period: Period) -> None:
    if period.intraday:
        raise Invalid(
            f"'{period.text}' is intraday, and IDX broker data is daily", hint="use 1d 5d 1mo, or a date"
        )


def _calendar_span(period: Period) -> int:
    per = {"d": 1.4, "w": 7, "mo": 31, "y": 366}[period.unit]  # 1.4: weekdays to calendar days
    return int(period.count * per)


def _calendar_start(period: Period, end: date) -> date:
    if period.unit == "w":
        return end - timedelta(weeks=period.count) + timedelta(days=1)
    months = period.count * (12 if period.unit == "y" else 1)
    year, month = divmod(end.month - 1 - months, 12)
    first_of = date(end.year + year, month + 1, 1)
    day = min(end.day, _month_days(first_of))
    return first_of.replace(day=day) + timedelta(days=1)


def _month_days(first: date) -> int:
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return (nxt - first).days


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(f"'{text}' is not a date: write YYYY-MM-DD", hint=USAGE) from None
