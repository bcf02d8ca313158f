"""From a deployed script to one decision on the latest closed bar.

A deployment acts only on its last closed bar: signals on older bars already had their chance
(or were missed while the process was down, and acting on them late would trade stale prices).
Deployments trade spot, long only: ``buy`` opens when flat, ``sell`` closes when long, and the
script's ``stop_loss``/``take_profit`` fractions close a long when the bar's low/high crossed them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd


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
    side: str  # buy | sell
    reason: str  # signal | stop | target (orders.reason)
    signal: str  # what to show: buy, sell, stop, target


def last_bar_signals(source: str, frame: pd.DataFrame, inputs: dict[str, Any]) -> BarSignals:
    """Evaluate ``source`` on ``frame`` (closed bars only) and read its signals on the last bar."""
    from core.script import evaluate, program_of  # parsed once per distinct script

    result = evaluate(program_of(source), frame, inputs)

    def last(values: Any) -> bool:
        return values is not None and len(values) > 0 and bool(values[-1])

    return BarSignals(last(result.buy), last(result.sell), result.stop_loss, result.take_profit)


def decide(
    signals: BarSignals, position_qty: float, entry_price: float | None, bar: Mapping[str, float]
) -> Decision | None:
    """The order the bar calls for, given the deployment's position; None to do nothing."""
    if position_qty > 0:
        if entry_price:
            if signals.stop_loss is not None and float(bar["low"]) <= entry_price * (1 - signals.stop_loss):
                return Decision("sell", "stop", "stop")
            if signals.take_profit is not None and float(bar["high"]) >= entry_price * (1 + signals.take_profit):
                return Decision("sell", "target", "target")
        if signals.sell:
            return Decision("sell", "signal", "sell")
        return None
    if signals.buy:
        return Decision("buy", "signal", "buy")
    return None
