"""Dashboard Monitoring on hand-made fills: exact P&L, return, win rate, best and worst, per window."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from PIL import Image

from bots.commands.trades import render_dashboard
from core.account.service import actor_for
from core.charts.candles import _pyplot
from core.errors import Invalid, Unavailable
from core.market.types import INTERVALS, Candles, Instrument, Source
from core.statistic.dashboard import Period, dashboard, dashboard_chart, parse_period
from core.statistic.equity_chart import equity_figure
from tests.core.statistic.trade_rows import add_deployment, add_trade

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
D, H = timedelta(days=1), timedelta(hours=1)

# (label, when, side, qty, price, pnl): two models in IDR, fills from 40 days ago to now.
FILLS = [
    ("ema_cross", NOW - 40 * D, "buy", 100, 9000, None),
    ("ema_cross", NOW - 35 * D, "sell", 100, 9500, 48_000.0),  # before every window
    ("ema_cross", NOW - 21 * D, "buy", 100, 9000, None),
    ("ema_cross", NOW - 20 * D, "sell", 100, 9300, 28_000.0),  # month
    ("rsi_rev", NOW - 6 * D, "buy", 10, 3100, None),
    ("rsi_rev", NOW - 5 * D, "sell", 10, 3000, -1_060.0),  # week, month
    ("ema_cross", NOW - 4 * D, "buy", 100, 9200, None),
    ("ema_cross", NOW - 3 * D, "sell", 100, 9100, -12_000.0),  # week, month
    ("ema_cross", NOW - 1 * D, "buy", 100, 9000, None),  # exactly the day window's start: inside
    ("rsi_rev", NOW - 10 * H, "sell", 50, 3000, None),  # opens a short
    ("ema_cross", NOW - 2 * H, "sell", 100, 9400, 35_000.0),  # day, week, month
    ("rsi_rev", NOW - 1 * H, "buy", 50, 2900, 4_700.0),  # covers the short: day, week, month
    ("ema_cross", NOW, "buy", 1, 9400, None),  # the window's end is exclusive: in none
]
# basis per closing fill: qty*price - pnl for a sell, qty*price + pnl for a buy (see the module doc)
EXPECTED = {
    Period.DAY: dict(
        trades=4, closed=2, wins=2, pnl=39_700.0, basis=905_000 + 149_700,
        best=("ema_cross", 35_000.0), worst=("rsi_rev", 4_700.0),
    ),
    Period.WEEK: dict(
        trades=8, closed=4, wins=2, pnl=26_640.0, basis=905_000 + 149_700 + 922_000 + 31_060,
        best=("ema_cross", 23_000.0), worst=("rsi_rev", 3_640.0),
    ),
    Period.MONTH: dict(
        trades=10, closed=5, wins=3, pnl=54_640.0, basis=905_000 + 149_700 + 922_000 + 31_060 + 902_000,
        best=("ema_cross", 51_000.0), worst=("rsi_rev", 3_640.0),
    ),
}  # fmt: skip


@pytest.fixture
async def ana(db):
    actor = await actor_for(db, platform="telegram", external_id="1", display_name="Ana")
    for label, when, side, qty, price, pnl in FILLS:
        await add_trade(db, actor.user_id, at=when, side=side, qty=qty, price=price, pnl=pnl, label=label)
    await add_deployment(db, actor.user_id, "ema_cross", status="OpenPosition", position_qty=100, entry_price=9000)
    await add_deployment(db, actor.user_id, "rsi_rev", status="NoPosition")
    await add_deployment(db, actor.user_id, "new", status="TaskPending")
    await add_deployment(db, actor.user_id, "held", status="Paused", position_qty=5, entry_price=100)
    await add_deployment(db, actor.user_id, "done", status="TaskDone")
    return actor


@pytest.fixture
async def budi(db):
    """Another user trading in the same windows: none of it may show on Ana's dashboard."""
    actor = await actor_for(db, platform="discord", external_id="2", display_name="Budi")
    await add_trade(db, actor.user_id, at=NOW - 2 * H, side="sell", qty=1, price=100, pnl=-999.0, label="x")
    await add_deployment(db, actor.user_id, "x", status="OpenPosition", position_qty=1, entry_price=1)
    return actor


