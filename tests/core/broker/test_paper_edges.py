"""The paper broker at its edges: accounts kept apart, prices and tolerances at their bounds, the words of a
refusal. Each test here kills mutants ``make mutate`` left alive in ``core/broker/paper.py``
(docs/mutation.md), as what a user sees: a balance, an order refused and why, a fill.
"""

from __future__ import annotations

import math

import pytest

from core.broker import service as brokers
from core.broker.paper import PaperBroker
from core.broker.types import InsufficientFunds, MarketRules, OrderRejected, OrderRequest


@pytest.fixture
async def paper(db, settings, alice) -> PaperBroker:
    credential = await brokers.paper_credential(db, alice)
    return PaperBroker(db, settings, credential.id)


@pytest.fixture
async def other(db, settings, new_actor) -> PaperBroker:
    credential = await brokers.paper_credential(db, await new_actor("bob"))
    return PaperBroker(db, settings, credential.id)


async def test_two_paper_accounts_never_share_cash_holdings_or_fills(paper, other):
    start = {"IDR": 100_000_000, "USDT": 10_000}
    assert await other.fetch_balance() == start
    filled = await paper.create_order(OrderRequest("a-1", "BTC/USDT", "buy", 0.1, 50_000))  # 5,000 + 5 fee
    assert filled.filled == 0.1
    assert await paper.fetch_balance() == {**start, "USDT": 4_995, "BTC": 0.1}
    assert await other.fetch_balance() == start  # bob's cash did not pay for alice's buy
    assert await other.fetch_order("a-1", "BTC/USDT") is None  # nor is alice's fill his
    with pytest.raises(InsufficientFunds, match=r"not enough BTC on the paper account for 0\.1 BTC: 0\.1 needed, 0 there"):
        await other.create_order(OrderRequest("b-1", "BTC/USDT", "sell", 0.1, 50_000))  # alice's BTC is not his
    await other.create_order(OrderRequest("b-2", "BTC/USDT", "buy", 0.02, 50_000))  # 1,000 + 1 fee
    assert await other.fetch_balance() == {**start, "USDT": 8_999, "BTC": 0.02}
    assert await paper.fetch_balance() == {**start, "USDT": 4_995, "BTC": 0.1}


async def test_a_refusal_says_what_was_ordered_and_what_is_there(paper):
    with pytest.raises(InsufficientFunds, match=r"^not enough USDT on the paper account for 2 BTC: 100,100 needed, 10,000 there$"):
        await paper.create_order(OrderRequest("big", "BTC/USDT", "buy", 2, 50_000))
    with pytest.raises(InsufficientFunds, match=r"^not enough BBCA\.JK on the paper account for 100 BBCA\.JK: 100 needed, 0 there$"):
        await paper.create_order(OrderRequest("short", "BBCA.JK", "sell", 100, 9_000))  # never held: no row at all


async def test_any_positive_finite_price_fills_and_no_other_does(paper):
    cheap = await paper.create_order(OrderRequest("doge", "DOGE/USDT", "buy", 100, 0.5))  # a coin under 1 USDT
    assert (cheap.filled, cheap.average) == (100, 0.5)
    assert (await paper.fetch_balance())["DOGE"] == 100
    for i, price in enumerate((0.0, -1.0, math.inf, math.nan)):
        with pytest.raises(OrderRejected, match=r"^a paper order needs the price it fills at$"):
            await paper.create_order(OrderRequest(f"p-{i}", "BTC/USDT", "buy", 0.01, price))


async def test_bad_orders_say_why(paper):
    with pytest.raises(OrderRejected, match=r"^an order side is buy or sell, not 'hold'$"):
        await paper.create_order(OrderRequest("side", "BTC/USDT", "hold", 0.01, 50_000))  # type: ignore[arg-type]
    with pytest.raises(OrderRejected, match=r"^the order quantity must be above zero$"):
        await paper.create_order(OrderRequest("neg", "BTC/USDT", "buy", -1, 50_000))


async def test_selling_a_whole_holding_summed_from_float_fills_leaves_exactly_nothing(paper):
    await paper.create_order(OrderRequest("h-1", "BTC/USDT", "buy", 0.3, 1_000))
    # 0.1 + 0.2 is 0.30000000000000004: a hair more than held, within the tolerance
    await paper.create_order(OrderRequest("h-2", "BTC/USDT", "sell", 0.1 + 0.2, 1_000))
    assert (await paper.fetch_balance())["BTC"] == 0


async def test_the_tolerance_is_relative_to_the_amount(db, settings, alice):
    rich = PaperBroker(db, settings.model_copy(update={"paper_start_usdt": 1_000_000_000.0, "backtest_commission_crypto": 0.0}),
                       (await brokers.paper_credential(db, alice)).id)  # fmt: skip
    # 0.5 USDT more than the billion held is within the tolerance (a billionth of the amount): it fills...
    await rich.create_order(OrderRequest("all", "BTC/USDT", "buy", 1, 1_000_000_000.5))
    assert (await rich.fetch_balance())["USDT"] == 0
    # ...but on a holding of 1 BTC, 1.5e-9 more than held is more than the tolerance (1e-9 of it)
    with pytest.raises(InsufficientFunds):
        await rich.create_order(OrderRequest("over", "BTC/USDT", "sell", 1 + 1.5e-9, 1))
    assert (await rich.fetch_balance())["BTC"] == 1


async def test_market_rules_name_the_symbol_and_the_minimum(paper):
    assert await paper.market_rules("BBCA.JK") == MarketRules("BBCA.JK", "BBCA.JK", "IDR", amount_step=100,
                                                               min_amount=100, lot=100, fee=0.002)  # fmt: skip
    assert await paper.market_rules("ETH/USDT") == MarketRules("ETH/USDT", "ETH", "USDT", amount_step=1e-5,
                                                                min_amount=1e-5, fee=0.001)  # fmt: skip


async def test_a_paper_account_refuses_a_resting_stop_and_says_who_checks_it(paper):
    with pytest.raises(OrderRejected, match=r"^the paper account checks stops at every candle itself$"):
        await paper.place_stop(OrderRequest("stop", "BTC/USDT", "sell", 0.01, 40_000))
    assert await paper.cancel_order("stop", "BTC/USDT") is None
