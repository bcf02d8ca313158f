"""Monitoring Status: each user's watched tickers, with an optional condition, and their latest state.

A watch is on one candle width (``interval``, daily unless asked) and its condition is judged on
that width's *closed* bars only: a forming bar's running values could meet a condition that is gone
by its close, so the verdict (and any alert) waits for the close. The price shown is the latest,
forming bar included. A watch may expire (``expires_at``): from then on it is no longer checked.

Conditions are parsed by a ``RuleParser``: the short grammar of ``core.market.conditions`` by
default; the adapters pass one that also takes script expressions (``core.script.watch``), which
this package cannot import (it sits below the script language).

Network fetches never run inside a database transaction: rows are read in one short unit
of work, candles fetched (once per distinct ticker and interval, concurrently), then the results
written in another. The ``market`` object is anything with the ``MarketService.candles``
signature; it caches, so the alert job and users listing at once cost one fetch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, SupportsFloat, cast

from sqlalchemy import CursorResult, Table, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.actor import Actor
from core.compute import Compute, Task
from core.db import Database, utcnow
from core.errors import Conflict, Invalid, LimitExceeded, NotFound, StoxlifyError
from core.market.bars import bar_close, closed_by
from core.market.conditions import ConditionStatus, parse_condition
from core.market.models import Watch
from core.market.types import INTERVALS, RANGE_SPANS, Candles, Interval, Source, default_range, parse_interval

if TYPE_CHECKING:
    import pandas as pd

    from core.market.types import Range

log = logging.getLogger(__name__)

MAX_WATCHES = 50
ID_BATCH = 5000  # ids per IN (...) list
INTERVAL = "1d"  # a watch's candle width when none is given
_TICKER = re.compile(r"^[A-Z0-9^][A-Z0-9.^=_-]{0,31}$")
# Daily bars per range, counted for stocks (about 245 sessions a year): the shortest range
# that gives a condition's indicators enough history to settle.
_RANGES = ((100, "6mo"), (220, "1y"), (460, "2y"), (1200, "5y"), (2400, "10y"))
# Intraday bars cover only the hours a market trades: a stock's 1h bars span about six times
# their count in calendar hours (6.5 of 24 hours, 5 of 7 days); crypto trades round the clock.
_INTRADAY_SPAN = 6
_EXPIRY = re.compile(r"^(.*?)\s+(for|until)\s+(\S+)\s*$", re.IGNORECASE | re.DOTALL)
_DURATION = re.compile(r"^(\d{1,4})(h|d|w|mo)$")
_DURATION_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1), "mo": timedelta(days=30)}
MAX_EXPIRY = timedelta(days=366 * 2)
EXPIRY_HELP = "for 12h, for 7d, for 2w, for 3mo, or until 2026-12-31"


class Rule(Protocol):
    """A parsed condition, whatever its grammar: its canonical text, how many bars it needs to
    settle, and its verdict on the last bar of a frame (``met`` None while undefined)."""

    @property
    def text(self) -> str: ...

    def bars_needed(self) -> int: ...

    def evaluate(self, frame: pd.DataFrame) -> ConditionStatus: ...


RuleParser = Callable[[str], Rule]


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
    interval: str = INTERVAL
    expires_at: datetime | None = None
    bar_at: datetime | None = None  # open time of the closed bar the condition was judged on
    expired: bool = False


def normalise_ticker(text: str) -> str:
    """``bbca`` -> ``BBCA``, ``btc/usdt`` -> ``BTCUSDT``: one spelling per ticker in storage."""
    ticker = "".join((text or "").split()).upper().replace("/", "")
    if not _TICKER.match(ticker):
        raise Invalid(f"'{text}' does not look like a ticker", hint="for example BBCA, TLKM, BTCUSDT")
    return ticker


def _condition(text: str | None, rules: RuleParser = parse_condition) -> Rule | None:
    return rules(text) if text is not None and text.strip() else None


def watch_interval(text: str | None) -> str:
    """The canonical code of a watch's candle width (``1H`` is ``1h``); daily when not given."""
    return parse_interval(text).code if text is not None and text.strip() else INTERVAL


