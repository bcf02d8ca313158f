"""How much to buy or sell: a stake of the quote balance, capped, rounded to what the market takes.

An entry is sized by the backtest's own rule (``core.backtest.engine.entry_units``): the fee is
inside the stake, so a 100 % entry fits the balance with its fee, and a paper deployment buys the
very quantity ``/run`` shows. Rounding is always down (never spend more than the balance or the
cap) to the market's amount step and lot (IDX: 100 shares). An order the exchange would refuse for
being below its minimum amount or notional is refused here, with the reason recorded, instead of
being sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.backtest.engine import entry_fraction, entry_units
from core.broker.types import MarketRules


@dataclass(frozen=True, slots=True)
class Sized:
    quantity: float
    refusal: str | None = None  # why no order can be placed (quantity is then what it would have been)


def round_down(quantity: float, rules: MarketRules) -> float:
    """``quantity`` rounded down to the market's lot and amount step."""
    if rules.lot and rules.lot > 1:
        quantity = math.floor(quantity / rules.lot + 1e-9) * rules.lot
    step = rules.amount_step
    if step and step > 0:
        steps = math.floor(quantity / step + 1e-9)
        # Keep the step's own precision: 3 * 0.1 must be 0.3, not 0.30000000000000004.
        decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
        quantity = round(steps * step, decimals + 2)
    return max(quantity, 0.0)


def check_minimums(quantity: float, price: float, rules: MarketRules) -> str | None:
    """Why the exchange would refuse ``quantity`` at ``price``; None when it meets the minimums."""
    if quantity <= 0:
        unit = rules.lot if rules.lot and rules.lot > 1 else rules.amount_step
        return f"the amount rounds to 0 (the market trades in steps of {unit:g})" if unit else "the amount is 0"
    if rules.min_amount is not None and quantity < rules.min_amount:
        return f"{quantity:g} {rules.base} is below the minimum amount {rules.min_amount:g}"
    if rules.min_cost is not None and quantity * price < rules.min_cost:
        return f"{quantity * price:,.2f} {rules.quote} is below the minimum order value {rules.min_cost:g} {rules.quote}"
    return None


def size_buy(
    quote_balance: float,
    price: float,
    rules: MarketRules,
    *,
    fee: float,
    fraction: float = 1.0,
    stake: float | None = None,
    cap: float | None = None,
) -> Sized:
    """An entry at ``price`` paying ``fee`` (a fraction per leg): ``fraction`` of the free quote
    balance, or a fixed ``stake`` in the quote currency (at most the balance), and never more
    than ``cap`` in value. The fee is paid out of the stake, not on top of it."""
    if price <= 0:
        return Sized(0.0, "no valid price on the signal bar")
    cash = max(quote_balance, 0.0)
    if cash <= 0:
        return Sized(0.0, f"no {rules.quote} on the account to buy with")
    share = entry_fraction(fraction)
    if stake is not None:
        cash, share = min(stake, cash), 1.0
    if cap is not None and cash * share > cap:
        cash, share = cap, 1.0
    quantity = float(entry_units(cash, price, share, fee, _unit(rules)))
    return Sized(quantity, check_minimums(quantity, price, rules))


def _unit(rules: MarketRules) -> float:
    """The market's trading unit: its lot (IDX: 100 shares), else its amount step, else whole units."""
    if rules.lot and rules.lot > 1:
        return rules.lot
    return rules.amount_step if rules.amount_step and rules.amount_step > 0 else 1.0


def size_sell(position_qty: float, free_base: float | None, price: float, rules: MarketRules) -> Sized:
    """An exit: the deployment's position, or what the account still holds of it if less."""
    held = position_qty if free_base is None else min(position_qty, max(free_base, 0.0))
    quantity = round_down(held, rules)
    return Sized(quantity, check_minimums(quantity, price, rules))
