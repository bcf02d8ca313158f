"""Monitoring Status: each user's watched tickers, with an optional condition, and their latest state.

Network fetches never run inside a database transaction: rows are read in one short unit
of work, candles fetched (once per distinct ticker, concurrently), then the results
written in another. The ``market`` object is anything with the ``MarketService.candles``
signature; it caches, so the alert job and users listing at once cost one fetch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, SupportsFloat, cast

from sqlalchemy import CursorResult, Table, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.actor import Actor
from core.compute import Compute, Task
from core.db import Database, utcnow
from core.errors import Conflict, Invalid, LimitExceeded, NotFound, StoxlifyError
from core.market.conditions import Condition, parse_condition
from core.market.models import Watch
from core.market.types import Candles, Source

if TYPE_CHECKING:
    from core.market.types import Interval, Range

log = logging.getLogger(__name__)

MAX_WATCHES = 50
ID_BATCH = 5000  # ids per IN (...) list
INTERVAL = "1d"  # watches are checked on daily bars
_TICKER = re.compile(r"^[A-Z0-9^][A-Z0-9.^=_-]{0,31}$")
# Daily bars per range, counted for stocks (about 245 sessions a year): the shortest range
# that gives a condition's indicators enough history to settle.
_RANGES = ((100, "6mo"), (220, "1y"), (460, "2y"), (1200, "5y"), (2400, "10y"))


class CandleProvider(Protocol):
    """What the watchlist needs from the market service."""

    async def candles(
        self,
        ticker: str,
        interval: str | Interval = "1d",
        range_: str | Range | None = None,
        source: Source = Source.UNKNOWN,
    ) -> Candles: ...


@dataclass(frozen=True, slots=True)
class WatchView:
    """One watch as a reply renders it. ``error`` is set when its data could not be checked
    (the other fields then hold the last stored check, if any). ``sample`` marks sample data."""

    ticker: str
    source: Source
    condition: str  # canonical text, "" when none
    price: float | None = None
    change_pct: float | None = None
    lhs_value: float | None = None  # the condition's left-hand value (e.g. the RSI)
    met: bool | None = None  # None: no condition, or not decidable (too little data)
    checked_at: datetime | None = None
    error: str | None = None
    sample: bool = False
    rhs_value: float | None = None
    id: int = 0
    currency: str | None = None  # the instrument's (IDR prints whole rupiah); None when not checked now


def normalise_ticker(text: str) -> str:
    """``bbca`` -> ``BBCA``, ``btc/usdt`` -> ``BTCUSDT``: one spelling per ticker in storage."""
    ticker = "".join((text or "").split()).upper().replace("/", "")
    if not _TICKER.match(ticker):
        raise Invalid(f"'{text}' does not look like a ticker", hint="for example BBCA, TLKM, BTCUSDT")
    return ticker


def _condition(text: str | None) -> Condition | None:
    return parse_condition(text) if text is not None and text.strip() else None


async def add_watch(
    db: Database,
    actor: Actor,
    market: CandleProvider,
    ticker: str,
    condition: str | None = None,
    source: Source = Source.UNKNOWN,
) -> WatchView:
    """Watch ``ticker`` (optionally with a condition), checked now against its latest bar.

    ``Invalid`` for a bad ticker or condition, the market's ``NotFound``/``Unavailable`` when
    the ticker cannot be fetched, ``Conflict`` when already watched with that condition,
    ``LimitExceeded`` past ``MAX_WATCHES``.
    """
    symbol = normalise_ticker(ticker)
    parsed = _condition(condition)
    text = parsed.text if parsed else ""
    async with db.session() as session:
        await _check_new(session, actor, symbol, text, source)
    candles = await market.candles(symbol, INTERVAL, _range_for([parsed]), source)
    resolved = _resolved_source(candles, source)
    now = utcnow()
    view = _view_from_candles(0, symbol, resolved, parsed, candles, now)  # Invalid if it cannot be evaluated
    async with db.session() as session:
        await _check_new(session, actor, symbol, text, resolved)
        watch = Watch(
            user_id=actor.user_id,
            source=resolved.value,
            ticker=symbol,
            condition=text,
            created_at=now,
            last_price=view.price,
            last_change_pct=view.change_pct,
            last_value=view.lhs_value,
            condition_met=view.met,
            last_checked_at=now,
        )
        session.add(watch)
        try:
            await session.flush()
        except IntegrityError:
            raise _already(symbol, text) from None
    return replace(view, id=watch.id)


async def remove_watch(db: Database, actor: Actor, ticker: str, condition: str | None = None) -> int:
    """Stop watching: every watch of ``ticker`` when no condition is given. Returns how many went."""
    symbol = normalise_ticker(ticker)
    stmt = delete(Watch).where(Watch.user_id == actor.user_id, Watch.ticker == symbol)
    if condition is not None and condition.strip():
        texts = {condition.strip().lower()}  # as stored, should the rules have changed since
        with contextlib.suppress(Invalid):
            texts.add(parse_condition(condition).text)
        stmt = stmt.where(Watch.condition.in_(texts))
    async with db.session() as session:
        removed = cast(CursorResult[Any], await session.execute(stmt)).rowcount  # a DELETE: a cursor result
    if not removed:
        what = f"{symbol} with {condition.strip()}" if condition and condition.strip() else symbol
        raise NotFound(f"you are not watching {what}", hint="see your watchlist with /watchlist")
    return removed


async def count_watches(db: Database, actor: Actor, ticker: str) -> int:
    """How many of the actor's watches are on ``ticker`` (to confirm before removing several)."""
    async with db.session() as session:
        return await session.scalar(
            select(func.count())
            .select_from(Watch)
            .where(Watch.user_id == actor.user_id, Watch.ticker == normalise_ticker(ticker))
        ) or 0


