"""Execute Script and Simulate on the shipped sample data: signals, fills and the chart agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.account.service import actor_for
from core.config import Settings
from core.market.service import MarketService
from core.model.execute import execute_script
from core.simulation.service import simulate
from core.strategy import service as strategies

RULES = "buy rsi(close, 14) < 40; sell rsi(close, 14) > 60"
SCRIPT = "buy = rsi(close, 14) < 40\nsell = rsi(close, 14) > 60"


@pytest.fixture
def market(tmp_path):
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", market_offline=True)
    return settings, MarketService(settings)


async def test_fills_are_at_the_open_after_the_signal(market):
    settings, service = market
    run = await execute_script(service, settings, SCRIPT, "BBCA", "1d", "2y", chart=False)
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


async def test_a_strategy_trades_like_the_same_logic_written_as_a_script(market, sqlite_db):
    settings, service = market
    actor = await actor_for(sqlite_db, platform="console", external_id="me")
    await strategies.save_strategy(sqlite_db, actor, "dip")
    await strategies.add_rules(sqlite_db, actor, "dip", RULES)
    sim = await simulate(sqlite_db, service, settings, actor, "dip", "BBCA", "1d", "2y", chart=False)
    run = await execute_script(service, settings, SCRIPT, "BBCA", "1d", "2y", chart=False)
    pd.testing.assert_frame_equal(sim.backtest.trades, run.backtest.trades)
    assert np.allclose(sim.backtest.equity.to_numpy(), run.backtest.equity.to_numpy())


async def test_history_warms_indicators_up_before_the_shown_range(market):
    settings, service = market
    run = await execute_script(service, settings, "plot(sma(close, 50), \"sma\")", "BBCA", "1d", "6mo", chart=False)
    assert not run.plots[0].values.isna().any()  # settled from the first shown bar on
    assert run.is_indicator and run.backtest is None
