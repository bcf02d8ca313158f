"""Watches on any interval and expression (issue 15): the stored row, one alert per closed bar and
none on a forming one, none after expiry (the owner told once), the threshold on the alert chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from matplotlib.colors import to_hex
from sqlalchemy import select

from core.account.service import actor_for
from core.app import Core
from core.charts.candles import THRESHOLD, _build_figure, _pyplot
from core.config import Settings
from core.errors import Invalid
from core.market import watchlist
from core.market.models import Watch
from core.market.types import INTERVALS, Candles, Instrument, Source
from core.message import Message
from core.notify import ChatTarget
from core.script.watch import ExpressionCondition, parse_watch_condition
from jobs import monitoring
from jobs.monitoring import check_watches
from tests.sample_bars import sample_bars

# The last hourly bar opens at OPEN: at NOW it is still forming (it closes at OPEN + 1h).
OPEN = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
NOW = OPEN + timedelta(minutes=30)
CLOSED = OPEN + timedelta(hours=1, minutes=1)


def _hourly(ticker: str = "BTCUSDT") -> pd.DataFrame:
    """The shipped hourly bars moved so that the last one opens at ``OPEN``."""
    frame = sample_bars(ticker, "1h").iloc[-400:]
    index = pd.date_range(end=OPEN, periods=len(frame), freq="1h", tz="UTC")
    return frame.set_axis(index)


class FakeMarket:
    """``MarketService.candles`` over moved sample bars, per interval; records each call's interval."""

    def __init__(self) -> None:
        self.frames = {("BTCUSDT", "1h"): _hourly(), ("BBCA", "1d"): sample_bars("BBCA", "1d")}
        self.calls: list[tuple[str, str]] = []
        self.fetched_at: datetime | None = None  # when the series was fetched (a cache's entry)

    def set_close(self, ticker: str, interval: str, close: float, position: int = -1) -> None:
        frame = self.frames[ticker, interval].copy()
        at = frame.index[position]
        frame.loc[at, ["close", "high", "low"]] = [close, max(frame.loc[at, "high"], close), min(frame.loc[at, "low"], close)]
        self.frames[ticker, interval] = frame

    def add_bar(self, ticker: str, interval: str, close: float) -> None:
        frame = self.frames[ticker, interval]
        bar = pd.DataFrame({"open": [close], "high": [close], "low": [close], "close": [close], "volume": [1.0]},
                           index=[frame.index[-1] + INTERVALS[interval].delta])  # fmt: skip
        self.frames[ticker, interval] = pd.concat([frame, bar])

    async def candles(self, ticker, interval="1d", range_=None, source=Source.UNKNOWN) -> Candles:
        self.calls.append((ticker, interval))
        crypto = ticker.endswith("USDT")
        instrument = Instrument(Source.BINANCE if crypto else Source.YFINANCE, ticker, ticker,
                                currency="USDT" if crypto else "IDR")  # fmt: skip
        return Candles(instrument, INTERVALS[interval], self.frames[ticker, interval], provider="CSV (sample)",
                       sample=True, fetched_at=self.fetched_at)  # fmt: skip


class Recorder:
    platform = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[ChatTarget, Message]] = []

    async def send(self, target: ChatTarget, notice: Message) -> bool:
        self.sent.append((target, notice))
        return True


@pytest.fixture
def market() -> FakeMarket:
    return FakeMarket()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def core(db, market, recorder) -> Core:
    settings = Settings(_env_file=None, market_offline=True, chart_width_px=600, chart_height_px=400)
    return Core(settings=settings, db=db, market=market, notifiers={"telegram": recorder})  # type: ignore[arg-type]


@pytest.fixture
def charts(monkeypatch):
    """Each alert chart's figure, built from what the job asked to render (then inspected, not drawn)."""
    built: list = []

    def spy(candles, indicators=(), **options):
        built.append(_build_figure(candles, indicators, **options))
        return b"\x89PNG fake"

    monkeypatch.setattr(monitoring, "render_candles", spy)
    yield built
    for fig in built:
        _pyplot().close(fig)


@pytest.fixture
async def ana(db):
    return await actor_for(db, platform="telegram", external_id="111", display_name="Ana")


async def _row(db) -> Watch:
    async with db.session() as session:
        return (await session.scalars(select(Watch))).one()


def _last_closed_close(market: FakeMarket) -> float:
    return float(market.frames["BTCUSDT", "1h"]["close"].iloc[-2])


