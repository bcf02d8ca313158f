"""Execute Script: run a model on a ticker, backtest its signals, draw the result.

The script is evaluated on a longer history than the shown range (one range step back, as
/market does for indicators), so its indicators are settled where trading starts; the
backtest then trades the shown range only. Evaluation and rendering run off the event loop.

``execute_script`` takes the ``Services``, the ``Actor`` (whose compute budget pays for the run)
and a ``ScriptRun``, the shape of the deployment and simulation domains.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import pandas as pd

from core.actor import Actor
from core.backtest.engine import BacktestConfig, BacktestResult
from core.backtest.report import backtest_report, trading_start
from core.compute import Task
from core.market.types import Candles, Source
from core.model.service import ModelView
from core.services import Services

SIGNALS = ("buy", "sell", "short", "cover")


@dataclass(frozen=True, slots=True)
class ScriptRun:
    """A script to run, as ``/run``'s words or the API's Execute Script body give it (plain values).

    ``source``: the script, a saved model's or one given as it is. ``inputs``: values over its
    ``input()`` defaults, checked by the run itself (the script language's rules). ``range``: the
    shown range (the interval's default when None). ``market_source``: the market to read, any that
    serves the ticker by default (the API's ``source``). ``label`` titles the result and its chart.
    """

    source: str
    ticker: str
    interval: str = "1d"
    range: str | None = None
    label: str = "script"
    inputs: Mapping[str, Any] = field(default_factory=dict)
    overlay: bool = True
    market_source: Source = Source.UNKNOWN
    chart: bool = True

    @classmethod
    def of_model(
        cls, model: ModelView, ticker: str, interval: str = "1d", range_: str | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> Self:  # fmt: skip
        """A saved model's run: its script, label and overlay, its saved inputs under ``inputs``."""
        return cls(
            model.source, ticker, interval, range_, label=model.label, inputs={**model.inputs, **(inputs or {})},
            overlay=model.overlay,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class PlotSeries:
    title: str
    values: pd.Series  # over the shown bars


@dataclass(frozen=True, slots=True)
class Execution:
    """A model's run: its plots and signals over the shown bars, the backtest and the chart."""

    label: str
    candles: Candles
    inputs: dict[str, Any]
    plots: list[PlotSeries]
    signals: pd.DataFrame  # bool columns buy/sell/short/cover the script assigned, over the shown bars
    backtest: BacktestResult | None  # None for an indicator (a script without buy/sell/short)
    config: BacktestConfig | None
    chart: bytes | None = None
    stats: dict[str, Any] = field(default_factory=dict)  # key figures (see core.backtest.report)

    @property
    def is_indicator(self) -> bool:
        return self.backtest is None

    def last_signal(self) -> tuple[pd.Timestamp, str] | None:
        """The latest bar on which any signal held, and which one (buy wins ties: it is listed first)."""
        if self.signals.empty:
            return None
        fired = self.signals.any(axis=1)
        if not fired.any():
            return None
        at = fired[fired].index[-1]
        row = self.signals.loc[at]
        return at, next(name for name in self.signals.columns if bool(row[name]))


async def execute_script(services: Services, actor: Actor | None, run: ScriptRun) -> Execution:
    """Run the script; ``actor`` None: a run outside any user's compute budget (an operator's)."""
    from core.charts.candles import ChartLine
    from core.script import evaluate_source, program_of
    from core.script.limits import TIME_LIMIT

    market = services.market
    user_id = actor.user_id if actor is not None else None
    program_of(run.source)  # fail before any fetch (a short parse, cached: /run's get_model parsed it already)
    shown, history = await market.candles_with_history(run.ticker, run.interval, run.range, run.market_source)
    frame = history.frame
    compute = market.compute
    result = await compute.run(evaluate_source, run.source, frame, dict(run.inputs),
                               task=Task(user_id, limit_s=TIME_LIMIT + 1, label="the script"))  # fmt: skip
    start = trading_start(shown, frame)
    index = frame.index[start:]

    plots = [PlotSeries(p.title, pd.Series(np.asarray(p.values, dtype=float)[start:], index=index)) for p in result.plots]
    signals = pd.DataFrame(
        {name: np.asarray(getattr(result, name), dtype=bool)[start:] for name in SIGNALS if getattr(result, name) is not None},
        index=index,
    )
    report = await backtest_report(
        shown, frame, start, services.settings,
        title=run.label,
        signals=None if result.is_indicator else _signal_arrays(signals),
        lines=[ChartLine(p.title, p.values, run.overlay) for p in plots],
        stop_loss=result.stop_loss,
        take_profit=result.take_profit,
        chart=run.chart,
        warmup=result.warmup,
        range_=run.range,
        compute=compute,
        user_id=user_id,
    )  # fmt: skip
    return Execution(
        label=run.label,
        candles=report.candles,
        inputs=dict(result.inputs),
        plots=plots,
        signals=signals,
        backtest=report.backtest,
        config=report.config,
        chart=report.chart,
        stats=report.stats,
    )


def _signal_arrays(
    signals: pd.DataFrame,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """The four signals in ``SIGNALS``' order, as the fixed-length tuple ``backtest_report`` takes."""
    buy, sell, short, cover = (_signal(signals, name) for name in SIGNALS)
    return buy, sell, short, cover


def _signal(signals: pd.DataFrame, name: str) -> np.ndarray | None:
    if name not in signals:
        return None
    return signals[name].to_numpy(dtype=bool)


__all__ = ["Execution", "PlotSeries", "execute_script"]
