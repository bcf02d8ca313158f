"""Dashboard Monitoring on hand-made fills: exact P&L, return, win rate, best and worst, per window."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from bots.commands.trades import render_dashboard
from core.account.service import actor_for
from core.errors import Invalid
from core.statistic.dashboard import Period, dashboard, dashboard_chart, parse_period
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
    # The equity curve starts at 0 at the window's start and ends, flat, at its total.
    curve = d.equity["IDR"]
    assert curve[0] == (d.start, 0.0) and curve[-1][0] == NOW
    assert curve[-1][1] == pytest.approx(want["pnl"]) and len(curve) == want["closed"] + 2


async def test_day_equity_steps_at_each_close(db, ana):
    d = await dashboard(db, ana, "day", now=NOW)
    assert d.equity == {
        "IDR": [(NOW - D, 0.0), (NOW - 2 * H, 35_000.0), (NOW - H, 39_700.0), (NOW, 39_700.0)]
    }


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