async def test_the_row_keeps_the_interval_and_the_expiry(db, ana, market):
    until = NOW + timedelta(days=7)
    view = await watchlist.add_watch(db, ana, market, "btcusdt", "RSI<30", interval="1H", expires_at=until, now=NOW)
    row = await _row(db)
    assert (row.ticker, row.interval, row.condition, row.expires_at) == ("BTCUSDT", "1h", "rsi:14<30", until)
    assert row.last_bar_at == OPEN - timedelta(hours=1)  # judged on the last *closed* bar
    assert market.calls == [("BTCUSDT", "1h")]
    assert (view.interval, view.expires_at) == ("1h", until)
    # the same condition on another interval is another watch; on the same one it is a duplicate
    await watchlist.add_watch(db, ana, market, "BBCA", "rsi<30", now=NOW)
    with pytest.raises(Exception, match="already watching BTCUSDT with rsi:14<30 on 1h bars"):
        await watchlist.add_watch(db, ana, market, "BTCUSDT", "rsi<30", interval="1h", now=NOW)


async def test_bad_interval_expression_and_expiry_are_refused(db, ana, market):
    with pytest.raises(Invalid, match="unknown interval '2d'"):
        await watchlist.add_watch(db, ana, market, "BTCUSDT", "rsi<30", interval="2d", now=NOW)
    with pytest.raises(Invalid, match="unknown function 'emaa'"):
        await watchlist.add_watch(db, ana, market, "BTCUSDT", "emaa(close, 9) > 1", interval="1h",
                                  rules=parse_watch_condition, now=NOW)  # fmt: skip
    with pytest.raises(Invalid, match="passed already"):
        await watchlist.add_watch(db, ana, market, "BTCUSDT", "rsi<30", interval="1h", expires_at=NOW, now=NOW)
    with pytest.raises(Invalid, match="passed already"):
        watchlist.parse_expiry("until 2026-12-06", NOW)
    assert watchlist.parse_expiry("until 2026-12-31", NOW) == datetime(2027, 1, 1, tzinfo=UTC)
    assert watchlist.parse_expiry("for 12h", NOW) == NOW + timedelta(hours=12)
    assert watchlist.split_expiry('"rsi(close, 14) < 30" for 7d') == ("rsi(close, 14) < 30", "for 7d")
    assert await _rows_count(db) == 0


async def _rows_count(db) -> int:
    async with db.session() as session:
        return len((await session.scalars(select(Watch))).all())


async def test_alerts_once_per_closed_bar_and_never_on_a_forming_one(db, core, market, recorder, ana, charts):
    level = _last_closed_close(market) * 1.05
    await watchlist.add_watch(db, ana, market, "BTCUSDT", f"price>{level:.0f}", interval="1h", now=NOW)
    market.set_close("BTCUSDT", "1h", level * 1.02)  # the forming bar goes above the level ...
    assert await check_watches(core, now=NOW) == 0  # ... but it has not closed: no alert
    assert recorder.sent == []

    assert await check_watches(core, now=CLOSED) == 1  # it closed above: one alert, for that bar
    [(target, notice)] = recorder.sent
    assert target == ChatTarget("telegram", "111")
    assert notice.text.splitlines()[0] == f"🔔 BTCUSDT 1h: price>{level:.0f} is met"
    assert "1h bar of 07 Dec 2026 10:00 UTC" in notice.text
    row = await _row(db)
    assert row.alerted_bar_at == OPEN and row.last_bar_at == OPEN

    assert await check_watches(core, now=CLOSED + timedelta(minutes=1)) == 0  # the same bar: not again
    market.set_close("BTCUSDT", "1h", level * 0.9)  # seen below by a listing (re-armed) ...
    await watchlist.list_watches(db, ana, market, now=CLOSED + timedelta(minutes=2))
    market.set_close("BTCUSDT", "1h", level * 1.03)  # ... and above again, still on that bar
    assert await check_watches(core, now=CLOSED + timedelta(minutes=3)) == 0
    assert len(recorder.sent) == 1

    market.add_bar("BTCUSDT", "1h", level * 0.9)  # the next bar closes below
    assert await check_watches(core, now=CLOSED + timedelta(hours=1)) == 0
    market.add_bar("BTCUSDT", "1h", level * 1.1)  # ... and the one after above: a new crossing, a new bar
    assert await check_watches(core, now=CLOSED + timedelta(hours=1, minutes=30)) == 0  # not closed yet
    assert await check_watches(core, now=CLOSED + timedelta(hours=2)) == 1
    assert len(recorder.sent) == 2
    assert (await _row(db)).alerted_bar_at == OPEN + timedelta(hours=2)


