"""The order lifecycle's edges, as the stored order, trade and deployment show them (issue 16, ``make mutate``).

Each test is about one thing the executor decides: how long it waits between retries and what it records
meanwhile, what a still-open or empty answer leaves, how a second buy moves the entry price, how much of a
position an exit leaves, which entry's fee an exit carries, which keys a refusal revokes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.broker.models import Credential
from core.broker.types import AuthFailed, OrderRejected, OrderResult, OutcomeUnknown, Transient
from core.deployment.executor import (
    Intent,
    apply_result,
    client_order_id,
    fail_order,
    record_intent,
    send_order,
)
from core.deployment.models import Deployment
from core.trade.models import Order, Trade
from tests.core.deployment.kit import (
    T0,
    FakeBroker,
    load,
    make_credential,
    make_deployment,
    make_settings,
    make_user,
)

BAR = T0 + timedelta(hours=5)


async def _setup(db, broker: str = "Paper", label: str = "paper", **deployment):
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id, broker, label)
    dep = await make_deployment(db, actor.user_id, credential, **deployment)
    return actor, credential, dep


def _intent(actor, credential, dep, side="buy", qty=0.1, price=100.0, bar=BAR, broker="Paper") -> Intent:
    return Intent(dep, actor.user_id, credential, broker, "BTC/USDT", side, qty, price, bar, "signal", side)


async def test_retries_wait_twice_as_long_each_time_and_the_order_says_why_it_waits(db):
    settings = make_settings(order_retries=3, order_retry_base_s=0.5)
    actor, credential, dep = await _setup(db)
    broker = FakeBroker(create_errors=[Transient("rate limited")] * 3)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    order = await record_intent(db, _intent(actor, credential, dep))
    outcome = await send_order(db, settings, broker, order, sleep=sleep)
    assert sleeps == [0.5, 1.0]  # none after the last attempt: reconciliation takes over
    assert (outcome.status, outcome.error) == ("Pending", "the exchange is not answering (rate limited); will retry")
    [row] = await load(db, Order)
    assert (row.status, row.attempts, row.error) == ("Pending", 3, "rate limited")
    assert broker.sent == []


async def test_no_retries_configured_still_sends_once(db):
    settings = make_settings(order_retries=0)
    actor, credential, dep = await _setup(db)
    broker = FakeBroker(create_errors=[Transient("down")])
    order = await record_intent(db, _intent(actor, credential, dep))
    outcome = await send_order(db, settings, broker, order)
    assert outcome.status == "Pending"
    [row] = await load(db, Order)
    assert row.attempts == 1


async def test_an_unknown_outcome_not_found_stays_sent_with_the_reason_on_the_order(db):
    settings = make_settings()
    actor, credential, dep = await _setup(db)
    broker = FakeBroker(create_errors=[OutcomeUnknown("timed out")])  # it never arrived
    order = await record_intent(db, _intent(actor, credential, dep))
    outcome = await send_order(db, settings, broker, order)
    assert (outcome.status, outcome.error, outcome.applied) == (
        "Sent", "outcome unknown (timed out); will check with the exchange", True)
    [row] = await load(db, Order)
    assert (row.status, row.error, row.attempts) == ("Sent", "timed out", 1)
    assert await load(db, Trade) == []


async def test_a_crash_whose_order_never_arrived_names_the_error_and_stays_sent(db):
    settings = make_settings()
    actor, credential, dep = await _setup(db)
    broker = FakeBroker(create_errors=[RuntimeError("bug in a library")])
    order = await record_intent(db, _intent(actor, credential, dep))
    outcome = await send_order(db, settings, broker, order)
    assert outcome.status == "Sent" and "unexpected error: RuntimeError" in outcome.error
    [row] = await load(db, Order)
    assert (row.status, row.error) == ("Sent", "unexpected error: RuntimeError")


async def test_an_order_still_open_at_the_exchange_is_followed_not_traded(db):
    settings = make_settings()
    actor, credential, dep = await _setup(db)
    broker = FakeBroker(answers=["open"])
    order = await record_intent(db, _intent(actor, credential, dep))
    outcome = await send_order(db, settings, broker, order)
    assert (outcome.status, outcome.error, outcome.final, outcome.quantity, outcome.price) == ("Open", "", False, 0.1, 100.0)
    [row] = await load(db, Order)
    assert (row.status, row.exchange_order_id, row.filled_qty) == ("Open", "x1", 0.0)
    [deployment] = await load(db, Deployment)
    assert (deployment.status, deployment.position_qty) == ("NoPosition", 0.0)


@pytest.mark.parametrize(("answer", "status", "said"), [("canceled", "Canceled", "canceled"), ("zero", "Filled", "closed")])
async def test_an_order_that_ends_with_nothing_filled_says_what_the_exchange_said(db, answer, status, said):
    settings = make_settings()
    actor, credential, dep = await _setup(db)
    broker = FakeBroker(answers=[answer])
    order = await record_intent(db, _intent(actor, credential, dep))
    outcome = await send_order(db, settings, broker, order)
    assert (outcome.status, outcome.error, outcome.final) == (status, f"the exchange says {said}", True)
    assert await load(db, Trade) == []


async def test_a_result_applied_twice_is_recorded_once(db):
    settings = make_settings()
    actor, credential, dep = await _setup(db)
    broker = FakeBroker()
    order = await record_intent(db, _intent(actor, credential, dep))
    first = await send_order(db, settings, broker, order)
    again = await apply_result(db, order.id, broker.exchange[order.client_order_id], from_=("Sent",))
    assert (first.applied, again.applied, again.status) == (True, False, "Filled")
    assert len(await load(db, Trade)) == 1
    [deployment] = await load(db, Deployment)
    assert deployment.position_qty == 0.1


async def test_a_second_buy_averages_the_entry_price_by_quantity(db):
    settings = make_settings()
    actor, credential, dep = await _setup(db, status="OpenPosition", position_qty=0.3, entry_price=100.0)
    broker = FakeBroker()
    order = await record_intent(db, _intent(actor, credential, dep, qty=0.1, price=140.0))
    outcome = await send_order(db, settings, broker, order)
    assert (outcome.quantity, outcome.price) == (0.1, 140.0)
    [deployment] = await load(db, Deployment)
    assert deployment.position_qty == pytest.approx(0.4)
    assert deployment.entry_price == pytest.approx((100.0 * 0.3 + 140.0 * 0.1) / 0.4)  # 110
    assert (deployment.status, deployment.status_reason) == ("OpenPosition", "")


async def test_a_buy_fill_without_an_average_is_priced_at_the_reference(db):
    actor, credential, dep = await _setup(db)
    order = await record_intent(db, _intent(actor, credential, dep, qty=0.1, price=123.0))
    await _mark_sent(db, order.id)
    outcome = await apply_result(db, order.id, OrderResult(order.client_order_id, "e1", "closed", 0.1, None, 0.0123, None),
                                 from_=("Sent",))  # fmt: skip
    assert (outcome.status, outcome.price, outcome.fee) == ("Filled", 123.0, 0.0123)
    [trade] = await load(db, Trade)
    assert (trade.price, trade.fee, trade.quote_currency, trade.label) == (123.0, 0.0123, "USDT", "m")
    [row] = await load(db, Order)
    assert (row.average_price, row.fee_currency, row.exchange_order_id) == (None, None, "e1")


async def _mark_sent(db, order_id: int) -> None:
    from sqlalchemy import update

    async with db.session() as session:
        await session.execute(update(Order).where(Order.id == order_id).values(status="Sent"))


@pytest.mark.parametrize(("filled", "left"), [(0.0999, 0.0), (0.0998, 0.0002)])
async def test_an_exit_within_a_thousandth_of_its_size_closes_the_position_and_a_bigger_gap_keeps_the_rest(db, filled, left):
    actor, credential, dep = await _setup(db, status="OpenPosition", position_qty=0.1, entry_price=100.0)
    order = await record_intent(db, _intent(actor, credential, dep, "sell", 0.1, 100.0))
    await _mark_sent(db, order.id)
    await apply_result(db, order.id, OrderResult(order.client_order_id, "e1", "closed", filled, 100.0, 0.0), from_=("Sent",))
    [deployment] = await load(db, Deployment)
    assert deployment.position_qty == pytest.approx(left, abs=1e-12)
    assert deployment.status == ("OpenPosition" if left else "NoPosition")
    assert (deployment.entry_price is None) == (not left)


async def test_an_exit_carries_the_fee_share_of_the_latest_entry_only(db):
    actor, credential, dep = await _setup(db, status="OpenPosition", position_qty=0.0)
    settings = make_settings()
    broker = FakeBroker()
    for hours, price in ((0, 100.0), (2, 200.0)):  # two round trips: the second's entry costs 0.02 in fees
        bar = BAR + timedelta(hours=hours)
        buy = await record_intent(db, _intent(actor, credential, dep, "buy", 0.1, price, bar))
        await send_order(db, settings, broker, buy)
        sell = await record_intent(db, _intent(actor, credential, dep, "sell", 0.2 if hours else 0.1, price,
                                               bar + timedelta(hours=1)))  # fmt: skip
        if hours:  # sell only half of the second entry... as the exchange fills: 0.05 of 0.1
            broker.answers = []
            await _mark_sent(db, sell.id)
            await apply_result(db, sell.id, OrderResult(sell.client_order_id, "e9", "canceled", 0.05, price, 0.0),
                               from_=("Sent",))  # fmt: skip
        else:
            await send_order(db, settings, broker, sell)
    trades = await load(db, Trade)
    assert [t.side for t in trades] == ["buy", "sell", "buy", "sell"]
    # no price move and no exit fee: the P&L is half the second entry's fee (0.02), not the first's (0.01)
    assert trades[-1].pnl == pytest.approx(-0.02 / 2)


async def test_a_sell_of_more_than_the_entry_carries_the_entry_fee_once(db):
    actor, credential, dep = await _setup(db)
    settings = make_settings()
    broker = FakeBroker(balances={"USDT": 10_000.0, "BTC": 1.0})
    buy = await record_intent(db, _intent(actor, credential, dep, "buy", 0.1, 100.0))
    await send_order(db, settings, broker, buy)
    sell = await record_intent(db, _intent(actor, credential, dep, "sell", 0.3, 100.0, BAR + timedelta(hours=1)))
    outcome = await send_order(db, settings, broker, sell)
    assert outcome.pnl == pytest.approx(-0.03 - 0.01)  # its own fee, and the entry's whole fee (not 3 times it)


async def test_a_refusal_on_an_order_without_a_deployment_is_recorded_on_the_order(db):
    actor, credential, dep = await _setup(db)
    order = await record_intent(db, _intent(actor, credential, dep))
    await _mark_sent(db, order.id)
    order.deployment_id = None  # a manual order: no deployment to tell
    outcome = await fail_order(db, order, OrderRejected("below the minimum"), from_=("Sent",))
    assert (outcome.status, outcome.error) == ("Rejected", "rejected by the exchange: below the minimum")
    [deployment] = await load(db, Deployment)
    assert deployment.status_reason == ""
    again = await fail_order(db, order, OrderRejected("again"), from_=("Sent",))
    assert (again.applied, again.status) == (False, "Rejected")
    [row] = await load(db, Order)
    assert row.error == "rejected by the exchange: below the minimum"


async def test_a_refused_key_revokes_that_live_key_only_and_never_the_paper_account(db):
    from core.broker.types import BrokerName

    settings = make_settings()
    actor, credential, dep = await _setup(db, broker="Binance", label="bin")
    other_key = await make_credential(db, actor.user_id, "Binance", "bin2")
    broker = FakeBroker(name=BrokerName.BINANCE, paper=False, create_errors=[AuthFailed("invalid API key " + "x" * 300)])
    order = await record_intent(db, _intent(actor, credential, dep, broker="Binance"))
    outcome = await send_order(db, settings, broker, order)
    assert outcome.paused == (dep,)
    assert outcome.error == f"the exchange refused the API key: invalid API key {'x' * 300}. Reconnect the key, then /resume"
    [paused] = await load(db, Deployment, id=dep)
    assert paused.status_reason == f"paused: {outcome.error}"[:300] and len(outcome.error) > 300
    keys = {c.id: c.status for c in await load(db, Credential)}
    assert keys == {credential: "Revoked", other_key: "Active"}

    paper = await make_credential(db, actor.user_id)
    on_paper = await make_deployment(db, actor.user_id, paper, ticker="ETHUSDT", label="p")
    broker = FakeBroker(create_errors=[AuthFailed("invalid API key")])
    order = await record_intent(db, _intent(actor, paper, on_paper))
    outcome = await send_order(db, settings, broker, order)
    assert outcome.paused == (on_paper,)
    assert {c.id: c.status for c in await load(db, Credential)}[paper] == "Active"


async def test_a_refusal_is_recorded_on_the_deployment_cut_to_its_column(db):
    actor, credential, dep = await _setup(db)
    order = await record_intent(db, _intent(actor, credential, dep))
    await _mark_sent(db, order.id)
    outcome = await fail_order(db, order, OrderRejected("x" * 700), from_=("Sent",))
    assert outcome.error == "rejected by the exchange: " + "x" * 700  # the user's alert has it whole
    [row] = await load(db, Order)
    assert row.error == ("rejected by the exchange: " + "x" * 700)[:500]
    [deployment] = await load(db, Deployment)
    assert deployment.status_reason == ("buy failed: rejected by the exchange: " + "x" * 700)[:300]


async def test_a_refusal_recorded_before_sending_says_so_on_the_deployment(db):
    actor, credential, dep = await _setup(db)
    order = await record_intent(db, _intent(actor, credential, dep, "sell"), refusal="nothing to sell")
    assert order is not None and (order.status, order.error) == ("Rejected", "nothing to sell")
    [deployment] = await load(db, Deployment)
    assert (deployment.status_reason, deployment.last_bar_at, deployment.last_signal) == (
        "sell not placed: nothing to sell", BAR, "sell")


async def test_a_second_order_on_a_claimed_bar_needs_the_bar_and_a_new_client_id(db):
    actor, credential, dep = await _setup(db)
    first = await record_intent(db, _intent(actor, credential, dep, "sell"), refusal="nothing to sell")
    assert first is not None
    # the buy on the same bar, after the sell: the bar is already this deployment's
    buy = await record_intent(db, _intent(actor, credential, dep, "buy"), claim=False)
    assert buy is not None and buy.status == "Pending"
    assert await record_intent(db, _intent(actor, credential, dep, "buy"), claim=False) is None  # the same client id
    # a bar the deployment has not claimed cannot be used without a claim
    later = _intent(actor, credential, dep, "sell", bar=BAR + timedelta(hours=1))
    assert await record_intent(db, later, claim=False) is None
    assert len(await load(db, Order)) == 2


async def test_no_new_order_while_one_is_in_flight(db):
    actor, credential, dep = await _setup(db)
    assert await record_intent(db, _intent(actor, credential, dep)) is not None
    assert await record_intent(db, _intent(actor, credential, dep, "sell", bar=BAR + timedelta(hours=1))) is None
    assert len(await load(db, Order)) == 1


def test_client_order_ids_are_short_letters_and_digits_or_refused():
    assert client_order_id(12, T0, "buy") == f"sx12t{int(T0.timestamp())}b"
    assert client_order_id(12, T0, "close", "ab") == f"ab12t{int(T0.timestamp())}c"
    with pytest.raises(ValueError, match="is not 1-32 letters and digits"):
        client_order_id(12, T0, "buy", "a-b")
    with pytest.raises(ValueError):
        client_order_id(10**14, T0, "buy", "prefix")  # 33 characters
    assert len(client_order_id(10**14, T0, "buy", "prefi")) == 32


async def test_a_refusal_on_a_disconnected_key_leaves_it_disconnected(db):
    """A key the user removed (its orders still reconciling) stays Removed, not Revoked: nothing to reconnect."""
    from sqlalchemy import update

    from core.broker.types import BrokerName

    settings = make_settings()
    actor, credential, dep = await _setup(db, broker="Binance", label="bin")
    async with db.session() as session:
        await session.execute(update(Credential).where(Credential.id == credential).values(status="Removed"))
    broker = FakeBroker(name=BrokerName.BINANCE, paper=False, create_errors=[AuthFailed("invalid API key")])
    order = await record_intent(db, _intent(actor, credential, dep, broker="Binance"))
    await send_order(db, settings, broker, order)
    assert [c.status for c in await load(db, Credential)] == ["Removed"]