def split_expiry(text: str | None) -> tuple[str, str | None]:
    """A condition typed with a trailing expiry, split: ``rsi<30 for 7d`` -> ``("rsi<30", "for 7d")``.
    Quotes round the condition (``"ema(close, 9) > ema(close, 21)"``) are dropped."""
    raw = (text or "").strip()
    found = _EXPIRY.match(raw) or (_EXPIRY.match(" " + raw) if raw.lower().startswith(("for ", "until ")) else None)
    condition, expiry = (found.group(1).strip(), f"{found.group(2).lower()} {found.group(3)}") if found else (raw, None)
    if len(condition) >= 2 and condition[0] == condition[-1] and condition[0] in "\"'":
        condition = condition[1:-1].strip()
    return condition, expiry


def parse_expiry(text: str, now: datetime) -> datetime:
    """``for 7d`` (12h, 2w, 3mo) or ``until 2026-12-31`` (the end of that day, UTC) as a moment;
    ``Invalid`` naming what is wrong for anything else, a moment already past, or one over two years out."""
    kind, _, value = text.strip().partition(" ")
    kind, value = kind.lower(), value.strip().lower()
    if kind == "for":
        found = _DURATION.match(value)
        if found is None or int(found.group(1)) == 0:
            raise Invalid(f"'{value}' is not a duration", hint=f"an expiry reads {EXPIRY_HELP}")
        at = now + int(found.group(1)) * _DURATION_UNITS[found.group(2)]
    elif kind == "until":
        try:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise Invalid(f"'{value}' is not a date like 2026-12-31", hint=f"an expiry reads {EXPIRY_HELP}") from None
        at = day + timedelta(days=1)
        if at <= now:
            raise Invalid(f"{value} has passed already", hint=f"an expiry reads {EXPIRY_HELP}")
    else:
        raise Invalid(f"'{text.strip()}' is not an expiry", hint=f"an expiry reads {EXPIRY_HELP}")
    if at - now > MAX_EXPIRY:
        raise Invalid("an expiry is at most two years away", hint=f"an expiry reads {EXPIRY_HELP}")
    return at


