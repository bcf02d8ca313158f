"""Money through a deployment, as its owner sees it: what an entry spends, what an exit sells, the fees
and the P&L, on the real paper broker (its balance and step checks) or an exchange that checks the
same (``FakeBroker``), with sizes that reach the balance and the limits.

Each test here fails with one of issue 16's planted bugs in place (named in its docstring).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from core.account.service import actor_for
from core.actor import Actor
from core.broker.models import Credential, CredentialStatus, PaperBalance
from core.broker.pool import BrokerPool
from core.broker.types import BrokerName
from core.db import Database
from core.deployment import service
from core.deployment.models import Deployment
from core.deployment.service import DeployRequest
from core.deployment.tick import Tick, TickReport
from core.errors import Conflict
from core.market.types import Source
from core.model.service import ModelRequest, save_model
from core.product import service as products
from core.purchase import service as purchases
from core.purchase.limits import limits_for
from core.services import ServiceSet
from core.trade.models import Order, Trade
from tests.core.deployment.kit import (
    LONG_ONLY,
    T0,
    Clock,
    FakeBroker,
    StubSource,
    frame,
    load,
    make_credential,
    make_deployment,
    make_market,
    make_settings,
    make_user,
)

HOUR = timedelta(hours=1)
SOON = timedelta(seconds=30)


async def _run(db: Database, settings, source: StubSource, at: datetime, broker: FakeBroker | None = None) -> TickReport:
    """One tick at ``at``; ``broker`` None: the credential's real broker (the paper one)."""

    async def factory(_credential_id: int) -> FakeBroker | None:
        return broker

    async def no_sleep(_seconds: float) -> None:
        return None

    pool = BrokerPool(db, settings, factory if broker is not None else None)
    return await Tick(db, settings, make_market(settings, source, Clock(at)), pool, sleep=no_sleep).run(at)


async def _cash(db: Database, credential_id: int) -> dict[str, float]:
    rows = await load(db, PaperBalance, credential_id=credential_id)
    return {r.asset: r.amount for r in rows if not r.asset.startswith("fill:")}


# --- entries -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("ticker", "price", "quantity"), [
    ("BTCUSDT", 100.0, 99.90009),  # 100 BTC would spend the whole 10,000 USDT and leave nothing for the fee
    ("BBCA", 10_000.0, 9_900),  # 100 lots: the whole 100 M rupiah, no room for the 0.2 % fee
])  # fmt: skip
async def test_a_whole_balance_entry_on_paper_leaves_room_for_its_fee(db, ticker, price, quantity):
    settings = make_settings()
    source = StubSource({ticker: frame("g.", base=price)})
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    dep = await make_deployment(db, actor.user_id, credential, ticker=ticker, size=1.0, last_bar_at=T0)
    await _run(db, settings, source, T0 + HOUR + SOON)
    [order] = await load(db, Order)
    assert (order.status, order.filled_qty) == ("Filled", quantity)
    [row] = await load(db, Deployment, id=dep)
    assert (row.status, row.position_qty) == ("OpenPosition", quantity)
    quote = "USDT" if ticker.endswith("USDT") else "IDR"
    fee = settings.commission(crypto=quote == "USDT")
    left = (10_000.0 if quote == "USDT" else 100_000_000.0) - quantity * price * (1 + fee)
    assert (await _cash(db, credential))[quote] == pytest.approx(left) and left >= 0


async def test_the_deployments_position_cap_sizes_its_entry_on_paper(db):
    """Planted: the tick sizes an entry without ``cap=row.max_position_value``."""
    settings = make_settings()
    source = StubSource({"BTCUSDT": frame("g.")})
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    await make_deployment(db, actor.user_id, credential, size=1.0, max_position_value=1_000.0, last_bar_at=T0)
    await _run(db, settings, source, T0 + HOUR + SOON)
    [order] = await load(db, Order)
    assert (order.status, order.filled_qty) == ("Filled", 9.99)  # 999 USDT and its 0.999 fee: within 1,000
    assert (await _cash(db, credential))["USDT"] == pytest.approx(10_000 - 9.99 * 100 * 1.001)


async def _buyer_of(db: Database, settings, cap: float) -> Actor:
    """A user who bought a 30-day plan whose position cap is ``cap`` (settled at once: Mock payments)."""
    admin = await actor_for(db, platform="console", external_id="admin")
    plan = await products.create_product(db, settings, admin, category="Plans", name="Whale", price_idr=99_000,
                                         duration_days=30, features={"max_position_value": cap})  # fmt: skip
    buyer = await make_user(db, "whale")
    bought = await purchases.purchase(db, settings, buyer, [purchases.Item(plan.id)])  # from now on, as deploy reads it
    assert bought.settled
    return buyer


