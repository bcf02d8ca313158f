"""The promise: what ``/run`` shows is what a paper deployment does.

A series is replayed candle by candle through the deployment tick on the real paper broker (balances
checked, fees charged), each candle forming first (only its open known) and closing at the next
tick; then ``/run`` of the same model runs on the same bars. Both must give the same trades: entry
and exit times, prices, quantities, fees, P&L, and the same final equity. Crypto trades fractional
units, IDX stocks whole lots of 100, each at the whole account (``size`` 100 %, the entry that used to
be refused for its fee).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from core.broker.models import PaperBalance
from core.broker.pool import BrokerPool
from core.deployment.models import Deployment
from core.deployment.tick import Tick
from core.market.service import MarketService
from core.market.types import Candles, Instrument, Interval, Range, SearchHit, Source
from core.model.execute import ScriptRun, execute_script
from core.services import ServiceSet
from core.trade.models import Order, Trade
from tests.core.deployment.kit import load, make_credential, make_settings, make_user

MODEL = """
fast = ema(close, input("fast", 5))
slow = ema(close, input("slow", 13))
plot(fast, "fast")
buy = crossover(fast, slow) and bar_index > 20
sell = crossunder(fast, slow)
stop_loss = 0.02
take_profit = 0.04
"""

CRYPTO = Instrument(Source.BINANCE, "BTC/USDT", "BTCUSDT", currency="USDT")
IDX = Instrument(Source.YFINANCE, "BBCA.JK", "BBCA", currency="IDR", lot_size=100)


def walk(n: int, start: float, seed: int, index: pd.DatetimeIndex, tick: float) -> pd.DataFrame:
    """A random walk with gaps between candles, so stops fill at their level and at gapping opens."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0, 0.012, n)))
    open_ = np.r_[start, close[:-1]] * np.exp(rng.normal(0, 0.006, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.008, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.008, n)))

    def ticks(x: np.ndarray) -> np.ndarray:
        return np.round(x / tick) * tick

    frame = pd.DataFrame({"open": ticks(open_), "high": ticks(high), "low": ticks(low), "close": ticks(close),
                          "volume": 1000.0}, index=index)  # fmt: skip
    frame["high"] = frame[["open", "high", "close"]].max(axis=1)
    frame["low"] = frame[["open", "low", "close"]].min(axis=1)
    return frame


class Replay:
    """A feed over one series as it unfolds: bars up to the clock, the forming one with its open only."""

    provider = "Replay"

    def __init__(self, instrument: Instrument, frame: pd.DataFrame, interval: timedelta, *, forming: bool) -> None:
        self.source = instrument.source
        self.instrument = instrument
        self.frame = frame
        self.interval = interval
        self.forming = forming

    def intervals(self) -> Sequence[str]:
        return ["1h", "1d"]

    def resolve(self, ticker: str) -> Instrument:
        return self.instrument

    async def fetch(self, instrument: Instrument, interval: Interval, range_: Range, now: datetime) -> Candles:
        shown = self.frame[self.frame.index <= pd.Timestamp(now)].copy()
        if self.forming and len(shown) and shown.index[-1] + self.interval > pd.Timestamp(now):
            first = shown.iloc[-1]["open"]  # nothing after the open is known yet
            shown.iloc[-1, shown.columns.get_indexer(["high", "low", "close"])] = first
        return Candles(instrument, interval, shown, self.provider)

    async def search(self, query: str, limit: int = 10) -> list[SearchHit]:
        return []


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _market(settings, source: Replay, clock: Clock) -> MarketService:
    return MarketService(settings, sources={Source.BINANCE: source, Source.YFINANCE: source}, clock=clock)


async def _replay(db, instrument: Instrument, frame: pd.DataFrame, code: str, step: timedelta):
    """Deploy MODEL on the paper account and tick once at every candle's open; the deployment, its
    trades in order, and the account's equity at the last close (an entry signalled on the last
    closed bar fills after the range /run sees, so it is taken out again)."""
    settings = make_settings()
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    async with db.session() as session:
        row = Deployment(user_id=actor.user_id, credential_id=credential, label="cross", source=MODEL, inputs={},
                         market=instrument.source.value, ticker=instrument.display, interval=code, size=1.0,
                         status="TaskPending", last_bar_at=frame.index[0].to_pydatetime())  # fmt: skip
        session.add(row)
        await session.flush()
        deployment_id = row.id
    clock = Clock(frame.index[0].to_pydatetime())
    source = Replay(instrument, frame, step, forming=True)
    tick = Tick(db, settings, _market(settings, source, clock), BrokerPool(db, settings), clock=clock)
    for opened in frame.index[1:]:
        clock.now = opened.to_pydatetime() + timedelta(seconds=5)
        await tick.run(clock.now)
    shown = frame.iloc[:-1]  # what /run sees: every bar closed at the end
    orders = {o.id: o for o in await load(db, Order)}
    trades = [t for t in await load(db, Trade)]
    late = [t for t in trades if orders[t.order_id].bar_at >= shown.index[-1] + step]
    cash = {b.asset: b.amount for b in await load(db, PaperBalance) if not b.asset.startswith("fill:")}
    base = instrument.symbol.split("/")[0] if "/" in instrument.symbol else instrument.symbol
    quote = "USDT" if "/" in instrument.symbol else "IDR"
    held = cash.get(base, 0.0) - sum(t.quantity for t in late)
    equity = cash[quote] + sum(t.quantity * t.price + t.fee for t in late) + held * shown["close"].iloc[-1]
    kept = [t for t in trades if t not in late]
    return settings, shown, orders, kept, equity, deployment_id


