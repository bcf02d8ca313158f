"""Imported broker activity: saving a user's CSV rows, and serving them as a provider.

Rows are kept per user (``BrokerActivity``), one per ticker, day, broker and investor type;
importing a row that exists replaces its figures, so a corrected file can simply be sent again.
The shipped sample (``sample/BBCA.csv``, synthetic) is served the same way from memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.actor import Actor
from core.bandarmology.csvio import ActivityRow, latest_day, normalize_ticker, parse_activity
from core.bandarmology.models import BrokerActivity
from core.bandarmology.period import Period, resolve_days
from core.bandarmology.provider import summarised
from core.bandarmology.summary import summarize_flows
from core.bandarmology.types import BrokerFlow, BrokerSummary
from core.compute import Compute, Task
from core.db import Database, rowcount, utcnow
from core.errors import Invalid

SAMPLE_DIR = Path(__file__).parent / "sample"
CHUNK = 500


@dataclass(frozen=True, slots=True)
class ImportResult:
    rows: int
    inserted: int
    updated: int
    tickers: tuple[str, ...]
    first: date
    last: date
    days: int


async def import_activity(
    db: Database,
    actor: Actor,
    data: str | bytes,
    ticker: str | None = None,
    *,
    compute: Compute | None = None,
    task: Task | None = None,
) -> ImportResult:
    """Validate a CSV (on ``compute``: a file of many thousand rows is CPU work) and store its rows
    for ``actor`` (all or nothing; existing rows replaced)."""
    default = normalize_ticker(ticker) if ticker else None
    rows = parse_activity(data) if compute is None else await compute.run(parse_activity, data, task=task or Task())
    if any(r.ticker is None for r in rows) and default is None:
        raise Invalid(
            "which ticker is this data for?", hint="/bandar import BBCA with the CSV, or add a ticker column"
        )
    keyed = [(r.ticker or default, r) for r in rows]
    tickers = sorted({t for t, _ in keyed if t})
    first, last = min(r.day for r in rows), max(r.day for r in rows)
    async with db.session() as session:
        existing = set(
            (await session.execute(
                select(BrokerActivity.ticker, BrokerActivity.day, BrokerActivity.broker, BrokerActivity.investor).where(
                    BrokerActivity.user_id == actor.user_id,
                    BrokerActivity.ticker.in_(tickers),
                    BrokerActivity.day.between(first, last),
                )
            )).all()
        )  # fmt: skip
        values = [_values(actor.user_id, t, r) for t, r in keyed if t]
        for start in range(0, len(values), CHUNK):
            await session.execute(_upsert(db.dialect, values[start : start + CHUNK]))
    updated = sum(1 for t, r in keyed if (t, r.day, r.broker, r.investor) in existing)
    return ImportResult(
        len(rows), len(rows) - updated, updated, tuple(tickers), first, last, len({r.day for r in rows})
    )


async def remove_activity(db: Database, actor: Actor, ticker: str) -> int:
    """Delete the actor's imported rows of ``ticker``; the number removed."""
    from sqlalchemy import delete

    code = normalize_ticker(ticker)
    async with db.session() as session:
        result = await session.execute(
            delete(BrokerActivity).where(
                BrokerActivity.user_id == actor.user_id, BrokerActivity.ticker == code
            )
        )
        return int(rowcount(result) or 0)


def _values(user_id: int, ticker: str, row: ActivityRow) -> dict:
    return {
        "user_id": user_id, "ticker": ticker, "day": row.day, "broker": row.broker, "investor": row.investor,
        "buy_lot": row.buy_lot, "buy_value": row.buy_value, "sell_lot": row.sell_lot, "sell_value": row.sell_value,
        "imported_at": utcnow(),
    }  # fmt: skip


def _upsert(dialect: str, values: list[dict]) -> Any:
    """INSERT ... ON CONFLICT (the unique key) DO UPDATE, for SQLite or PostgreSQL."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(BrokerActivity).values(values)
    changed = ("buy_lot", "buy_value", "sell_lot", "sell_value", "imported_at")
    return stmt.on_conflict_do_update(
        index_elements=["user_id", "ticker", "day", "broker", "investor"],
        set_={name: stmt.excluded[name] for name in changed},
    )


class StoredProvider:
    """The actor's imported rows."""

    name = "your imported data"
    sample = False

    def __init__(self, db: Database, actor: Actor) -> None:
        self._db = db
        self._actor = actor

    async def has(self, ticker: str) -> bool:
        async with self._db.session() as session:
            found = await session.scalar(select(BrokerActivity.id).where(*self._mine(ticker)).limit(1))
        return found is not None

    async def summary(
        self, ticker: str, period: Period, now: datetime, *, compute: Compute | None = None, task: Task | None = None
    ) -> BrokerSummary:
        code = normalize_ticker(ticker)
        async with self._db.session() as session:
            days = list(
                await session.scalars(
                    select(BrokerActivity.day)
                    # rows imported before dates were bounded may lie in the future: they would
                    # pull every default window ("the latest day") to themselves
                    .where(*self._mine(code), BrokerActivity.day <= latest_day(now.astimezone(UTC).date()))
                    .distinct()
                    .order_by(BrokerActivity.day)
                )
            )
            start, end = resolve_days(period, days, code)
            rows = await session.scalars(
                select(BrokerActivity).where(*self._mine(code), BrokerActivity.day.between(start, end))
            )
            flows = [
                BrokerFlow(r.broker, r.investor, r.buy_lot, r.buy_value, r.sell_lot, r.sell_value, day=r.day)
                for r in rows
            ]  # fmt: skip
        return await summarised(compute, task, summarize_flows, code, flows, provider=self.name, start=start, end=end)

    def _mine(self, ticker: str) -> Sequence:
        return (
            BrokerActivity.user_id == self._actor.user_id,
            BrokerActivity.ticker == normalize_ticker(ticker),
        )


class SampleProvider:
    """The shipped synthetic sample (BBCA), for trying ``/bandar`` offline. Never real figures."""

    name = "sample broker data (synthetic)"
    sample = True

    def has(self, ticker: str) -> bool:
        try:
            return normalize_ticker(ticker) in sample_tickers()
        except Invalid:
            return False

    async def summary(
        self, ticker: str, period: Period, now: datetime, *, compute: Compute | None = None, task: Task | None = None
    ) -> BrokerSummary:
        code = normalize_ticker(ticker)
        rows = _sample_rows(code)
        start, end = resolve_days(period, sorted({r.day for r in rows}), code)
        flows = [
            BrokerFlow(r.broker, r.investor, r.buy_lot, r.buy_value, r.sell_lot, r.sell_value, day=r.day)
            for r in rows
            if start <= r.day <= end
        ]
        return await summarised(compute, task, summarize_flows, code, flows, provider=self.name, start=start,
                                end=end, sample=True)  # fmt: skip


@cache
def sample_tickers() -> frozenset[str]:
    return frozenset(p.stem.upper() for p in SAMPLE_DIR.glob("*.csv"))


@cache
def _sample_rows(ticker: str) -> tuple[ActivityRow, ...]:
    return tuple(parse_activity((SAMPLE_DIR / f"{ticker}.csv").read_text(encoding="utf-8")))