@pytest.mark.parametrize(("free_cap", "bought_cap", "requested", "cap"), [
    (None, None, 2_000.0, 2_000.0),  # the deploy command's cap is stored with the deployment and used
    (500.0, None, 2_000.0, 500.0),  # the plan's limit caps what the command asks
    (500.0, None, None, 500.0),  # and applies when it asks nothing
    (500.0, 3_000.0, None, 3_000.0),  # a subscription's larger cap replaces the free tier's
    (500.0, 3_000.0, 5_000.0, 3_000.0),  # ... and still caps the command's
])  # fmt: skip
async def test_a_deployed_position_cap_is_the_commands_within_the_plans(db, free_cap, bought_cap, requested, cap):
    """Planted: ``deploy`` not storing ``max_position_value``; ``plan_deployment`` not capping it by
    the plan's limit; ``limits_for`` ignoring the subscription's ``max_position_value``."""
    settings = make_settings(free_max_position_value=free_cap, admin_ids=["console:admin"])
    source = StubSource({"BTCUSDT": frame("gg.")})
    clock = Clock(T0 + HOUR + SOON)
    services = ServiceSet(db, settings, make_market(settings, source, clock))
    actor = await _buyer_of(db, settings, bought_cap) if bought_cap else await make_user(db)
    assert (await limits_for(db, settings, actor.user_id)).max_position_value == (bought_cap or free_cap)
    await save_model(db, actor, ModelRequest("up", LONG_ONLY))
    view = await service.deploy(services, actor, DeployRequest("up", "BTCUSDT", "1h", size=1.0,
                                                               max_position_value=requested), now=clock.now)  # fmt: skip
    assert view.max_position_value == cap
    await _run(db, settings, source, T0 + 2 * HOUR + SOON)  # bar 1 says buy: filled at bar 2's open, 100
    [order] = await load(db, Order)
    assert order.status == "Filled"
    spent = order.filled_qty * 100.0 * 1.001
    assert cap - 0.2 < spent <= cap  # the whole cap, fee included, and not a cent over
    [paper] = await load(db, Credential, user_id=actor.user_id)
    assert (await _cash(db, paper.id))["USDT"] == pytest.approx(10_000 - spent)


# --- fills as exchanges answer them ---------------------------------------------------------------


async def test_a_fee_taken_from_the_bought_coin_is_not_in_the_position(db):
    """Planted: a fee in the base currency read as if it were in the quote currency (the position
    would count coins the exchange kept, and the fee would be shown as 0.00999 USDT)."""
    settings = make_settings()
    source = StubSource({"BTCUSDT": frame("gr.")})
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id, "Binance", "bin")
    dep = await make_deployment(db, actor.user_id, credential, size=1.0, last_bar_at=T0)
    exchange = FakeBroker(name=BrokerName.BINANCE, paper=False, fee_in_base=True, balances={"USDT": 1_000.0})
    await _run(db, settings, source, T0 + HOUR + SOON, exchange)  # bought at bar 1's open, 100
    [buy] = await load(db, Order)
    assert (buy.status, buy.filled_qty, buy.fee_currency) == ("Filled", 9.99, "BTC")
    held = 9.99 * 0.999
    assert exchange.balances["BTC"] == pytest.approx(held)
    [row] = await load(db, Deployment, id=dep)
    assert row.position_qty == pytest.approx(held)  # what the account holds, not what was filled
    [entry] = await load(db, Trade)
    assert (entry.fee, entry.quote_currency) == (pytest.approx(9.99 * 0.001 * 100.0), "USDT")  # shown in USDT

    await _run(db, settings, source, T0 + 2 * HOUR + SOON, exchange)  # bar 1 red: sell at bar 2's open
    sell = (await load(db, Order))[-1]
    assert (sell.side, sell.status, sell.filled_qty) == ("sell", "Filled", 9.98)  # all of it, on the step
    assert exchange.balances["BTC"] == pytest.approx(held - 9.98) and exchange.balances["BTC"] < 0.0001
    [row] = await load(db, Deployment, id=dep)
    assert (row.status, row.position_qty) == ("NoPosition", 0.0)


