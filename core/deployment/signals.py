"""From a deployed script to the orders one newly closed candle calls for, filled as the backtest fills them.

A deployment acts on its latest closed bar only: signals on older bars already had their chance
(or were missed while the process was down, and acting on them late would trade stale prices).
Deployments trade spot, long only, by the backtest's rules (``core.backtest.engine``):

- ``buy`` opens when flat and ``sell`` closes when long, each filling at the first price after
  the signal: the next candle's open.
- The script's ``stop_loss``/``take_profit`` fractions rest on the position: every candle since the
  entry (the entry's own candle included) is checked, and a hit fills at the level, or at the
  candle's open when it gapped past it; the stop wins a candle that reached both. They are checked
  before the latest candle's signals, and after a hit the same candle's ``buy`` may enter again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.broker.types import Side


@dataclass(frozen=True, slots=True)
class BarSignals:
    """What the script said on the last closed bar."""

    buy: bool
    sell: bool
    stop_loss: float | None
    take_profit: float | None

    @property
    def name(self) -> str | None:
        """The signal that held on the bar (buy first), for ``deployments.last_signal``."""
        return "buy" if self.buy else "sell" if self.sell else None


@dataclass(frozen=True, slots=True)
class Decision:
    side: Side
    reason: str  # signal | stop | target (orders.reason)
    signal: str  # what to show: buy, sell, stop, target
    at: pd.Timestamp  # when it fills, in market time: the open of the candle it fills in
    price: float | None  # where the backtest fills it (None: the next candle has not opened yet)


def last_bar_signals(
    source: str, frame: pd.DataFrame, inputs: dict[str, Any], memo: dict[tuple[Any, ...], Any] | None = None
) -> BarSignals:
    """Evaluate ``source`` on ``frame`` (closed bars only) and read its signals on the last bar
    (``memo``: indicator results shared with the other scripts run on the same bars)."""
    from core.script import evaluate, program_of  # parsed once per distinct script

    result = evaluate(program_of(source), frame, inputs, memo=memo)

    settled = len(frame) - 1 >= result.warmup  # the backtest ignores signals before its indicators exist

    def last(values: Any) -> bool:
        return settled and values is not None and len(values) > 0 and bool(values[-1])

    return BarSignals(last(result.buy), last(result.sell), result.stop_loss, result.take_profit)


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a script gave no signals on a bar; ``too_long``: it ran past its time limit."""

    text: str
    too_long: bool = False


def signals_or_error(
    source: str, frame: pd.DataFrame, inputs: dict[str, Any], memo: dict[tuple[Any, ...], Any] | None = None
) -> BarSignals | Failure:
    """``last_bar_signals``, or why the script failed on these bars (what a compute worker runs: a
    deployment's failure is recorded and shown, never raised through the tick)."""
    from core.errors import StoxlifyError
    from core.logging import get_logger

    try:
        return last_bar_signals(source, frame, inputs, memo)
    except StoxlifyError as exc:
        return failure(exc)
    except Exception as exc:  # a script bug must not stop the series
        get_logger(__name__).exception("deployment_eval_failed")
        return Failure(f"the script failed on this bar ({type(exc).__name__})")


def signals_of_scripts(
    frame: pd.DataFrame, scripts: list[tuple[str, dict[str, Any]]]
) -> list[BarSignals | Failure]:
    """``signals_or_error`` for several scripts on the same bars: one compute task per series and
    owner, so the bars cross to a worker once and each distinct indicator is computed once for all
    of them (each script keeps its own time limit inside)."""
    memo: dict[tuple[Any, ...], Any] = {}
    return [signals_or_error(source, frame, inputs, memo) for source, inputs in scripts]


def failure(exc: Exception) -> Failure:
    from core.errors import TooLong

    return Failure(f"the script failed on this bar: {exc}", too_long=isinstance(exc, TooLong))


def decide(
    signals: BarSignals,
    position_qty: float,
    entry_price: float | None,
    bars: pd.DataFrame,
    next_open: tuple[pd.Timestamp, float | None],
) -> list[Decision]:
    """The orders the closed candles ``bars`` (new to the deployment, oldest first; its latest closed
    bar last) call for, given its position; ``next_open`` is when the candle after them opens and
    its open price, if known yet. Empty to do nothing."""
    out: list[Decision] = []
    at, price = next_open
    if position_qty > 0:
        hit = resting_exit(signals, entry_price, bars)
        if hit is None:
            return [Decision(Side.SELL, "signal", "sell", at, price)] if signals.sell else []
        out.append(hit)
    if signals.buy:
        out.append(Decision(Side.BUY, "signal", "buy", at, price))
    return out


def resting_exit(signals: BarSignals, entry_price: float | None, bars: pd.DataFrame) -> Decision | None:
    """The first of ``bars`` where the position's stop or target was reached, filled where the
    backtest fills it (``core.backtest.engine._first_hit``); None when neither was."""
    if not entry_price or bars.empty or (signals.stop_loss is None and signals.take_profit is None):
        return None
    stop = entry_price * (1 - signals.stop_loss) if signals.stop_loss is not None else None
    target = entry_price * (1 + signals.take_profit) if signals.take_profit is not None else None
    opens, lows, highs = (bars[c].to_numpy(dtype=float) for c in ("open", "low", "high"))
    for i in range(len(bars)):
        if stop is not None and lows[i] <= stop:
            return Decision(Side.SELL, "stop", "stop", bars.index[i], min(float(opens[i]), stop))
        if target is not None and highs[i] >= target:
            return Decision(Side.SELL, "target", "target", bars.index[i], max(float(opens[i]), target))
    return None
