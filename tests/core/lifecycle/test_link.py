"""/link: a Telegram and a Discord identity become one user, with everything both owned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.account.models import Identity, LinkCode, User
from core.account.service import actor_for
from core.db import utcnow
from core.errors import Conflict, NotFound
from core.lifecycle import link
from core.market.models import Watch


async def _watch(db, user_id: int, ticker: str, condition: str = "") -> None:
    async with db.session() as session:
        session.add(Watch(user_id=user_id, source="YFinance", ticker=ticker, condition=condition))


async def test_link_merges_identities_and_owned_rows(db):
    tg = await actor_for(db, platform="telegram", external_id="111", display_name="Ana")
    dc = await actor_for(db, platform="discord", external_id="222", display_name="ana#1")
    await _watch(db, tg.user_id, "BBCA")
    await _watch(db, dc.user_id, "BBCA")  # the same watch on both: kept once
    await _watch(db, dc.user_id, "TLKM", "price>3000")

    issued = await link.issue_code(db, tg)
    async with db.session() as session:
        stored = await session.scalar(select(LinkCode.code_hash))
    assert issued.code.replace("-", "") not in stored  # only a hash is kept

    result = await link.redeem_code(db, dc, issued.code.lower())
    assert result.user_id == tg.user_id and result.platforms == ("discord", "telegram")

    again = await actor_for(db, platform="discord", external_id="222")
    assert again.user_id == tg.user_id
    async with db.session() as session:
        watches = sorted((w.ticker, w.condition) for w in await session.scalars(select(Watch)))
        users = await session.scalar(select(func.count()).select_from(User))
        identities = set(await session.scalars(select(Identity.user_id)))
    assert watches == [("BBCA", ""), ("TLKM", "price>3000")]
    assert users == 1 and identities == {tg.user_id}


async def test_code_is_single_use_and_expires(db):
    tg = await actor_for(db, platform="telegram", external_id="111")
    dc = await actor_for(db, platform="discord", external_id="222")
    other = await actor_for(db, platform="discord", external_id="333")
    issued = await link.issue_code(db, tg)
    await link.redeem_code(db, dc, issued.code)
    with pytest.raises(NotFound, match="unknown or has expired"):
        await link.redeem_code(db, other, issued.code)

    late = await link.issue_code(db, other)
    tg2 = await actor_for(db, platform="telegram", external_id="444")
    with pytest.raises(NotFound):
        await link.redeem_code(db, tg2, late.code, now=utcnow() + timedelta(minutes=11))


async def test_cannot_link_two_identities_of_one_platform(db):
    first = await actor_for(db, platform="telegram", external_id="111")
    second = await actor_for(db, platform="telegram", external_id="999")
    issued = await link.issue_code(db, first)
    with pytest.raises(Conflict, match="already has a telegram identity"):
        await link.redeem_code(db, second, issued.code)
    with pytest.raises(Conflict, match="yours already"):
        await link.redeem_code(db, first, issued.code)


async def test_clashing_labels_are_renamed_within_the_label_rules_and_paper_accounts_merge(db):
    from core.broker.models import Credential, PaperBalance
    from core.deployment.models import Deployment
    from core.labels import check_label
    from core.model.models import Model
    from core.trade.models import Order

    tg = await actor_for(db, platform="telegram", external_id="111")
    dc = await actor_for(db, platform="discord", external_id="222")
    long_model, long_key = "m" * 64, "k" * 32
    async with db.session() as session:
        papers = {}
        for user_id in (tg.user_id, dc.user_id):
            for label in (long_model, "ema"):
                session.add(Model(user_id=user_id, label=label, label_key=label.lower(), source="x"))
            session.add(Credential(user_id=user_id, broker="Binance", label=long_key, label_key=long_key))
            paper = Credential(user_id=user_id, broker="Paper", label="paper", label_key="paper")
            session.add(paper)
            await session.flush()
            papers[user_id] = paper.id
            session.add(PaperBalance(credential_id=paper.id, asset="IDR", amount=float(user_id)))
        session.add(PaperBalance(credential_id=papers[dc.user_id], asset="fill:0123456789abcdef0123:q", amount=1.0))
        deployment = Deployment(user_id=dc.user_id, credential_id=papers[dc.user_id], label="ema", source="x",
                                market="YFinance", ticker="BBCA.JK", interval="1d")
        session.add(deployment)
        await session.flush()
        session.add(Order(user_id=dc.user_id, deployment_id=deployment.id, credential_id=papers[dc.user_id],
                          broker="Paper", client_order_id="c-1", symbol="BBCA.JK", side="buy", quantity=1.0))

    issued = await link.issue_code(db, tg)
    await link.redeem_code(db, dc, issued.code)

    async with db.session() as session:
        models = sorted(await session.scalars(select(Model.label).where(Model.user_id == tg.user_id)))
        keys = sorted(await session.scalars(select(Credential.label).where(Credential.user_id == tg.user_id)))
        paper_rows = list(await session.scalars(select(Credential).where(Credential.broker == "Paper")))
        all_balances = list(await session.scalars(select(PaperBalance).order_by(PaperBalance.id)))
        balances = [(b.credential_id, b.amount) for b in all_balances if not b.asset.startswith("fill:")]
        markers = [(b.credential_id, b.asset) for b in all_balances if b.asset.startswith("fill:")]
        moved = await session.scalar(select(Deployment))
        order = await session.scalar(select(Order))
    assert models == sorted(["ema", "ema-2", long_model, "m" * 62 + "-2"])
    assert keys == sorted(["paper", long_key, "k" * 30 + "-2"])
    for label in models + keys:
        assert check_label(label) == label
    assert len("k" * 30 + "-2") <= 32  # the exchange-key label rule
    # one paper account: the target's, now carrying the source's deployment and order
    assert [(p.id, p.user_id) for p in paper_rows] == [(papers[tg.user_id], tg.user_id)]
    assert balances == [(papers[tg.user_id], float(tg.user_id + dc.user_id))]  # the source's IDR added
    assert markers == [(papers[tg.user_id], "fill:0123456789abcdef0123:q")]  # the order's fill moved with it
    assert (moved.user_id, moved.credential_id) == (tg.user_id, papers[tg.user_id])
    assert (order.user_id, order.credential_id) == (tg.user_id, papers[tg.user_id])


async def test_preview_names_the_account_and_counts_what_moves_changing_nothing(db):
    from core.broker.models import Credential
    from core.deployment.models import Deployment
    from core.model.models import Model

    owner = await actor_for(db, platform="telegram", external_id="111", display_name="Mallory T")
    await link_profile_name(db, owner.user_id, "Mallory")
    victim = await actor_for(db, platform="discord", external_id="222", display_name="ana#1")
    async with db.session() as session:
        paper = Credential(user_id=victim.user_id, broker="Paper", label="paper", label_key="paper")
        session.add(paper)
        for label in ("main", "alt"):
            session.add(Credential(user_id=victim.user_id, broker="Binance", label=label, label_key=label))
        session.add(Model(user_id=victim.user_id, label="ema", label_key="ema", source="x"))
        await session.flush()
        session.add(Deployment(user_id=victim.user_id, credential_id=paper.id, label="ema", source="x",
                               market="YFinance", ticker="BBCA.JK", interval="1d"))  # fmt: skip
    await _watch(db, victim.user_id, "BBCA")
    issued = await link.issue_code(db, owner)

    preview = await link.preview_link(db, victim, issued.code.lower())
    assert preview.target_name == "Mallory" and preview.target_logins == ("telegram (Mallory T)",)
    assert preview.moves == (("exchange keys", 2), ("deployment", 1), ("model", 1), ("watch", 1))
    again = await actor_for(db, platform="discord", external_id="222")
    assert again.user_id == victim.user_id  # nothing moved
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(LinkCode)) == 1  # the code still works


async def test_preview_refuses_what_redeem_refuses(db):
    first = await actor_for(db, platform="telegram", external_id="111")
    second = await actor_for(db, platform="telegram", external_id="999")
    issued = await link.issue_code(db, first)
    with pytest.raises(Conflict, match="already has a telegram identity"):
        await link.preview_link(db, second, issued.code)
    with pytest.raises(NotFound, match="unknown or has expired"):
        await link.preview_link(db, second, "ABCD-2345")


async def link_profile_name(db, user_id: int, name: str) -> None:
    async with db.session() as session:
        (await session.get(User, user_id)).name = name


async def test_after_link_an_open_paper_position_is_sold_from_the_joined_account(db):
    """Discord bought BTC on paper, then linked to Telegram's account: the exit still sells it
    (the merge used to drop the source's balances: "insufficient funds ... 0 there", forever)."""
    from core.broker.paper import PaperBroker
    from core.broker.service import paper_credential
    from core.broker.types import OrderRequest, Side
    from core.config import Settings

    settings = Settings(_env_file=None, paper_start_usdt=10_000.0, paper_start_idr=100_000_000.0,
                        paper_slippage=0.0)  # fmt: skip
    tg = await actor_for(db, platform="telegram", external_id="111")
    dc = await actor_for(db, platform="discord", external_id="222")
    tg_paper, dc_paper = await paper_credential(db, tg), await paper_credential(db, dc)
    before = await PaperBroker(db, settings, tg_paper.id).fetch_balance()  # Telegram's own account, used
    bought = await PaperBroker(db, settings, dc_paper.id).create_order(
        OrderRequest("dc-buy-1", "BTC/USDT", Side.BUY, 0.05, 60_000.0))
    assert bought.filled == 0.05

    issued = await link.issue_code(db, tg)
    await link.redeem_code(db, dc, issued.code)

    joined = PaperBroker(db, settings, tg_paper.id)
    held = await joined.fetch_balance()
    assert held["BTC"] == pytest.approx(0.05)
    assert held["USDT"] == pytest.approx(before["USDT"] + 10_000.0 - 3_000.0 - bought.fee)
    sold = await joined.create_order(OrderRequest("dc-sell-1", "BTC/USDT", Side.SELL, 0.05, 61_000.0))
    assert sold.filled == 0.05 and sold.average == 61_000.0
    after = await joined.fetch_balance()
    assert after["BTC"] == pytest.approx(0.0)
    assert after["USDT"] == pytest.approx(held["USDT"] + 3_050.0 - sold.fee)
    assert await joined.fetch_order("dc-buy-1", "BTC/USDT") == bought  # the buy's fill is still found