async def list_watches(
    db: Database, actor: Actor, market: CandleProvider, refresh: bool = True, *, compute: Compute | None = None
) -> list[WatchView]:
    """The actor's watches, by ticker. With ``refresh`` each distinct ticker is fetched once and
    every watch re-checked and stored; a ticker that fails shows its error without failing the list."""
    async with db.session() as session:
        watches = list(
            await session.scalars(
                select(Watch)
                .where(Watch.user_id == actor.user_id)
                .order_by(Watch.ticker, Watch.condition, Watch.id)
            )
        )
    if not refresh or not watches:
        return [_stored_view(w) for w in watches]

    now = utcnow()
    checked = await evaluate_watches(market, watches, now, compute=compute, user_id=actor.user_id)
    await store_checks(db, checked.views.values(), now, user_id=actor.user_id)
    return [checked.views[w.id] for w in watches]


@dataclass(slots=True)
class Evaluation:
    """Watches checked against fresh candles: a view per watch id, and what each ticker's fetch gave
    (the candles, or the error text shown in their place) by ``(source, ticker)``."""

    views: dict[int, WatchView]
    candles: dict[tuple[str, str], Candles | str]
    conditions: dict[int, Condition | StoxlifyError | None]


async def evaluate_watches(
    market: CandleProvider,
    watches: Iterable[Watch],
    now: datetime,
    *,
    compute: Compute | None = None,
    user_id: int | None = None,
) -> Evaluation:
    """Check ``watches`` (any users') with one fetch per distinct ticker, run concurrently, the
    conditions evaluated on ``compute`` on ``user_id``'s share (None: the system's, the job's).

    Shared by ``/watchlist`` and the monitoring job, so both judge a condition the same way.
    """
    watches = list(watches)
    conditions: dict[int, Condition | StoxlifyError | None] = {}
    for w in watches:
        try:
            conditions[w.id] = _condition(w.condition)
        except StoxlifyError as exc:  # stored before a rule changed: show it, keep the rest going
            conditions[w.id] = exc
    groups: dict[tuple[str, str], list[Watch]] = {}
    for w in watches:
        groups.setdefault((w.source, w.ticker), []).append(w)
    keys = list(groups)
    fetched = await asyncio.gather(
        *(
            _fetch(market, ticker, source, [conditions[w.id] for w in groups[source, ticker]])
            for source, ticker in keys
        )
    )

    async def check(key: tuple[str, str], result: Candles | str) -> list[WatchView | str]:
        """The ticker's watches against its candles, on the compute plane (indicators are CPU work)."""
        if isinstance(result, str):
            return []
        todo = [(w.id, w.ticker, Source(w.source), found) for w in groups[key]
                if not isinstance(found := conditions[w.id], StoxlifyError)]  # fmt: skip
        if compute is None:
            return check_against(todo, result, now)
        try:
            return await compute.run(check_against, todo, result, now,
                                     task=Task(user_id, label="checking the watches"))  # fmt: skip
        except StoxlifyError as exc:  # over budget, past the limit: each watch shows why
            return [exc.message for _ in todo]

    checked = await asyncio.gather(*(check(key, result) for key, result in zip(keys, fetched, strict=True)))
    views: dict[int, WatchView] = {}
    for key, result, found in zip(keys, fetched, checked, strict=True):
        done = iter(found)
        for w in groups[key]:
            condition = conditions[w.id]
            if isinstance(result, str):
                views[w.id] = _stored_view(w, error=result)
            elif isinstance(condition, StoxlifyError):
                views[w.id] = _stored_view(w, error=f"condition no longer valid: {condition.message}")
            else:
                view = next(done)
                views[w.id] = view if isinstance(view, WatchView) else _stored_view(w, error=view)
    return Evaluation(views, dict(zip(keys, fetched, strict=True)), conditions)


