"""Broker activity CSV: the format users import and the shipped sample uses.

One row per broker, investor type and day::

    date,broker,investor,buy_lot,buy_value,sell_lot,sell_value
    2024-06-03,YP,D,12500,118750000000,9800,93100000000

- ``date``: YYYY-MM-DD (the trading day), from 1990 to tomorrow (UTC; Jakarta is ahead of it).
- ``broker``: the IDX broker code, 2 to 4 letters or digits (YP, CC, AK...).
- ``investor`` (optional column, may be empty): F foreign, D domestic, empty unknown.
- ``buy_lot``/``sell_lot``: whole lots (1 lot = 100 shares), ``buy_value``/``sell_value``: IDR.
- an optional ``ticker`` column lets one file hold several tickers; without it the command names one.

Columns may come in any order and any letter case, separated by commas or semicolons (as
spreadsheets in Indonesian locales save them). Lines starting with ``#`` are comments. Every
row is checked, and the errors name their line numbers; nothing is stored unless all rows are good.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from core.errors import Invalid, excerpt
from core.market.symbols import without_idx_suffix

COLUMNS = ("date", "broker", "investor", "buy_lot", "buy_value", "sell_lot", "sell_value")
REQUIRED = frozenset({"date", "broker", "buy_lot", "buy_value", "sell_lot", "sell_value"})
KNOWN = frozenset({*COLUMNS, "ticker"})
MAX_ROWS = 10_000
MAX_ERRORS = 8
# Days a broker summary can be about. A typo such as 9999-12-31 would otherwise be stored as the
# latest day and pull every default window (the latest day, "1w", ...) to it.
EARLIEST_DAY = date(1990, 1, 1)
DAYS_AHEAD = 1  # the IDX trading day starts 7 hours before UTC's
MAX_LOT_DIGITS = 15  # a quadrillion lots is no day's trade; the column holds 18 digits
HEADER = ",".join(COLUMNS)
FORMAT_HINT = f"columns: {HEADER} (investor F, D or empty; lots whole, values in IDR)"

_BROKER = re.compile(r"^[A-Z0-9]{2,4}$")
_TICKER = re.compile(r"^[A-Z0-9]{2,8}$")
_INVESTORS = {"": "", "F": "F", "D": "D", "FOREIGN": "F", "DOMESTIC": "D", "ASING": "F", "LOKAL": "D"}


@dataclass(frozen=True, slots=True)
class ActivityRow:
    line: int
    ticker: str | None
    day: date
    broker: str
    investor: str
    buy_lot: int
    buy_value: float
    sell_lot: int
    sell_value: float

    @property
    def key(self) -> tuple[str | None, date, str, str]:
        return self.ticker, self.day, self.broker, self.investor


def normalize_ticker(text: str) -> str:
    """``bbca``, ``BBCA.JK`` -> ``BBCA``; Invalid for anything that is not an IDX-like code."""
    code = without_idx_suffix(text)
    if not _TICKER.match(code):
        raise Invalid(f"'{text}' is not an IDX ticker", hint="e.g. BBCA or BBCA.JK")
    return code


def parse_activity(data: str | bytes, *, today: date | None = None) -> list[ActivityRow]:
    """Every row of a broker activity CSV; Invalid listing the bad lines otherwise. ``today``
    (UTC's by default) bounds the dates a row may have."""
    latest = latest_day(today or datetime.now(UTC).date())
    text = _decode(data)
    lines = [
        (n, line)
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise Invalid("the CSV is empty", hint=FORMAT_HINT)
    header_line, header_text = lines[0]
    delimiter = ";" if header_text.count(";") > header_text.count(",") else ","
    columns = [c.strip().lower() for c in _cells(header_line, header_text, delimiter)]
    unknown = [c for c in columns if c not in KNOWN]
    missing = sorted(REQUIRED - set(columns))
    if unknown or missing or len(set(columns)) != len(columns):
        problem = (
            f"unknown column '{excerpt(unknown[0])}'" if unknown
            else f"missing column{'s' * (len(missing) > 1)} {', '.join(missing)}" if missing
            else "a column appears twice"
        )  # fmt: skip
        raise Invalid(f"line {header_line}: {problem} in the header", hint=FORMAT_HINT)
    if len(lines) - 1 > MAX_ROWS:
        raise Invalid(f"at most {MAX_ROWS:,} rows per import, got {len(lines) - 1:,}: split the file")
    rows: list[ActivityRow] = []
    errors: list[str] = []
    seen: dict[tuple, int] = {}
    for number, line in lines[1:]:
        try:
            row = _row(number, columns, _cells(number, line, delimiter), latest)
        except Invalid as exc:
            errors.append(exc.message)
            continue
        first = seen.setdefault(row.key, number)
        if first != number:
            errors.append(
                f"line {number}: repeats line {first} ({row.day} {row.broker} {row.investor or '-'})"
            )
            continue
        rows.append(row)
    if errors:
        more = f"\n... and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
        raise Invalid(
            f"{len(errors)} bad row{'s' * (len(errors) > 1)}, nothing imported:\n"
            + "\n".join(errors[:MAX_ERRORS])
            + more,
            hint=FORMAT_HINT,
        )
    if not rows:
        raise Invalid("the CSV has a header but no rows", hint=FORMAT_HINT)
    return rows


def latest_day(today: date) -> date:
    """The last day broker data can be about, ``today`` being UTC's."""
    return today + timedelta(days=DAYS_AHEAD)


def _decode(data: str | bytes) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("the file is not UTF-8 text: save it as CSV (UTF-8)") from None


def _cells(number: int, line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error as exc:  # the only one a single line can raise: a cell over csv's field limit
        limit = csv.field_size_limit()
        reason = f"a value is over {limit:,} characters" if "field limit" in str(exc) else "not a CSV line"
        raise Invalid(f"line {number}: {reason}", hint=FORMAT_HINT) from None


def _row(number: int, columns: list[str], values: list[str], latest: date) -> ActivityRow:
    """One data line, from its cells (split once) under the header's ``columns``; its day is at
    most ``latest``."""
    if len(values) != len(columns):
        raise Invalid(f"line {number}: {len(values)} values, the header has {len(columns)}")
    cells = dict(zip(columns, values, strict=True))
    where = f"line {number}"
    day = _day(where, cells["date"].strip(), latest)
    broker = cells["broker"].strip().upper()
    if not _BROKER.match(broker):
        raise Invalid(
            f"{where}: broker '{excerpt(cells['broker'].strip())}' is not a broker code (2-4 letters or digits)"
        )
    investor_text = cells.get("investor", "").strip().upper()
    if investor_text not in _INVESTORS:
        raise Invalid(f"{where}: investor '{excerpt(cells['investor'].strip())}' is not F, D or empty")
    ticker = None
    if "ticker" in cells:
        try:
            ticker = normalize_ticker(cells["ticker"])
        except Invalid:
            raise Invalid(f"{where}: ticker '{excerpt(cells['ticker'].strip())}' is not an IDX ticker") from None
    buy_lot, sell_lot = _lots(where, "buy_lot", cells), _lots(where, "sell_lot", cells)
    buy_value, sell_value = _value(where, "buy_value", cells), _value(where, "sell_value", cells)
    for side, lots, value in (("buy", buy_lot, buy_value), ("sell", sell_lot, sell_value)):
        if (lots == 0) != (value == 0):
            raise Invalid(
                f"{where}: {side}_lot {lots:,} with {side}_value {value:,.0f}: both are zero or neither is"
            )
    if buy_lot == 0 and sell_lot == 0:
        raise Invalid(f"{where}: the broker neither bought nor sold")
    return ActivityRow(
        number, ticker, day, broker, _INVESTORS[investor_text], buy_lot, buy_value, sell_lot, sell_value
    )


def _day(where: str, text: str, latest: date) -> date:
    if not text.isascii():  # fromisoformat would read other scripts' digits
        raise Invalid(f"{where}: date '{excerpt(text)}' is not YYYY-MM-DD")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{where}: date '{excerpt(text)}' is not YYYY-MM-DD") from None
    if day < EARLIEST_DAY:
        raise Invalid(f"{where}: date {day} is before {EARLIEST_DAY}, earlier than any broker summary")
    if day > latest:
        raise Invalid(f"{where}: date {day} is after {latest}: a trading day cannot be in the future")
    return day


def _lots(where: str, name: str, cells: dict[str, str]) -> int:
    text = cells[name].strip()
    if not (text.isascii() and text.isdigit()):  # isdigit alone takes "²" (int refuses it) and "٣"
        raise Invalid(f"{where}: {name} '{excerpt(text)}' is not a whole number of lots (no separators)")
    if len(text.lstrip("0")) > MAX_LOT_DIGITS:
        raise Invalid(f"{where}: {name} is too large ({len(text):,} digits)")
    return int(text)


def _value(where: str, name: str, cells: dict[str, str]) -> float:
    text = cells[name].strip()
    try:
        value = float(text)
    except ValueError:
        raise Invalid(f"{where}: {name} '{excerpt(text)}' is not a number (IDR, no separators)") from None
    if not value >= 0 or value == float("inf"):
        raise Invalid(f"{where}: {name} '{excerpt(text)}' must be zero or more")
    return value