@pytest.mark.parametrize("period", list(Period))
async def test_figures_per_window(db, ana, budi, period):
    want = EXPECTED[period]
    d = await dashboard(db, ana, period, now=NOW)
    assert (d.period, d.end, d.start) == (period, NOW, NOW - {"day": D, "week": 7 * D, "month": 30 * D}[period])
    assert (d.trade_count, d.closed, d.wins) == (want["trades"], want["closed"], want["wins"])
    assert d.win_rate == pytest.approx(want["wins"] / want["closed"] * 100)
    [idr] = d.currencies
    assert idr.currency == "IDR"
    assert idr.pnl == pytest.approx(want["pnl"], abs=1e-9)
    assert idr.basis == pytest.approx(want["basis"], abs=1e-9)
    assert idr.return_pct == pytest.approx(want["pnl"] / want["basis"] * 100)
    assert d.best.label == want["best"][0] and d.best.pnl == pytest.approx(want["best"][1])
    assert d.worst.label == want["worst"][0] and d.worst.pnl == pytest.approx(want["worst"][1])
    assert (d.open_positions, d.active_deployments) == (2, 3)  # not windowed: the state now
    # Nothing open at the window's start and no prices asked for: the equity curve starts at 0 and
    # ends at the realised total (positions held in between are marked at their fee-free entry).
    curve = d.equity["IDR"]
    assert curve.times[0] == d.start and curve.times[-1] == NOW and curve.equity[0] == 0.0
    assert curve.equity[-1] == pytest.approx(want["pnl"]) and not curve.unrealised.any()


async def test_day_equity_steps_at_each_close(db, ana):
    d = await dashboard(db, ana, "day", now=NOW)
    [curve] = d.equity.values()
    assert curve.times == (NOW - D, NOW - 10 * H, NOW - 2 * H, NOW - H, NOW)  # the start, each fill, the end
    assert curve.realised.tolist() == [0.0, 0.0, 35_000.0, 39_700.0, 39_700.0]
    assert curve.unpriced == 2  # fills without a deployment: nothing to price them by


async def test_model_figures_and_win_rates(db, ana):
    d = await dashboard(db, ana, "week", now=NOW)
    ema, rsi = d.models
    assert (ema.label, ema.closed, ema.wins, ema.basis) == ("ema_cross", 2, 1, 905_000 + 922_000)
    assert ema.win_rate == 50.0 and ema.return_pct == pytest.approx(23_000 / 1_827_000 * 100)
    assert (rsi.label, rsi.closed, rsi.wins, rsi.basis) == ("rsi_rev", 2, 1, 149_700 + 31_060)


async def test_mixed_currencies_are_never_summed_and_models_rank_by_return(db, ana):
    await add_trade(
        db, ana.user_id, at=NOW - 3 * H, side="sell", qty=0.01, price=60_000, pnl=30.0,
        label="btc_trend", symbol="BTC/USDT", currency="USDT",
    )  # fmt: skip
    d = await dashboard(db, ana, "week", now=NOW)
    assert [(c.currency, c.pnl) for c in d.currencies] == [("IDR", pytest.approx(26_640.0)), ("USDT", 30.0)]
    usdt = d.currencies[1]
    assert usdt.basis == pytest.approx(570.0) and usdt.return_pct == pytest.approx(30 / 570 * 100)
    # btc_trend +5.26 %, rsi_rev +2.01 %, ema_cross +1.26 %: IDR and USDT amounts are not comparable.
    assert [m.label for m in d.models] == ["btc_trend", "rsi_rev", "ema_cross"]
    assert d.best.label == "btc_trend" and d.worst.label == "ema_cross"
    assert set(d.equity) == {"IDR", "USDT"}
    text = render_dashboard(d)
    assert "P&L +26,640 IDR · return +1.33%" in text and "P&L +30.00 USDT · return +5.26%" in text


async def test_no_trades_is_a_clear_empty_dashboard(db, budi):
    carla = await actor_for(db, platform="telegram", external_id="3", display_name="Carla")
    d = await dashboard(db, carla, "month", now=NOW)
    assert d.empty and (d.trade_count, d.closed, d.wins) == (0, 0, 0)
    assert d.win_rate is None and d.best is None and d.worst is None
    assert d.currencies == [] and d.models == [] and d.equity == {}
    assert (d.open_positions, d.active_deployments) == (0, 0)
    assert await dashboard_chart(d) is None
    text = render_dashboard(d)
    assert "No trades in the last month." in text and "Best model" not in text


