"""/paper reset's service: starting balances back, holdings gone, fill markers kept and never shown."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.broker import service as brokers
from core.broker.models import PaperBalance
from core.broker.paper import MARKER_PREFIX, PaperBroker
from core.broker.types import OrderRequest
from core.deployment import credentials
from core.deployment.models import Deployment
from core.errors import Conflict
from core.trade.models import Order
from tests.core.deployment.kit import load, make_deployment, make_settings, make_user

START = {"IDR": 100_000_000.0, "USDT": 10_000.0}


async def _assets(db, credential_id: int) -> dict[str, float]:
    async with db.session() as session:
        rows = await session.execute(
            select(PaperBalance.asset, PaperBalance.amount).where(PaperBalance.credential_id == credential_id)
        )
        return dict(rows.all())


async def test_reset_restores_the_starting_cash_and_keeps_fills_exactly_once(db):
    settings = make_settings()
    actor = await make_user(db)
    cred = await brokers.paper_credential(db, actor)
    paper = PaperBroker(db, settings, cred.id)
    first = await paper.create_order(OrderRequest("d1-b1-buy", "BTC/USDT", "buy", 0.1, 50_000))
    await paper.create_order(OrderRequest("d2-b1-buy", "BBCA.JK", "buy", 500, 9_000))
    flat = await make_deployment(db, actor.user_id, cred.id, status="NoPosition")
    stopped = await make_deployment(db, actor.user_id, cred.id, status="TaskCanceled", position_qty=0.1,
                                    entry_price=50_000, label="old")  # fmt: skip

    shown = (await brokers.paper_account(db, settings, actor)).balances
    assert list(shown) == ["IDR", "USDT", "BBCA.JK", "BTC"]  # cash first, never a fill marker
    assert shown["USDT"] == pytest.approx(10_000 - 5_000 - 5)

    done = await credentials.reset_paper(db, settings, actor)
    assert done.before == shown and done.account.balances == START and done.cleared == (stopped,)
    assets = await _assets(db, cred.id)
    assert {a: v for a, v in assets.items() if not a.startswith(MARKER_PREFIX)} == START
    assert sum(a.startswith(MARKER_PREFIX) for a in assets) == 6  # two fills' markers stay
    assert (await brokers.paper_account(db, settings, actor)).balances == START

    again = await paper.create_order(OrderRequest("d1-b1-buy", "BTC/USDT", "buy", 0.1, 50_000))
    assert again == first  # an order id already used is answered with its fill, not filled twice
    assert await paper.fetch_balance() == START
    rows = {d.id: d for d in await load(db, Deployment)}
    assert (rows[flat].status, rows[flat].position_qty) == ("NoPosition", 0.0)  # keeps running
    assert (rows[stopped].position_qty, rows[stopped].entry_price) == (0.0, None)


async def test_a_never_used_account_resets_to_the_start(db):
    settings = make_settings(paper_start_usdt=500.0)
    actor = await make_user(db)
    done = await credentials.reset_paper(db, settings, actor)
    assert done.account.balances == {"IDR": 100_000_000.0, "USDT": 500.0}


@pytest.mark.parametrize("status", ["OpenPosition", "Paused"])
async def test_refused_while_a_deployment_holds_a_position(db, status):
    settings = make_settings()
    actor = await make_user(db)
    cred = await brokers.paper_credential(db, actor)
    paper = PaperBroker(db, settings, cred.id)
    await paper.create_order(OrderRequest("d1-b1-buy", "BTC/USDT", "buy", 0.1, 50_000))
    held = await make_deployment(db, actor.user_id, cred.id, status=status, position_qty=0.1, entry_price=50_000,
                                 label="ema")  # fmt: skip
    before = await _assets(db, cred.id)
    for check_only in (True, False):
        with pytest.raises(credentials.PaperResetBlocked, match=rf"#{held} ema \(0.1 BTCUSDT\) holds a position") as caught:
            await credentials.reset_paper(db, settings, actor, check_only=check_only)
        assert caught.value.deployment_ids == (held,)
    assert await _assets(db, cred.id) == before


async def test_refused_while_an_order_is_in_flight(db):
    settings = make_settings()
    actor = await make_user(db)
    cred = await brokers.paper_credential(db, actor)
    async with db.session() as session:
        session.add(Order(user_id=actor.user_id, credential_id=cred.id, broker="Paper", client_order_id="x-1",
                          symbol="BTC/USDT", side="buy", quantity=0.1, status="Sent"))  # fmt: skip
    with pytest.raises(Conflict, match="in flight"):
        await credentials.reset_paper(db, settings, actor)
