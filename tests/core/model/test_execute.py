"""Execute Script and Simulate on the shipped sample data: signals, fills and the chart agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.account.service import actor_for
from core.config import Settings
from core.market.service import MarketService
from core.model.execute import ScriptRun, execute_script
from core.services import ServiceSet
from core.simulation.service import SimulationRequest, simulate
from core.strategy import service as strategies

RULES = "buy rsi(close, 14) < 40; sell rsi(close, 14) > 60"
SCRIPT = "buy = rsi(close, 14) < 40\nsell = rsi(close, 14) > 60"


@pytest.fixture
def market(tmp_path):
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", market_offline=True)
    return settings, MarketService(settings)


@pytest.fixture
def services(market, sqlite_db):
    settings, service = market
    return ServiceSet(sqlite_db, settings, service)


async def test_fills_are_at_the_open_after_the_signal(services):
    settings = services.settings
    run = await execute_script(services, None, ScriptRun(SCRIPT, "BBCA", "1d", "2y", chart=False))
    frame = run.candles.frame
    trades = run.backtest.trades
    assert len(trades) >= 2
    buy = run.signals["buy"]
    for trade in trades.itertuples():
        entry_bar = frame.index.get_loc(trade.EntryTime)
        assert buy.iloc[entry_bar - 1]  # the signal closed the bar before
        assert trade.EntryPrice == frame["open"].iloc[entry_bar]
        assert trade.Size % 100 == 0  # IDX lots
    # the key figures come from the engine's own stats
    assert run.stats["# Trades"] == len(trades)
    assert run.stats["Return [%]"] == pytest.approx((run.backtest.equity.iloc[-1] / settings.backtest_cash_idr - 1) * 100)


async def test_a_strategy_trades_like_the_same_logic_written_as_a_script(sqlite_db, services):
    actor = await actor_for(sqlite_db, platform="console", external_id="me")
    await strategies.save_strategy(sqlite_db, actor, strategies.StrategyRequest("dip"))
    await strategies.add_rules(sqlite_db, actor, "dip", RULES)
    sim = await simulate(services, actor, SimulationRequest("dip", "BBCA", "1d", "2y", chart=False))
    run = await execute_script(services, None, ScriptRun(SCRIPT, "BBCA", "1d", "2y", chart=False))
    pd.testing.assert_frame_equal(sim.backtest.trades, run.backtest.trades)
    assert np.allclose(sim.backtest.equity.to_numpy(), run.backtest.equity.to_numpy())


async def test_history_warms_indicators_up_before_the_shown_range(services):
    run = await execute_script(services, None, ScriptRun('plot(sma(close, 50), "sma")', "BBCA", "1d", "6mo", chart=False))
    assert not run.plots[0].values.isna().any()  # settled from the first shown bar on
    assert run.is_indicator and run.backtest is None


async def test_stop_loss_and_take_profit_reach_the_backtest_and_close_trades(services):
    script = "buy = close > 0\nsell = close < 0\nstop_loss = 0.02\ntake_profit = 0.03"
    run = await execute_script(services, None, ScriptRun(script, "BBCA", "1d", "2y", chart=False))
    assert run.config.stop_loss == 0.02 and run.config.take_profit == 0.03
    reasons = set(run.backtest.trades["ExitReason"])
    assert {"stop", "target"} <= reasons  # the signal never exits: only the levels do
    for trade in run.backtest.trades.itertuples():
        if trade.ExitReason == "stop":
            assert trade.ExitPrice <= trade.EntryPrice * (1 - 0.02) + 1e-9
        elif trade.ExitReason == "target":
            assert trade.ExitPrice >= trade.EntryPrice * (1 + 0.03) - 1e-9
    plain = ScriptRun("buy = close > 0\nsell = close < 0", "BBCA", "1d", "2y", chart=False)
    plain = await execute_script(services, None, plain)
    assert plain.config.stop_loss is None and plain.config.take_profit is None
    assert len(plain.backtest.trades) == 0  # held to the end: no levels, no exit


async def test_the_shown_candles_keep_every_field_of_the_fetched_ones(sqlite_db, monkeypatch, services):
    import dataclasses

    service = services.market
    real = service.candles_with_history

    async def with_extra(*args, **kwargs):
        shown, history = await real(*args, **kwargs)
        return dataclasses.replace(shown, extra={"note": "kept"}, name="Bank Central Asia"), history

    monkeypatch.setattr(service, "candles_with_history", with_extra)
    run = await execute_script(services, None, ScriptRun(SCRIPT, "BBCA", "1d", "1y", chart=False))
    actor = await actor_for(sqlite_db, platform="console", external_id="me")
    await strategies.save_strategy(sqlite_db, actor, strategies.StrategyRequest("dip"))
    await strategies.add_rules(sqlite_db, actor, "dip", RULES)
    sim = await simulate(services, actor, SimulationRequest("dip", "BBCA", "1d", "1y", chart=False))
    for candles in (run.candles, sim.candles):
        assert candles.extra == {"note": "kept"} and candles.name == "Bank Central Asia"
        assert candles.frame.index[0] == run.signals.index[0]


LONG = 'slow = sma(close, 200)\nplot(slow, "slow")\nbuy = close > slow\nsell = close < slow'


async def test_buy_and_hold_starts_where_the_indicators_have_values(sqlite_db, services):
    """A 200-bar SMA is not settled by 6mo's warm-up history: trading, Buy & Hold and Alpha start
    at its first value inside the shown range (backtesting.py's warm-up), not at the range's start."""
    run = await execute_script(services, None, ScriptRun(LONG, "BBCA", "1d", "6mo", chart=False))
    slow = run.plots[0].values
    first = int(slow.notna().to_numpy().argmax())
    assert 0 < first < len(slow) - 1 and slow.iloc[:first].isna().all()
    close = run.candles.frame["close"]
    stats = run.backtest.stats
    held = (close.iloc[-1] - close.iloc[first]) / close.iloc[first] * 100
    assert run.stats["Buy & Hold Return [%]"] == pytest.approx(held, rel=1e-12)
    assert held != pytest.approx((close.iloc[-1] - close.iloc[0]) / close.iloc[0] * 100)
    assert stats["Alpha [%]"] == pytest.approx(stats["Return [%]"] - stats["Beta"] * held, rel=1e-12)
    assert (run.backtest.trades["EntryBar"] > first).all()

    actor = await actor_for(sqlite_db, platform="console", external_id="me")
    await strategies.save_strategy(sqlite_db, actor, strategies.StrategyRequest("trend"))
    await strategies.add_rules(sqlite_db, actor, "trend", "buy close > sma(close, 200); sell close < sma(close, 200)")
    sim = await simulate(services, actor, SimulationRequest("trend", "BBCA", "1d", "6mo", chart=False))
    assert sim.stats["Buy & Hold Return [%]"] == pytest.approx(held, rel=1e-12)