async def test_an_exit_sells_what_the_paper_account_still_holds_with_the_entry_fee_pro_rata(db):
    """Planted: an exit sized from the deployment's position without the account's balance (the paper
    broker refuses it: insufficient funds); the entry's whole fee charged to a partial exit's P&L."""
    settings = make_settings()
    source = StubSource({"BTCUSDT": frame("gr.")})
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    dep = await make_deployment(db, actor.user_id, credential, size=1.0, last_bar_at=T0)
    await _run(db, settings, source, T0 + HOUR + SOON)  # bought 99.90009 BTC at 100
    [row] = await load(db, Deployment, id=dep)
    assert row.position_qty == 99.90009
    async with db.session() as session:  # 40 BTC left the account meanwhile (another deployment sold them)
        await session.execute(update(PaperBalance).where(PaperBalance.credential_id == credential,
                                                         PaperBalance.asset == "BTC").values(amount=59.9))  # fmt: skip
    await _run(db, settings, source, T0 + 2 * HOUR + SOON)  # bar 1 red: sell at bar 2's open, 100
    sell = (await load(db, Order))[-1]
    assert (sell.side, sell.status, sell.filled_qty) == ("sell", "Filled", 59.9)
    assert (await _cash(db, credential))["BTC"] == pytest.approx(0.0, abs=1e-9)
    [row] = await load(db, Deployment, id=dep)
    assert (row.status, row.position_qty) == ("NoPosition", 0.0)
    entry, exit_ = await load(db, Trade)
    assert entry.fee == pytest.approx(99.90009 * 100 * 0.001)
    # no price move: the P&L is the exit's fee and the entry fee's share of what was sold (59.9 of 99.90009)
    assert exit_.pnl == pytest.approx(-59.9 * 100 * 0.001 - entry.fee * 59.9 / 99.90009)


@pytest.mark.parametrize(("answer", "status", "filled", "position"), [
    ("closed", "Filled", 49.95, 49.95),
    ("partial", "Canceled", 24.975, 24.975),  # half filled, the rest expired: the half is the position
    ("open", "Open", None, 0.0),  # nothing yet: reconciliation follows it
    ("canceled", "Canceled", 0.0, 0.0),
    ("rejected", "Rejected", 0.0, 0.0),
    ("zero", "Filled", 0.0, 0.0),  # "closed" with nothing filled: no trade, no position
])  # fmt: skip
async def test_each_exchange_answer_to_an_entry(db, answer, status, filled, position):
    settings = make_settings()
    source = StubSource({"BTCUSDT": frame("g.")})
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id, "Binance", "bin")
    dep = await make_deployment(db, actor.user_id, credential, size=0.5, last_bar_at=T0)
    exchange = FakeBroker(name=BrokerName.BINANCE, paper=False, answers=[answer])
    await _run(db, settings, source, T0 + HOUR + SOON, exchange)
    [order] = await load(db, Order)
    assert order.status == status
    if filled is not None:
        assert order.filled_qty == pytest.approx(filled)
    [row] = await load(db, Deployment, id=dep)
    assert row.position_qty == pytest.approx(position)
    assert row.status == ("OpenPosition" if position else "NoPosition")
    assert len(await load(db, Trade)) == (1 if position else 0)
    assert exchange.balances.get("BTC", 0.0) == pytest.approx(position)


async def test_a_partly_filled_exit_keeps_the_rest_and_charges_the_entry_fee_pro_rata(db):
    """Planted: the entry's whole fee charged to a partial exit's P&L."""
    settings = make_settings()
    source = StubSource({"BTCUSDT": frame("gr.")})
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id, "Binance", "bin")
    dep = await make_deployment(db, actor.user_id, credential, size=1.0, last_bar_at=T0)
    exchange = FakeBroker(name=BrokerName.BINANCE, paper=False, balances={"USDT": 1_000.0})
    await _run(db, settings, source, T0 + HOUR + SOON, exchange)
    exchange.answers = ["partial"]
    await _run(db, settings, source, T0 + 2 * HOUR + SOON, exchange)
    buy, sell = await load(db, Order)
    assert (buy.filled_qty, sell.status, sell.filled_qty) == (9.99, "Canceled", 4.995)
    [row] = await load(db, Deployment, id=dep)
    assert (row.status, row.position_qty) == ("OpenPosition", pytest.approx(9.99 - 4.995))
    assert exchange.balances["BTC"] == pytest.approx(4.995)
    entry, exit_ = await load(db, Trade)
    assert exit_.pnl == pytest.approx(-exit_.fee - entry.fee / 2)  # no price move; half the entry's fee