async def test_opening_fills_only_have_no_pnl_yet(db):
    dina = await actor_for(db, platform="telegram", external_id="4", display_name="Dina")
    await add_trade(db, dina.user_id, at=NOW - H, side="buy", qty=100, price=9000, label="ema_cross")
    d = await dashboard(db, dina, "day", now=NOW)
    assert (d.trade_count, d.closed, d.win_rate, d.best, d.currencies) == (1, 0, None, None, [])
    assert "P&L n/a: no position was closed" in render_dashboard(d)


async def test_one_model_is_best_but_not_also_worst(db):
    eko = await actor_for(db, platform="telegram", external_id="5", display_name="Eko")
    await add_trade(db, eko.user_id, at=NOW - H, side="sell", qty=1, price=100, pnl=-5.0, label="solo")
    d = await dashboard(db, eko, "day", now=NOW)
    assert d.best.label == "solo" and d.worst is None
    assert d.win_rate == 0.0


def test_periods():
    assert parse_period(None) is Period.WEEK and parse_period(" Month ") is Period.MONTH
    with pytest.raises(Invalid, match="unknown period 'year'"):
        parse_period("year")


async def test_equity_chart_is_a_png(sqlite_db):
    ana = await actor_for(sqlite_db, platform="telegram", external_id="1", display_name="Ana")
    for label, when, side, qty, price, pnl in FILLS:
        await add_trade(sqlite_db, ana.user_id, at=when, side=side, qty=qty, price=price, pnl=pnl, label=label)
    d = await dashboard(sqlite_db, ana, "month", now=NOW)
    png = await dashboard_chart(d, width_px=1000, height_px=600)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (1000, 600)


# -- equity marked to market, and its drawdown -----------------------------------------------------

START = NOW - D  # the day window's start


class Prices:
    """The market service's ``candles`` over hand-made hourly bars of BBCA; counts the fetches."""

    def __init__(self, bars: dict[datetime, float], db=None) -> None:
        self.bars = bars
        self.db = db
        self.calls: list[tuple[str, str]] = []
        self.connections_held: list[int] = []  # while fetching: a provider never keeps a transaction open

    async def candles(self, ticker, interval="1d", range_=None, source=Source.UNKNOWN):
        self.calls.append((ticker, interval))
        if self.db is not None:
            self.connections_held.append(self.db.engine.sync_engine.pool.checkedout())
        closes = pd.Series(self.bars, dtype="float64")
        frame = pd.DataFrame({"open": closes, "high": closes, "low": closes, "close": closes, "volume": 1.0})
        inst = Instrument(Source.YFINANCE, "BBCA.JK", "BBCA", currency="IDR", lot_size=100)
        return Candles(inst, INTERVALS[interval], frame, provider="Test")


# Bars by their open time: each close is known an hour later (START, +2 h, +4 h, +6 h, and NOW for
# the bar still forming at the end).
BARS = {START - H: 1010.0, START + H: 1050.0, START + 3 * H: 980.0, START + 5 * H: 1100.0, NOW - H: 1070.0}


@pytest.fixture
async def held(db):
    """Fina bought 100 BBCA at 1,000 (fee 100) before the window and sold half at 1,100 (fee 55)
    inside it: P&L 50 × 100 - 50 (half the entry fee) - 55 = 4,895; 50 are still held."""
    fina = await actor_for(db, platform="telegram", external_id="6", display_name="Fina")
    trend = await add_deployment(
        db, fina.user_id, "trend", ticker="BBCA", interval="1h", status="OpenPosition", position_qty=50,
        entry_price=1000,
    )  # fmt: skip
    copy = await add_deployment(db, fina.user_id, "copy", ticker="BBCA", interval="1h")  # same bars: one fetch
    await add_trade(db, fina.user_id, at=START - 2 * H, side="buy", qty=100, price=1000, fee=100.0,
                    label="trend", deployment_id=trend)  # fmt: skip
    await add_trade(db, fina.user_id, at=START + 6 * H, side="sell", qty=50, price=1100, fee=55.0, pnl=4_895.0,
                    label="trend", deployment_id=trend)  # fmt: skip
    await add_trade(db, fina.user_id, at=START + 7 * H, side="buy", qty=1, price=1000, label="copy",
                    deployment_id=copy)  # fmt: skip
    await add_trade(db, fina.user_id, at=START + 8 * H, side="sell", qty=1, price=1000, pnl=0.0, label="copy",
                    deployment_id=copy)  # fmt: skip
    return fina


