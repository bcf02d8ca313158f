"""The paper broker: fills at the reference price with fees, balances, exactly-once by client id."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from core.broker import service as brokers
from core.broker.models import PaperBalance
from core.broker.paper import PaperBroker, is_marker
from core.broker.types import InsufficientFunds, OrderRejected, OrderRequest


@pytest.fixture
async def paper(db, settings, alice) -> PaperBroker:
    credential = await brokers.paper_credential(db, alice)
    return PaperBroker(db, settings, credential.id)


async def _rows(db, credential_id: int) -> dict[str, float]:
    async with db.session() as session:
        rows = await session.execute(
            select(PaperBalance.asset, PaperBalance.amount).where(PaperBalance.credential_id == credential_id)
        )
        return dict(rows.all())


async def test_starting_balance_is_created_on_first_use(db, paper):
    assert await _rows(db, paper.credential_id) == {}
    assert await paper.fetch_balance() == {"IDR": 100_000_000, "USDT": 10_000}
    assert await paper.fetch_balance() == {"IDR": 100_000_000, "USDT": 10_000}  # once only


async def test_idx_buy_and_sell_move_cash_and_shares_with_fees(db, paper):
    bought = await paper.create_order(OrderRequest("dep1-bar1-buy", "BBCA.JK", "buy", 500, 9_000))
    assert (bought.status, bought.filled, bought.average, bought.fee_currency) == ("closed", 500, 9_000, "IDR")
    assert bought.fee == pytest.approx(9_000)  # the backtest's stock commission, 0.2 % of 4,500,000
    assert bought.exchange_order_id and bought.client_order_id == "dep1-bar1-buy"
    balance = await paper.fetch_balance()
    assert balance["BBCA.JK"] == 500
    assert balance["IDR"] == pytest.approx(100_000_000 - 4_500_000 - 9_000)

    sold = await paper.create_order(OrderRequest("dep1-bar9-sell", "BBCA.JK", "sell", 500, 9_500))
    assert sold.fee == pytest.approx(9_500)
    balance = await paper.fetch_balance()
    assert balance["BBCA.JK"] == 0
    assert balance["IDR"] == pytest.approx(100_000_000 - 4_509_000 + 4_750_000 - 9_500)
    assert balance["USDT"] == 10_000  # the other cash is untouched


async def test_crypto_fills_in_the_pair_quote(paper):
    result = await paper.create_order(OrderRequest("c-1", "BTC/USDT", "buy", 0.01, 60_000))
    assert result.fee_currency == "USDT" and result.fee == pytest.approx(0.6)
    balance = await paper.fetch_balance()
    assert balance["BTC"] == pytest.approx(0.01)
    assert balance["USDT"] == pytest.approx(10_000 - 600 - 0.6)
    again = await paper.create_order(OrderRequest("c-2", "BTCUSDT", "sell", 0.01, 61_000))  # both spellings
    assert again.filled == pytest.approx(0.01)
    assert (await paper.fetch_balance())["BTC"] == pytest.approx(0.0)


async def test_same_client_id_fills_once_even_after_a_restart(db, settings, paper):
    request = OrderRequest("dep7-20261101T0000-buy", "BBCA.JK", "buy", 1_000, 9_000)
    first = await paper.create_order(request)
    after = await paper.fetch_balance()
    restarted = PaperBroker(db, settings, paper.credential_id)  # a new process: nothing in memory
    second = await restarted.create_order(request)
    assert second == first
    assert await restarted.fetch_balance() == after
    assert await restarted.fetch_order(request.client_order_id, "BBCA.JK") == first
    assert await restarted.fetch_order("never-sent", "BBCA.JK") is None


async def test_concurrent_twins_fill_once(db, paper):
    request = OrderRequest("twin-1", "BTC/USDT", "buy", 0.1, 50_000)
    await paper.fetch_balance()
    results = await asyncio.gather(*(paper.create_order(request) for _ in range(4)))
    assert all(r == results[0] for r in results)  # every twin answered with the one fill
    balance = await paper.fetch_balance()
    assert balance["BTC"] == pytest.approx(0.1)
    assert balance["USDT"] == pytest.approx(10_000 - 5_000 - 5)


async def test_insufficient_cash_or_holdings_change_nothing(db, paper):
    await paper.fetch_balance()
    before = await _rows(db, paper.credential_id)
    with pytest.raises(InsufficientFunds, match=r"not enough USDT .* 10,010 needed, 10,000 there"):
        await paper.create_order(OrderRequest("big", "BTC/USDT", "buy", 1, 10_000))  # 10,000 + 10 fee
    with pytest.raises(InsufficientFunds, match=r"not enough BBCA\.JK"):
        await paper.create_order(OrderRequest("short", "BBCA.JK", "sell", 100, 9_000))
    assert await _rows(db, paper.credential_id) == before  # each refusal rolled its unit of work back
    assert await paper.fetch_order("big", "BTC/USDT") is None  # a refused order left no fill behind


async def test_bad_orders_are_rejected(paper):
    with pytest.raises(OrderRejected, match="lots of 100"):
        await paper.create_order(OrderRequest("odd", "BBCA.JK", "buy", 150, 9_000))
    with pytest.raises(OrderRejected, match="above zero"):
        await paper.create_order(OrderRequest("zero", "BTC/USDT", "buy", 0, 9_000))
    with pytest.raises(OrderRejected, match="neither an IDX stock"):
        await paper.create_order(OrderRequest("us", "AAPL", "buy", 1, 200))


async def test_market_rules_and_markers_stay_out_of_balances(db, paper):
    idx = await paper.market_rules("BBCA.JK")
    assert (idx.base, idx.quote, idx.lot, idx.amount_step, idx.min_amount) == ("BBCA.JK", "IDR", 100, 100, 100)
    crypto = await paper.market_rules("ETH/USDT")
    assert (crypto.base, crypto.quote, crypto.lot, crypto.amount_step) == ("ETH", "USDT", 1.0, 1e-5)  # the backtest's step
    assert (idx.fee, crypto.fee) == (0.002, 0.001)  # the backtest's commissions
    long_id = "deployment-123456789-20261101T000000Z-buy-signal-x"  # longer than the asset column
    await paper.create_order(OrderRequest(long_id, "BBCA.JK", "buy", 100, 9_000))
    markers = [a for a in await _rows(db, paper.credential_id) if is_marker(a)]
    assert len(markers) == 3 and all(len(a) <= 32 for a in markers)
    assert not any(is_marker(a) for a in await paper.fetch_balance())