async def _run(db, settings, instrument: Instrument, shown: pd.DataFrame, code: str, step: timedelta):
    clock = Clock(shown.index[-1].to_pydatetime() + step + timedelta(seconds=5))
    market = _market(settings, Replay(instrument, shown, step, forming=False), clock)
    run = ScriptRun(MODEL, instrument.display, code, "max", label="cross", market_source=instrument.source, chart=False)
    return await execute_script(ServiceSet(db, settings, market), None, run)


def _pairs(trades: list[Trade]) -> tuple[list[tuple[Trade, Trade]], Trade | None]:
    pairs, entry = [], None
    for trade in trades:
        if trade.side == "buy":
            assert entry is None, "a second entry while holding"
            entry = trade
        else:
            assert entry is not None, "an exit while flat"
            pairs.append((entry, trade))
            entry = None
    return pairs, entry


CASES = {
    "crypto": (CRYPTO, "1h", timedelta(hours=1),
               pd.date_range(datetime(2026, 3, 2, tzinfo=UTC), periods=241, freq="h"), 64_000.0, 0.01, 12),
    # IDX: daily candles on trading days only (a weekend between Friday's signal and Monday's fill)
    "idx": (IDX, "1d", timedelta(days=1),
            pd.bdate_range(datetime(2025, 6, 2), periods=201, tz="UTC"), 9_150.0, 25.0, 7),
}  # fmt: skip  (the seeds give series with every kind of exit, a gapped one included)


@pytest.mark.parametrize("case", list(CASES))
async def test_a_paper_deployment_trades_exactly_as_run_shows(db, case):
    instrument, code, step, index, start, tick_size, seed = CASES[case]
    frame = walk(len(index), start, seed, index, tick_size)
    settings, shown, orders, trades, equity, deployment_id = await _replay(db, instrument, frame, code, step)
    run = await _run(db, settings, instrument, shown, code, step)
    expected = run.backtest.trades
    assert len(expected) >= 6 and set(expected["ExitReason"]) == {"signal", "stop", "target"}  # every exit
    gapped = [x for x in expected.itertuples() if x.ExitReason != "signal" and x.ExitPrice == shown["open"].iloc[x.ExitBar]]
    assert gapped  # a stop or target filled at the open of a candle that gapped past it

    pairs, open_entry = _pairs(trades)
    assert len(pairs) == len(expected)
    for (entry, exit_), (_, want) in zip(pairs, expected.iterrows(), strict=True):
        bought, sold = orders[entry.order_id], orders[exit_.order_id]
        assert bought.bar_at == want["EntryTime"].to_pydatetime()
        assert sold.bar_at == want["ExitTime"].to_pydatetime()
        assert entry.quantity == exit_.quantity == pytest.approx(want["Size"], rel=1e-12)
        assert entry.price == pytest.approx(want["EntryPrice"], rel=1e-12)
        assert exit_.price == pytest.approx(want["ExitPrice"], rel=1e-12)
        assert sold.reason == want["ExitReason"]
        assert entry.fee + exit_.fee == pytest.approx(want["Commission"], rel=1e-9)
        assert exit_.pnl == pytest.approx(want["PnL"], rel=1e-9, abs=1e-6)
    if run.backtest.open_trade is None:
        assert open_entry is None
    else:
        assert open_entry is not None and open_entry.quantity == pytest.approx(run.backtest.open_trade["Size"])
        assert orders[open_entry.order_id].bar_at == run.backtest.open_trade["EntryTime"].to_pydatetime()
    assert equity == pytest.approx(float(run.backtest.equity.iloc[-1]), rel=1e-9)
    if case == "idx":
        assert all(t.quantity % 100 == 0 for t in trades)  # whole lots
    [row] = await load(db, Deployment, id=deployment_id)
    assert row.status in ("NoPosition", "OpenPosition") and "insufficient" not in row.status_reason