async def test_equity_marks_open_positions_to_market_at_each_bar(db, held):
    prices = Prices(BARS, db)
    d = await dashboard(db, held, "day", now=NOW, prices=prices)
    assert prices.calls == [("BBCA", "1h")]  # both deployments trade the same bars: fetched once
    assert prices.connections_held == [0]  # fetched after the database was read, not inside its transaction
    curve = d.equity["IDR"]
    assert curve.times == (START, START + 2 * H, START + 4 * H, START + 6 * H, START + 7 * H, START + 8 * H, NOW)
    # realised: the half sold at +6 h; unrealised = qty × (mark - entry) - the entry fee still carried
    assert curve.realised.tolist() == [0.0, 0.0, 0.0, 4_895.0, 4_895.0, 4_895.0, 4_895.0]
    assert curve.unrealised.tolist() == pytest.approx([
        100 * (1010 - 1000) - 100,  # 900: open since before the window, marked at the bar closed at START
        100 * (1050 - 1000) - 100,  # 4,900
        100 * (980 - 1000) - 100,  # -2,100
        50 * (1100 - 1000) - 50,  # 4,950: half sold, half the fee realised with it
        50 * (1100 - 1000) - 50 + 1 * (1100 - 1000),  # the copy's 1 share bought at 1,000, marked at 1,100
        50 * (1100 - 1000) - 50,
        50 * (1070 - 1000) - 50,  # 3,450 now
    ])  # fmt: skip
    assert curve.equity.tolist() == pytest.approx([900, 4_900, -2_100, 9_845, 9_945, 9_845, 8_345])
    assert (curve.unrealised_now, curve.unpriced) == (pytest.approx(3_450.0), 0)
    # underwater: money and percent below the running peak, over the capital (100 × 1,000 held at once)
    assert curve.capital == 100_000.0
    assert curve.drawdown.tolist() == pytest.approx([0, 0, -7_000, 0, 0, -100, -1_600])
    assert curve.drawdown_pct.tolist() == pytest.approx(
        [0, 0, -7_000 / 104_900 * 100, 0, 0, -100 / 109_945 * 100, -1_600 / 109_945 * 100]
    )
    assert curve.max_drawdown == pytest.approx(-7_000.0)
    assert curve.max_drawdown_pct == pytest.approx(-6.673022, abs=1e-6)


async def test_without_prices_an_open_position_is_held_at_entry(db, held):
    d = await dashboard(db, held, "day", now=NOW)
    curve = d.equity["IDR"]
    assert curve.times == (START, START + 6 * H, START + 7 * H, START + 8 * H, NOW)
    assert curve.unrealised.tolist() == [-100.0, -50.0, -50.0, -50.0, -50.0]  # only the carried entry fee
    assert curve.unpriced == 2


async def test_a_failing_price_fetch_leaves_the_position_unpriced(db, held):
    class Down:
        async def candles(self, *args, **kwargs):
            raise Unavailable("Yahoo is not answering")

    d = await dashboard(db, held, "day", now=NOW, prices=Down())
    assert d.equity["IDR"].unpriced == 2 and d.equity["IDR"].realised_now == 4_895.0


async def test_dashboard_text_and_two_panel_chart_of_the_marked_equity(db, held):
    d = await dashboard(db, held, "day", now=NOW, prices=Prices(BARS))
    text = render_dashboard(d)
    assert "Unrealised now +3,450 IDR · equity +8,345 IDR · max drawdown -6.67% (-7,000 IDR)" in text.splitlines()
    fig = equity_figure(d.equity, title="t")
    try:
        equity_ax, drawdown_ax = fig.axes
        assert equity_ax.get_position().y0 > drawdown_ax.get_position().y1  # equity on top, drawdown under it
        [line, realised] = equity_ax.get_lines()[:2]
        assert line.get_ydata().tolist() == pytest.approx([900, 4_900, -2_100, 9_845, 9_945, 9_845, 8_345])
        assert realised.get_ydata().tolist() == d.equity["IDR"].realised.tolist()
        [underwater] = drawdown_ax.get_lines()
        assert underwater.get_ydata().tolist() == pytest.approx(d.equity["IDR"].drawdown_pct.tolist())
        assert "max -6.67%" in drawdown_ax.get_legend().get_texts()[0].get_text()
    finally:
        _pyplot().close(fig)
    png = await dashboard_chart(d, width_px=1000, height_px=600)
    assert Image.open(io.BytesIO(png)).size == (1000, 600)