async def test_an_expired_watch_stops_alerting_and_its_owner_is_told_once(db, core, market, recorder, ana, charts):
    level = _last_closed_close(market) * 1.05
    until = CLOSED - timedelta(minutes=5)
    await watchlist.add_watch(db, ana, market, "BTCUSDT", f"price>{level:.0f}", interval="1h", expires_at=until, now=NOW)
    market.set_close("BTCUSDT", "1h", level * 1.02)  # closes above the level, after the watch ended
    assert await check_watches(core, now=CLOSED) == 0
    [(_, notice)] = recorder.sent
    assert notice.text.startswith(f"⏰ Your watch on BTCUSDT 1h price>{level:.0f} expired on 07 Dec 2026 10:56 UTC")
    assert ("Remove", "/unwatch BTCUSDT") in notice.commands
    assert await check_watches(core, now=CLOSED + timedelta(minutes=1)) == 0
    assert len(recorder.sent) == 1  # told once
    row = await _row(db)
    assert row.alerted_bar_at is None and row.expiry_told_at == CLOSED

    [view] = await watchlist.list_watches(db, ana, market, now=CLOSED + timedelta(minutes=2))
    assert view.expired and view.expires_at == until
    from bots.commands.market import _watch_line

    assert _watch_line(view).endswith("· expired 07 Dec 2026, no longer checked")

    # watching it again renews it: the expired row gives way to the new one
    later = CLOSED + timedelta(days=1)
    await watchlist.add_watch(db, ana, market, "BTCUSDT", f"price>{level:.0f}", interval="1h",
                              expires_at=later + timedelta(days=7), now=later)  # fmt: skip
    row = await _row(db)
    assert row.expires_at == later + timedelta(days=7) and row.expiry_told_at is None


async def test_the_alert_chart_draws_the_threshold_on_the_indicators_panel(db, core, market, recorder, ana, charts):
    await watchlist.add_watch(db, ana, market, "BTCUSDT", "rsi>1", interval="1h", now=NOW)
    assert await check_watches(core, now=CLOSED) == 1
    [fig] = charts
    rsi_panel = fig.axes[2]  # price, volume, RSI
    levels = [line for line in rsi_panel.get_lines() if to_hex(line.get_color()) == THRESHOLD]
    assert [tuple(line.get_ydata()) for line in levels] == [(1.0, 1.0)]
    assert "rsi:14>1" in [t.get_text() for t in rsi_panel.get_legend().get_texts()]
    assert not [line for line in fig.axes[0].get_lines() if to_hex(line.get_color()) == THRESHOLD]


async def test_indicator_against_indicator_draws_both(db, core, market, recorder, ana, charts):
    await watchlist.add_watch(db, ana, market, "BTCUSDT", "ema:9!=ema:21", interval="1h", now=NOW)
    assert await check_watches(core, now=CLOSED) == 1
    [fig] = charts
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["EMA(9)", "EMA(21)"]
    assert not [ln for ax in fig.axes for ln in ax.get_lines() if to_hex(ln.get_color()) == THRESHOLD]


async def test_a_price_level_is_drawn_on_the_price_panel(db, core, market, recorder, ana, charts):
    level = round(_last_closed_close(market) * 0.99)
    await watchlist.add_watch(db, ana, market, "BTCUSDT", f"close>{level}", interval="1h", now=NOW)
    assert await check_watches(core, now=CLOSED) == 1
    [fig] = charts
    levels = [line for line in fig.axes[0].get_lines() if to_hex(line.get_color()) == THRESHOLD]
    assert [line.get_ydata()[0] for line in levels] == [level]