def check_against(
    watches: list[tuple[int, str, Source, Condition | None]], candles: Candles, now: datetime
) -> list[WatchView | str]:
    """Each watch's view on ``candles``, or the error text to show instead (what a worker runs)."""
    out: list[WatchView | str] = []
    for watch_id, ticker, source, condition in watches:
        try:
            out.append(_view_from_candles(watch_id, ticker, source, condition, candles, now))
        except StoxlifyError as exc:
            out.append(exc.message)
        except Exception:
            log.exception("watch %s could not be evaluated", watch_id)
            out.append("could not be checked")
    return out


async def store_checks(
    db: Database, views: Iterable[WatchView], now: datetime, user_id: int | None = None
) -> None:
    """Record each check's state; a watch seen *not* met is re-armed for its next alert.

    ``last_triggered_at`` is set by the alert job when it alerts and cleared here once the
    condition is seen false (by the job or by a user's ``/watchlist``), so the next crossing
    alerts again whoever saw the condition turn false first. ``user_id`` limits the writes to
    one user's rows (a user's listing never touches anyone else's).
    """
    # By id: every writer locks rows in one order, so a listing and the job never deadlock (PostgreSQL).
    views = sorted((v for v in views if v.error is None), key=lambda v: v.id)
    rows = [
        {
            "watch_id": v.id,
            "last_price": v.price,
            "last_change_pct": v.change_pct,
            "last_value": v.lhs_value,
            "condition_met": v.met,
            "last_checked_at": now,
        }
        for v in views
    ]
    if not rows:
        return
    # Core executemany: a watch removed meanwhile (another request) simply updates nothing.
    table = cast(Table, Watch.__table__)
    stmt = update(table).where(table.c.id == bindparam("watch_id"))
    if user_id is not None:
        stmt = stmt.where(table.c.user_id == user_id)
    unmet = [v.id for v in views if v.met is False]
    async with db.session() as session:
        await session.execute(stmt, rows)
        for start in range(0, len(unmet), ID_BATCH):  # asyncpg takes at most 32,767 parameters
            rearm = update(table).where(table.c.id.in_(unmet[start : start + ID_BATCH]))
            if user_id is not None:
                rearm = rearm.where(table.c.user_id == user_id)
            await session.execute(rearm.values(last_triggered_at=None))