async def add_watch(
    db: Database,
    actor: Actor,
    market: CandleProvider,
    ticker: str,
    condition: str | None = None,
    source: Source = Source.UNKNOWN,
    *,
    interval: str | None = None,
    expires_at: datetime | None = None,
    rules: RuleParser = parse_condition,
    now: datetime | None = None,
    compute: Compute | None = None,
) -> WatchView:
    """Watch ``ticker`` on ``interval`` bars (daily by default), optionally with a condition, until
    ``expires_at`` (None: for good), checked now against its latest closed bar.

    The condition's first check runs on ``compute`` when given (the user's share).
    ``Invalid`` for a bad ticker, interval, condition or an expiry not in the future, the market's
    ``NotFound``/``Unavailable`` when the ticker cannot be fetched, ``Conflict`` when already
    watched with that condition on that interval, ``LimitExceeded`` past ``MAX_WATCHES``.
    """
    symbol = normalise_ticker(ticker)
    code = watch_interval(interval)
    now = now or utcnow()
    if expires_at is not None and expires_at <= now:
        raise Invalid("that expiry has passed already", hint=f"an expiry reads {EXPIRY_HELP}")
    parsed = _condition(condition, rules)
    text = parsed.text if parsed else ""
    async with db.session() as session:
        await _check_new(session, actor, symbol, code, text, source, now)
    candles = await _candles(market, symbol, code, [parsed], source)
    resolved = _resolved_source(candles, source)
    if compute is None or parsed is None:
        view = _view_from_candles(0, symbol, resolved, parsed, candles, now)  # Invalid if it cannot be evaluated
    else:  # an expression may be heavy: on the compute plane, on the user's share
        view = await compute.run(_view_from_candles, 0, symbol, resolved, parsed, candles, now,
                                 task=Task(actor.user_id, label="checking the condition"))  # fmt: skip
    async with db.session() as session:
        await _check_new(session, actor, symbol, code, text, resolved, now, renew=True)
        watch = Watch(
            user_id=actor.user_id,
            source=resolved.value,
            ticker=symbol,
            condition=text,
            interval=code,
            expires_at=expires_at,
            last_bar_at=view.bar_at,
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
            raise _already(symbol, text, code) from None
    return replace(view, id=watch.id, expires_at=expires_at)


async def remove_watch(
    db: Database,
    actor: Actor,
    ticker: str,
    condition: str | None = None,
    *,
    interval: str | None = None,
    rules: RuleParser = parse_condition,
) -> int:
    """Stop watching: every watch of ``ticker`` (on ``interval`` only, when given) when no condition
    is given. Returns how many went."""
    symbol = normalise_ticker(ticker)
    stmt = delete(Watch).where(Watch.user_id == actor.user_id, Watch.ticker == symbol)
    if interval is not None and interval.strip():
        stmt = stmt.where(Watch.interval == watch_interval(interval))
    if condition is not None and condition.strip():
        condition = split_expiry(condition)[0]
        texts = {condition.strip(), condition.strip().lower()}  # as stored, should the rules have changed since
        with contextlib.suppress(Invalid):
            texts.add(rules(condition).text)
        stmt = stmt.where(Watch.condition.in_(texts))
    async with db.session() as session:
        removed = cast(CursorResult[Any], await session.execute(stmt)).rowcount  # a DELETE: a cursor result
    if not removed:
        what = f"{symbol} with {condition.strip()}" if condition and condition.strip() else symbol
        raise NotFound(f"you are not watching {what}", hint="see your watchlist with /watchlist")
    return removed


async def count_watches(db: Database, actor: Actor, ticker: str, interval: str | None = None) -> int:
    """How many of the actor's watches are on ``ticker`` (on ``interval`` only, when given), to
    confirm before removing several."""
    query = (
        select(func.count())
        .select_from(Watch)
        .where(Watch.user_id == actor.user_id, Watch.ticker == normalise_ticker(ticker))
    )
    if interval is not None and interval.strip():
        query = query.where(Watch.interval == watch_interval(interval))
    async with db.session() as session:
        return await session.scalar(query) or 0


async def list_watches(
    db: Database,
    actor: Actor,
    market: CandleProvider,
    refresh: bool = True,
    *,
    compute: Compute | None = None,
    rules: RuleParser = parse_condition,
    now: datetime | None = None,
) -> list[WatchView]:
    """The actor's watches, by ticker. With ``refresh`` each distinct ticker and interval is fetched
    once and every watch that has not expired re-checked and stored; a ticker that fails shows its
    error without failing the list. An expired watch shows its last check, marked expired."""
    async with db.session() as session:
        watches = list(
            await session.scalars(
                select(Watch)
                .where(Watch.user_id == actor.user_id)
                .order_by(Watch.ticker, Watch.condition, Watch.id)
            )
        )
    now = now or utcnow()
    live = [w for w in watches if not is_expired(w, now)]
    if not refresh or not live:
        return [_stored_view(w, now=now) for w in watches]

    checked = await evaluate_watches(market, live, now, compute=compute, user_id=actor.user_id, rules=rules)
    await store_checks(db, checked.views.values(), now, user_id=actor.user_id)
    return [checked.views.get(w.id) or _stored_view(w, now=now) for w in watches]


def is_expired(watch: Watch, now: datetime) -> bool:
    return watch.expires_at is not None and watch.expires_at <= now


@dataclass(slots=True)
class Evaluation:
    """Watches checked against fresh candles: a view per watch id, and what each series' fetch gave
    (the candles, or the error text shown in their place) by ``(source, ticker, interval)``."""

    views: dict[int, WatchView]
    candles: dict[tuple[str, str, str], Candles | str]
    conditions: dict[int, Rule | StoxlifyError | None]


async def evaluate_watches(
    market: CandleProvider,
    watches: Iterable[Watch],
    now: datetime,
    *,
    compute: Compute | None = None,
    user_id: int | None = None,
    rules: RuleParser = parse_condition,
    reuse_checks: bool = False,
) -> Evaluation:
    """Check ``watches`` (any users') with one fetch per distinct ticker and interval, run
    concurrently, the conditions evaluated on ``compute`` on ``user_id``'s share (None: the
    system's, the job's).

    Shared by ``/watchlist`` and the monitoring job, so both judge a condition the same way.
    With ``reuse_checks`` (the job, every minute) a watch last checked on these very candles (the
    same fetch, the same newest closed bar) keeps its stored verdict instead of being computed
    again: a closed bar's verdict cannot change until the series is fetched anew.
    """
    watches = list(watches)
    conditions: dict[int, Rule | StoxlifyError | None] = {}
    for w in watches:
        try:
            conditions[w.id] = _condition(w.condition, rules)
        except StoxlifyError as exc:  # stored before a rule changed: show it, keep the rest going
            conditions[w.id] = exc
    groups: dict[tuple[str, str, str], list[Watch]] = {}
    for w in watches:
        groups.setdefault((w.source, w.ticker, w.interval or INTERVAL), []).append(w)
    keys = list(groups)
    fetched = await asyncio.gather(
        *(
            _fetch(market, ticker, source, interval, [conditions[w.id] for w in groups[source, ticker, interval]])
            for source, ticker, interval in keys
        )
    )

    reused = _unchanged(groups, keys, fetched, now) if reuse_checks else set()

    async def check(key: tuple[str, str, str], result: Candles | str) -> list[WatchView | str]:
        """The ticker's watches against its candles, on the compute plane (indicators are CPU work)."""
        if isinstance(result, str):
            return []
        todo = [(w.id, w.ticker, Source(w.source), found) for w in groups[key]
                if w.id not in reused and not isinstance(found := conditions[w.id], StoxlifyError)]  # fmt: skip
        if not todo:
            return []
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
            elif w.id in reused:
                views[w.id] = replace(_stored_view(w), currency=result.instrument.currency, sample=result.sample)
            else:
                view = next(done)
                views[w.id] = replace(view, expires_at=w.expires_at) if isinstance(view, WatchView) else _stored_view(w, error=view)
    return Evaluation(views, dict(zip(keys, fetched, strict=True)), conditions)


def _unchanged(
    groups: dict[tuple[str, str, str], list[Watch]],
    keys: list[tuple[str, str, str]],
    fetched: list[Candles | str],
    now: datetime,
) -> set[int]:
    """Watches whose last check saw these candles already: checked after their fetch, on the same
    newest closed bar (a re-fetch or a newly closed bar makes them due again)."""
    same: set[int] = set()
    for key, result in zip(keys, fetched, strict=True):
        if isinstance(result, str) or result.fetched_at is None:
            continue
        closed = closed_frame(result, now)
        if not len(closed):
            continue
        newest = closed.index[-1].to_pydatetime()
        same.update(
            w.id for w in groups[key]
            if w.last_bar_at == newest and w.last_checked_at is not None and w.last_checked_at >= result.fetched_at
        )  # fmt: skip
    return same


def check_against(
    watches: list[tuple[int, str, Source, Rule | None]], candles: Candles, now: datetime
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
            "last_bar_at": v.bar_at,
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
    session: AsyncSession,
    actor: Actor,
    ticker: str,
    interval: str,
    condition: str,
    source: Source,
    now: datetime,
    *,
    renew: bool = False,
) -> None:
    """Refuse a watch that exists already or would pass the limit. An equal watch that has expired
    does not count: watching it again renews it (``renew`` removes the expired row, in the
    inserting transaction).

    Checked before the fetch (to answer fast) and again in the inserting transaction; two
    adds racing past the count may leave a user one or two over, which is harmless.
    """
    same = select(Watch.id, Watch.expires_at).where(
        Watch.user_id == actor.user_id, Watch.ticker == ticker, Watch.condition == condition,
        Watch.interval == interval,
    )
    if source is not Source.UNKNOWN:
        same = same.where(Watch.source == source.value)
    for found_id, expires_at in (await session.execute(same)).all():
        if expires_at is None or expires_at > now:
            raise _already(ticker, condition, interval)
        if renew:
            await session.execute(delete(Watch).where(Watch.id == found_id))
    count = await session.scalar(
        select(func.count()).select_from(Watch).where(Watch.user_id == actor.user_id)
    )
    if (count or 0) >= MAX_WATCHES:
        raise LimitExceeded(
            f"you already watch {MAX_WATCHES} tickers, the most allowed",
            hint="remove one with /unwatch TICKER",
        )


def _already(ticker: str, condition: str, interval: str = INTERVAL) -> Conflict:
    what = f"{ticker} with {condition}" if condition else ticker
    if interval != INTERVAL:
        what += f" on {interval} bars"
    return Conflict(f"you are already watching {what}", hint="see your watchlist with /watchlist")


def _range_for(conditions: Iterable[Rule | StoxlifyError | None], interval: str = INTERVAL) -> str:
    bars = max((c.bars_needed() for c in conditions if c is not None and not isinstance(c, StoxlifyError)), default=0)
    width = INTERVALS[interval]
    if width.code == INTERVAL:
        return next((code for limit, code in _RANGES if bars <= limit), _RANGES[-1][1])
    # other widths: the shortest range whose span holds the bars (counted as a stock's trading hours)
    span = width.delta * max(bars, 100) * (_INTRADAY_SPAN if width.intraday else 1.5)
    return next((code for code, length in RANGE_SPANS.items() if length >= span), "max")


async def _candles(
    market: CandleProvider, ticker: str, interval: str, conditions: list[Rule | StoxlifyError | None], source: Source
) -> Candles:
    """The series a watch is judged on: long enough for its indicators, or, where the source keeps
    less history (Yahoo's intraday limits), the interval's usual range."""
    wanted = _range_for(conditions, interval)
    try:
        return await market.candles(ticker, interval, wanted, source)
    except Invalid:
        usual = default_range(INTERVALS[interval]).code
        if usual == wanted:
            raise
        return await market.candles(ticker, interval, usual, source)


def _resolved_source(candles: Candles, asked: Source) -> Source:
    found = getattr(candles.instrument, "source", Source.UNKNOWN)
    return found if found is not Source.UNKNOWN else asked


async def _fetch(
    market: CandleProvider, ticker: str, source: str, interval: str, conditions: list[Rule | StoxlifyError | None]
) -> Candles | str:
    """Candles, or the error text to show in place of this ticker's values."""
    try:
        return await _candles(market, ticker, interval, conditions, Source(source))
    except StoxlifyError as exc:
        return exc.message
    except Exception:
        log.exception("watchlist fetch failed for %s:%s", source, ticker)
        return "data unavailable right now"


def closed_frame(candles: Candles, now: datetime) -> pd.DataFrame:
    """The bars of ``candles`` that have closed by ``now``: what a condition is judged on."""
    return closed_by(candles.frame, candles.interval, now)


def _view_from_candles(
    watch_id: int, ticker: str, source: Source, condition: Rule | None, candles: Candles, now: datetime
) -> WatchView:
    frame = candles.frame
    if frame.empty:
        raise NotFound(f"no recent bars for {ticker}")
    closes = frame["close"]
    price = _finite(closes.iloc[-1])
    previous = _finite(closes.iloc[-2]) if len(closes) > 1 else None
    change = (price / previous - 1.0) * 100.0 if price is not None and previous else None
    status = bar_at = None
    if condition is not None:
        closed = closed_frame(candles, now)
        status = condition.evaluate(closed) if len(closed) else ConditionStatus(None, None, None)
        bar_at = closed.index[-1].to_pydatetime() if len(closed) else None
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
        interval=candles.interval.code,
        bar_at=bar_at,
    )


def bar_close_of(view: WatchView) -> datetime | None:
    """When the bar a view's condition was judged on closed."""
    return bar_close(view.bar_at, INTERVALS[view.interval]) if view.bar_at is not None else None


def _stored_view(watch: Watch, error: str | None = None, now: datetime | None = None) -> WatchView:
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
        interval=watch.interval or INTERVAL,
        expires_at=watch.expires_at,
        bar_at=watch.last_bar_at,
        expired=now is not None and is_expired(watch, now),
    )


def _finite(value: SupportsFloat | str) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