async def test_an_expression_alerts_with_both_series_and_its_level_drawn(db, core, market, recorder, ana, charts):
    rules = parse_watch_condition
    text = "ema(close, 9) > ema(close, 21) or ema(close, 9) <= ema(close, 21)"  # always true once both exist
    await watchlist.add_watch(db, ana, market, "BTCUSDT", text, interval="1h", rules=rules, now=NOW)
    await watchlist.add_watch(db, ana, market, "BTCUSDT", "rsi(close, 14) > 1", interval="1h", rules=rules, now=NOW)
    assert await check_watches(core, now=CLOSED) == 2
    texts = sorted(notice.text.splitlines()[0] for _, notice in recorder.sent)
    assert texts == [f"🔔 BTCUSDT 1h: {text} is met", "🔔 BTCUSDT 1h: rsi(close, 14) > 1 is met"]
    rsi_text = next(n.text for _, n in recorder.sent if "rsi(close" in n.text)
    assert "rsi(close, 14) now " in rsi_text and "(vs 1.00)" in rsi_text
    ema_fig = next(fig for fig in charts if len(fig.axes) == 2)  # price and volume
    rsi_fig = next(fig for fig in charts if len(fig.axes) == 3)  # and a panel for the RSI's line
    legend = [t.get_text() for t in ema_fig.axes[0].get_legend().get_texts()]
    assert legend == ["ema(close, 9)", "ema(close, 21)"]  # both compared series, on the price panel
    own = rsi_fig.axes[-1]  # the RSI is not on the price's scale: its own panel, with the level at 1
    assert [tuple(ln.get_ydata()) for ln in own.get_lines() if to_hex(ln.get_color()) == THRESHOLD] == [(1.0, 1.0)]
    assert "rsi(close, 14)" in [t.get_text() for t in own.get_legend().get_texts()]


async def test_the_job_does_not_recompute_a_verdict_on_the_same_fetch_and_bar(db, core, market, ana, monkeypatch):
    computed: list[int] = []
    real = watchlist.check_against

    def counting(watches, candles, now):
        computed.append(len(watches))
        return real(watches, candles, now)

    monkeypatch.setattr(watchlist, "check_against", counting)
    market.fetched_at = NOW
    await watchlist.add_watch(db, ana, market, "BTCUSDT", "rsi<30", interval="1h", now=NOW)
    computed.clear()
    await check_watches(core, now=CLOSED)  # a newly closed bar: computed
    assert computed == [1]
    await check_watches(core, now=CLOSED + timedelta(minutes=1))  # the same fetch and bar: kept
    assert computed == [1]
    row = await _row(db)
    assert row.last_checked_at == CLOSED + timedelta(minutes=1) and row.last_bar_at == OPEN
    market.fetched_at = CLOSED + timedelta(minutes=2)  # fetched anew (the cache expired): computed again
    await check_watches(core, now=CLOSED + timedelta(minutes=3))
    assert computed == [1, 1]


async def test_one_fetch_per_ticker_and_interval_per_run(db, core, market, ana, charts):
    bob = await actor_for(db, platform="telegram", external_id="222", display_name="Bob")
    market.frames["BTCUSDT", "1d"] = sample_bars("BTCUSDT", "1d")
    for actor in (ana, bob):
        await watchlist.add_watch(db, actor, market, "BTCUSDT", "rsi<30", interval="1h", now=NOW)
        await watchlist.add_watch(db, actor, market, "BTCUSDT", "rsi>70", interval="1h", now=NOW)
    await watchlist.add_watch(db, ana, market, "BTCUSDT", "rsi<30", now=NOW)
    market.calls.clear()
    await check_watches(core, now=CLOSED)
    assert sorted(market.calls) == [("BTCUSDT", "1d"), ("BTCUSDT", "1h")]


def test_the_history_fetched_fits_the_interval():
    from core.market.conditions import parse_condition

    rsi, slow = parse_condition("rsi<30"), parse_condition("close>ema:200")
    assert watchlist._range_for([rsi]) == "6mo" and watchlist._range_for([slow]) == "2y"  # daily, as before
    assert watchlist._range_for([rsi], "1h") == "1mo"  # 100 hourly bars of a stock's trading hours
    assert watchlist._range_for([slow], "15m") == "1mo"
    assert watchlist._range_for([rsi], "1w") == "5y"


def test_an_expression_condition_pickles_and_reads_its_sides():
    import pickle

    condition = parse_watch_condition("crossover(ema(close, 9), ema(close, 21))")
    assert isinstance(condition, ExpressionCondition) and condition.op == "crosses above"
    assert pickle.loads(pickle.dumps(condition)) == condition  # it goes to compute workers as it is
    frame = _hourly()
    status = condition.evaluate(frame)
    assert status.lhs_value is not None and status.rhs_value is not None and status.met in (True, False)
    assert condition.bars_needed() == 52
    assert parse_watch_condition("rsi<30").text == "rsi:14<30"  # the short grammar first, as before
