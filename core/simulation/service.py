"""The Simulation domain: backtest a strategy's rules on a ticker, or screen it.

Technical strategies: every ``buy`` rule must hold on a bar to enter, any ``sell`` rule
exits; the signals go through the same engine, account and chart as a model's (so a
strategy and the equivalent script give the same result). Fundamental strategies screen the
ticker's fundamentals: each rule passes, fails, or has no data. Bandarmology strategies screen
the ticker's broker summary the same way (``core.bandarmology``), over the simulation's range
when it names a broker-summary window (``5d``, ``1mo``) and the latest day otherwise.

``simulate`` takes the ``Services`` (database, settings, market), the ``Actor`` and a
``SimulationRequest``, as the deployment domain's functions do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.actor import Actor
from core.backtest.engine import BacktestConfig, BacktestResult
from core.backtest.report import backtest_report, trading_start
from core.bandarmology.types import BrokerSummary
from core.compute import Task
from core.config import Settings
from core.db import Database
from core.errors import Invalid
from core.market.fundamentals import Fundamentals
from core.market.service import MarketService
from core.market.types import Candles, Source
from core.script.limits import TIME_LIMIT
from core.services import Services
from core.strategy.rules import Analytic, compare, metric_condition
from core.strategy.service import StrategyView, get_strategy


@dataclass(frozen=True, slots=True)
class SimulationRequest:
    """A strategy run as ``/simulate``'s words or an HTTP body give it (plain values).

    ``label``: the strategy's. ``range``: how far back the backtest (or a broker-summary screen)
    looks, the interval's default when None. ``source``: the market to read, any that serves the
    ticker by default. ``chart``: draw the backtest (a screen draws nothing). The interval and
    range are checked by the market when the candles are read, as ``/run``'s are.
    """

    label: str
    ticker: str
    interval: str = "1d"
    range: str | None = None
    source: Source = Source.UNKNOWN
    chart: bool = True


@dataclass(frozen=True, slots=True)
class ScreenLine:
    condition: str
    value: float | None
    passed: bool | None  # None: no data for the metric


@dataclass(frozen=True, slots=True)
class Simulation:
    strategy: StrategyView
    ticker: str
    candles: Candles | None = None
    backtest: BacktestResult | None = None
    config: BacktestConfig | None = None
    chart: bytes | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    screen: tuple[ScreenLine, ...] = ()
    fundamentals: Fundamentals | None = None
    bandar: BrokerSummary | None = None  # the broker summary a Bandarmology screen read

    @property
    def passed(self) -> bool | None:
        """A screen's verdict: every rule passed (None when some had no data and none failed)."""
        if not self.screen:
            return None
        if any(line.passed is False for line in self.screen):
            return False
        return True if all(line.passed for line in self.screen) else None


async def simulate(services: Services, actor: Actor, request: SimulationRequest) -> Simulation:
    db, settings, market = services.db, services.settings, services.market
    strategy = await get_strategy(db, actor, request.label)
    if not strategy.rules:
        raise Invalid(f"'{strategy.label}' has no rules yet", hint=f"add some: /rule add {strategy.label} ...")
    ticker, range_ = request.ticker, request.range
    if strategy.analytic is Analytic.BANDARMOLOGY:
        return await _bandar_screen(db, market, settings, actor, strategy, ticker, range_)
    if strategy.analytic is Analytic.FUNDAMENTAL:
        return await _screen(market, strategy, ticker, request.source)
    return await _backtest(
        market, settings, strategy, ticker, request.interval, range_, request.source, request.chart, actor.user_id
    )


def technical_signals(strategy: StrategyView, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int]:
    """(buy, sell, warmup) over ``frame``: all buy rules hold / any sell rule holds, and the first
    bar where every rule's indicators have values (the first bar the strategy could act on)."""
    from core.script import condition_of, evaluate_condition_warmup

    n = len(frame)
    buy_rules, sell_rules = strategy.of("buy"), strategy.of("sell")
    buy = np.ones(n, dtype=bool) if buy_rules else np.zeros(n, dtype=bool)
    warmup = 0
    for rule in buy_rules:
        holds, warm = evaluate_condition_warmup(condition_of(rule.condition), frame)
        buy &= np.asarray(holds, dtype=bool)
        warmup = max(warmup, warm)
    sell = np.zeros(n, dtype=bool)
    for rule in sell_rules:
        holds, warm = evaluate_condition_warmup(condition_of(rule.condition), frame)
        sell |= np.asarray(holds, dtype=bool)
        warmup = max(warmup, warm)
    return buy, sell, warmup


async def _backtest(
    market: MarketService,
    settings: Settings,
    strategy: StrategyView,
    ticker: str,
    interval: str,
    range_: str | None,
    source: Source,
    chart: bool,
    user_id: int,
) -> Simulation:
    if not strategy.of("buy"):
        raise Invalid(f"'{strategy.label}' has no buy rule, so it never enters a trade",
                      hint=f"/rule add {strategy.label} buy rsi(close, 14) < 30")  # fmt: skip
    shown, history = await market.candles_with_history(ticker, interval, range_, source)
    frame = history.frame
    buy, sell, warmup = await market.compute.run(
        technical_signals, strategy, frame, task=Task(user_id, limit_s=TIME_LIMIT + 1, label="the strategy's rules")
    )
    start = trading_start(shown, frame)
    report = await backtest_report(
        shown, frame, start, settings, title=strategy.label, signals=(buy[start:], sell[start:], None, None),
        chart=chart, warmup=warmup, range_=range_, compute=market.compute, user_id=user_id,
    )
    return Simulation(
        strategy, shown.instrument.display, report.candles, report.backtest, report.config, report.chart, report.stats
    )


async def _screen(market: MarketService, strategy: StrategyView, ticker: str, source: Source) -> Simulation:
    fundamentals = await market.fundamentals(ticker, source)
    lines = []
    for rule in strategy.rules:
        metric, op, threshold = metric_condition(rule.condition)
        value = fundamentals.values.get(metric)
        lines.append(ScreenLine(rule.condition, value, None if value is None else compare(value, op, threshold)))
    return Simulation(strategy, fundamentals.ticker, screen=tuple(lines), fundamentals=fundamentals)


async def _bandar_screen(
    db: Database,
    market: MarketService,
    settings: Settings,
    actor: Actor,
    strategy: StrategyView,
    ticker: str,
    range_: str | None,
) -> Simulation:
    """Each rule against the ticker's broker-summary metrics (``BrokerSummary.metrics``)."""
    from core.bandarmology.service import BandarService

    summary = await BandarService(settings, db, compute=market.compute).summary(actor, ticker, range_)
    metrics = summary.metrics()
    lines = []
    for rule in strategy.rules:
        metric, op, threshold = metric_condition(rule.condition)
        value = metrics.get(metric)
        lines.append(ScreenLine(rule.condition, value, None if value is None else compare(value, op, threshold)))
    return Simulation(strategy, summary.ticker, screen=tuple(lines), bandar=summary)