# -- helpers ----------------------------------------------------------------------------------


async def _check_new(
    session: AsyncSession, actor: Actor, ticker: str, condition: str, source: Source
) -> None:
    """Refuse a watch that exists already or would pass the limit.

    Checked before the fetch (to answer fast) and again in the inserting transaction; two
    adds racing past the count may leave a user one or two over, which is harmless.
    """
    same = select(Watch.id).where(
        Watch.user_id == actor.user_id, Watch.ticker == ticker, Watch.condition == condition
    )
    if source is not Source.UNKNOWN:
        same = same.where(Watch.source == source.value)
    if await session.scalar(same.limit(1)) is not None:
        raise _already(ticker, condition)
    count = await session.scalar(
        select(func.count()).select_from(Watch).where(Watch.user_id == actor.user_id)
    )
    if (count or 0) >= MAX_WATCHES:
        raise LimitExceeded(
            f"you already watch {MAX_WATCHES} tickers, the most allowed",
            hint="remove one with /unwatch TICKER",
        )


def _already(ticker: str, condition: str) -> Conflict:
    what = f"{ticker} with {condition}" if condition else ticker
    return Conflict(f"you are already watching {what}", hint="see your watchlist with /watchlist")


def _range_for(conditions: Iterable[Condition | StoxlifyError | None]) -> str:
    bars = max((c.bars_needed() for c in conditions if isinstance(c, Condition)), default=0)
    return next((code for limit, code in _RANGES if bars <= limit), _RANGES[-1][1])


def _resolved_source(candles: Candles, asked: Source) -> Source:
    found = getattr(candles.instrument, "source", Source.UNKNOWN)
    return found if found is not Source.UNKNOWN else asked


async def _fetch(
    market: CandleProvider, ticker: str, source: str, conditions: list[Condition | StoxlifyError | None]
) -> Candles | str:
    """Candles, or the error text to show in place of this ticker's values."""
    try:
        return await market.candles(ticker, INTERVAL, _range_for(conditions), Source(source))
    except StoxlifyError as exc:
        return exc.message
    except Exception:
        log.exception("watchlist fetch failed for %s:%s", source, ticker)
        return "data unavailable right now"


def _view_from_candles(
    watch_id: int, ticker: str, source: Source, condition: Condition | None, candles: Candles, now: datetime
) -> WatchView:
    frame = candles.frame
    if frame.empty:
        raise NotFound(f"no recent bars for {ticker}")
    closes = frame["close"]
    price = _finite(closes.iloc[-1])
    previous = _finite(closes.iloc[-2]) if len(closes) > 1 else None
    change = (price / previous - 1.0) * 100.0 if price is not None and previous else None
    status = condition.evaluate(frame) if condition is not None else None
    return WatchView(
        id=watch_id,
        ticker=ticker,
        source=source,
        condition=condition.text if condition else "",
        price=price,
        change_pct=change,
        lhs_value=status.lhs_value if status else None,
        rhs_value=status.rhs_value if status else None,
        met=status.met if status else None,
        checked_at=now,
        sample=candles.sample,
        currency=candles.instrument.currency,
    )


def _stored_view(watch: Watch, error: str | None = None) -> WatchView:
    return WatchView(
        id=watch.id,
        ticker=watch.ticker,
        source=Source(watch.source),
        condition=watch.condition,
        price=watch.last_price,
        change_pct=watch.last_change_pct,
        lhs_value=watch.last_value,
        met=watch.condition_met,
        checked_at=watch.last_checked_at,
        error=error,
    )


def _finite(value: SupportsFloat | str) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
