"""How much to buy or sell: a fraction of the quote balance, capped, rounded to what the market takes.

Rounding is always down (never spend more than the balance or the cap) to the market's amount
step and lot (IDX: 100 shares). An order the exchange would refuse for being below its minimum
amount or notional is refused here, with the reason recorded, instead of being sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def size_buy(quote_balance: float, fraction: float, cap: float | None, price: float, rules: MarketRules) -> Sized:
    """An entry: ``fraction`` of the free quote balance, at most ``cap`` in value."""
    if price <= 0:
        return Sized(0.0, "no valid price on the signal bar")
    value = max(quote_balance, 0.0) * fraction
    if cap is not None:
        value = min(value, cap)
    quantity = round_down(value / price, rules)
    return Sized(quantity, check_minimums(quantity, price, rules))


def size_sell(position_qty: float, free_base: float | None, price: float, rules: MarketRules) -> Sized:
    """An exit: the deployment's position, or what the account still holds of it if less."""
    held = position_qty if free_base is None else min(position_qty, max(free_base, 0.0))
    quantity = round_down(held, rules)
    return Sized(quantity, check_minimums(quantity, price, rules))