async def test_an_exchange_refuses_what_the_balance_or_its_minimums_do_not_allow(db):
    settings = make_settings()
    source = StubSource({"BTCUSDT": frame("g."), "ETHUSDT": frame("g.")})
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id, "Binance", "bin")
    await make_deployment(db, actor.user_id, credential, ticker="BTCUSDT", size=1.0, max_position_value=1_000.0,
                          last_bar_at=T0, label="a")  # fmt: skip
    # the second entry finds the balance the first left: 4.501 USDT, under the 5 USDT minimum order value
    await make_deployment(db, actor.user_id, credential, ticker="ETHUSDT", size=1.0, last_bar_at=T0, label="b")
    exchange = FakeBroker(name=BrokerName.BINANCE, paper=False, balances={"USDT": 1_004.5})
    await _run(db, settings, source, T0 + HOUR + SOON, exchange)
    first, second = await load(db, Order)
    assert (first.status, first.filled_qty) == ("Filled", 9.99)
    assert second.status == "Rejected" and "4.49 USDT is below the minimum order value 5 USDT" in second.error
    assert exchange.sent == [first.client_order_id]  # refused here, never sent to be refused there


# --- feeds and credentials ---------------------------------------------------------------------------


async def test_a_deployment_reads_its_own_markets_feed(db):
    """An IDX stock trades on the IDX feed's bars; one recorded against Binance is not served its bars
    there (the Binance feed lists no IDX stock): nothing is traded and the miss is counted."""
    settings = make_settings()
    source = StubSource({"BBCA": frame("g.", base=10_000.0)})
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    right = await make_deployment(db, actor.user_id, credential, ticker="BBCA", size=0.5, last_bar_at=T0, label="a")
    wrong = await make_deployment(db, actor.user_id, credential, ticker="BBCA", size=0.5, last_bar_at=T0, label="b",
                                  market=Source.BINANCE)  # fmt: skip
    await _run(db, settings, source, T0 + HOUR + SOON)
    assert source.fed == [(Source.YFINANCE, "BBCA")]
    [order] = await load(db, Order)
    assert (order.deployment_id, order.symbol, order.status) == (right, "BBCA.JK", "Filled")
    [row] = await load(db, Deployment, id=wrong)
    assert (row.status, row.feed_missing_count) == ("NoPosition", 1)


@pytest.mark.parametrize("state", [CredentialStatus.REVOKED, CredentialStatus.REMOVED])
async def test_a_deployment_cannot_resume_on_a_revoked_or_removed_key(db, state):
    """Planted: ``resume`` without checking the deployment's credential."""
    settings = make_settings()
    source = StubSource({"BTCUSDT": frame("gg.")})
    services = ServiceSet(db, settings, make_market(settings, source, Clock(T0 + HOUR)))
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id, "Binance", "bin")
    dep = await make_deployment(db, actor.user_id, credential, status="Paused", last_bar_at=T0)
    async with db.session() as session:
        await session.execute(update(Credential).where(Credential.id == credential).values(status=state))
    with pytest.raises(Conflict, match="disconnected or revoked"):
        await service.update_status(services, actor, dep, "resume", now=T0 + HOUR)
    [row] = await load(db, Deployment, id=dep)
    assert row.status == "Paused"
    exchange = FakeBroker(name=BrokerName.BINANCE, paper=False)
    await _run(db, settings, source, T0 + 2 * HOUR + SOON, exchange)
    assert exchange.sent == [] and await load(db, Order) == []


async def test_the_fake_exchange_checks_what_a_real_one_does():
    from core.broker.types import InsufficientFunds, OrderRejected, OrderRequest

    exchange = FakeBroker(name=BrokerName.BINANCE, paper=False, balances={"USDT": 100.0})
    with pytest.raises(OrderRejected, match="step"):
        await exchange.create_order(OrderRequest("a", "BTC/USDT", "buy", 0.12345, 100.0))
    with pytest.raises(OrderRejected, match="minimum notional"):
        await exchange.create_order(OrderRequest("b", "BTC/USDT", "buy", 0.01, 100.0))
    with pytest.raises(InsufficientFunds):  # 100 USDT of coin leaves nothing for the fee
        await exchange.create_order(OrderRequest("c", "BTC/USDT", "buy", 1.0, 100.0))
    with pytest.raises(InsufficientFunds):
        await exchange.create_order(OrderRequest("d", "BTC/USDT", "sell", 0.1, 100.0))
    with pytest.raises(OrderRejected, match="step 100"):
        await exchange.create_order(OrderRequest("e", "BBCA.JK", "buy", 150, 9_000.0))
    assert exchange.sent == [] and exchange.balances == {"USDT": 100.0}
