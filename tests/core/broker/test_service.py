"""Credentials: connect (verified through the real adapter over a fake HTTP layer), list, disconnect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from core.broker import exchanges
from core.broker import service as brokers
from core.broker.exchanges import ExchangeBroker
from core.broker.paper import PaperBroker
from core.broker.types import AuthFailed, BrokerName
from core.config import Settings
from core.deployment import credentials
from core.deployment.models import Deployment
from core.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "binance"
CLIENT = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
ACCOUNT = {"makerCommission": 10, "takerCommission": 10, "canTrade": True, "canWithdraw": False,
           "canDeposit": True, "updateTime": 1730419200000, "accountType": "SPOT", "permissions": ["SPOT"],
           "balances": [{"asset": "USDT", "free": "100.0", "locked": "0.0"}]}  # fmt: skip


@pytest.fixture
def fake_binance(monkeypatch, exchange):
    """``new_exchange`` returns a real ccxt binance whose HTTP answers like a read-only key."""
    made = []
    state = {"withdrawals": False, "auth_ok": True}

    def new_exchange(broker, keys, settings):
        adapter, http = exchange(BrokerName.BINANCE)
        http.on("GET", "/api/v3/exchangeInfo", (200, json.loads((FIXTURES / "exchangeInfo_spot.json").read_text())))
        http.on("GET", "/api/v3/account", lambda p: (200, ACCOUNT) if state["auth_ok"]
                else (401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}))  # fmt: skip
        http.on("GET", "/sapi/v1/account/apiRestrictions", lambda p: (200, {
            "ipRestrict": False, "createTime": 1698645219000, "enableReading": True,
            "enableWithdrawals": state["withdrawals"], "enableSpotAndMarginTrading": True}))  # fmt: skip
        made.append((keys, adapter.exchange, http))
        return adapter.exchange

    monkeypatch.setattr(exchanges, "new_exchange", new_exchange)
    return made, state


async def _dump(db) -> str:
    """Every column of every credentials row, as a database dump would show them."""
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM credentials"))).all()
    return "\n".join(repr(tuple(r)) for r in rows)


async def test_connect_verifies_and_stores_only_a_token(db, settings, alice, fake_binance):
    made, _ = fake_binance
    view = await brokers.connect(db, alice, "binance", "Main", CLIENT, SECRET, settings=settings)
    assert (view.label, view.broker, view.hint, view.status, view.can_withdraw) == (
        "Main", BrokerName.BINANCE, "Eh8A", "Active", False,
    )
    assert view.verified_at is not None
    [(keys, exchange, http)] = made
    assert (keys.client_id, keys.secret) == (CLIENT, SECRET)
    assert exchange.session is None or exchange.session.closed  # closed after verifying
    assert [c.path for c in http.calls if c.path != "/api/v3/exchangeInfo"] == [
        "/api/v3/account", "/sapi/v1/account/apiRestrictions",
    ]
    dump = await _dump(db)
    assert "Main" in dump and "Eh8A" in dump
    assert SECRET not in dump and CLIENT not in dump and CLIENT[:-4] not in dump
    assert SECRET not in repr(view) and CLIENT not in repr(view)


async def test_a_key_that_can_withdraw_is_refused_and_not_stored(db, settings, alice, fake_binance):
    _, state = fake_binance
    state["withdrawals"] = True
    with pytest.raises(Forbidden, match="can withdraw funds") as caught:
        await brokers.connect(db, alice, "Binance", "main", CLIENT, SECRET, settings=settings)
    assert "withdrawals disabled" in caught.value.hint and SECRET not in str(caught.value)
    assert await _dump(db) == ""


async def test_a_refused_key_is_not_stored(db, settings, alice, fake_binance):
    _, state = fake_binance
    state["auth_ok"] = False
    with pytest.raises(AuthFailed, match="Invalid API-key"):
        await brokers.connect(db, alice, "Binance", "main", CLIENT, SECRET, settings=settings)
    assert await _dump(db) == ""


async def test_input_checks_never_repeat_the_key(db, settings, alice):
    cases = [
        (dict(broker="okx"), Invalid, "passphrase"),
        (dict(broker="binance", passphrase="pp-123456"), Invalid, "no passphrase"),
        (dict(broker="cexio"), Invalid, "sub-account"),
        (dict(broker="paper"), Invalid, "built in"),
        (dict(broker="kraken"), Invalid, "not a broker"),
        (dict(label=CLIENT + "x"), Invalid, "short name"),
        (dict(label="paper"), Invalid, "paper account"),
        (dict(secret=""), Invalid, "secret is missing"),
    ]
    for change, error, words in cases:
        args = {"broker": "binance", "label": "main", "client_id": CLIENT, "secret": SECRET} | change
        with pytest.raises(error, match=words) as caught:
            await brokers.connect(db, alice, settings=settings, verify=None, **args)
        assert CLIENT not in str(caught.value) + str(caught.value.hint)
    with pytest.raises(Unavailable, match="not set up to store exchange keys"):
        await brokers.connect(db, alice, "binance", "main", CLIENT, SECRET, settings=Settings(_env_file=None))
    assert await _dump(db) == ""


async def test_list_shows_paper_first_and_never_a_secret(db, settings, alice, new_actor):
    await brokers.connect(db, alice, "OKX", "okx1", CLIENT, SECRET, "my-passphrase", settings=settings, verify=None)
    await brokers.connect(db, alice, "Binance", "b1", CLIENT[::-1], SECRET, settings=settings, verify=None)
    bob = await new_actor("bob")
    await brokers.connect(db, bob, "Binance", "bobs", "bob-client-id-0001", SECRET, settings=settings, verify=None)
    page = await brokers.list_credentials(db, alice)
    assert [(v.label, v.broker.value) for v in page.items] == [("paper", "Paper"), ("b1", "Binance"), ("okx1", "OKX")]
    assert page.total == 3 and page.items[2].hint == "Eh8A" and page.items[2].verified_at is None
    only = await brokers.list_credentials(db, alice, broker="okx")
    assert [v.label for v in only.items] == ["okx1"]
    second = await brokers.list_credentials(db, alice, page=2, page_size=2)
    assert [v.label for v in second.items] == ["okx1"] and second.pages == 2
    shown = repr(page) + repr(only)
    assert SECRET not in shown and CLIENT not in shown and "my-passphrase" not in shown
    with pytest.raises(Conflict, match="already have a key labelled 'b1'"):
        await brokers.connect(db, alice, "Binance", "B1", "another-client-id", SECRET, settings=settings, verify=None)


async def _deploy(db, actor, credential_id: int, status: str) -> None:
    async with db.session() as session:
        session.add(Deployment(
            user_id=actor.user_id, credential_id=credential_id, label="ema", source="buy = close > open",
            market="YFinance", ticker="BBCA.JK", interval="1d", status=status,
        ))  # fmt: skip


async def test_disconnect_is_refused_while_a_running_deployment_uses_the_key(db, settings, alice):
    view = await brokers.connect(db, alice, "Binance", "main", CLIENT, SECRET, settings=settings, verify=None)
    await _deploy(db, alice, view.id, "OpenPosition")
    with pytest.raises(Conflict, match="used by 1 running deployment"):
        await credentials.disconnect(db, alice, "MAIN")
    async with db.session() as session:
        await session.execute(text("UPDATE deployments SET status = 'TaskDone'"))
    gone = await credentials.disconnect(db, alice, "main")
    assert gone.label == "main"
    assert [v.label for v in (await brokers.list_credentials(db, alice)).items] == ["paper"]
    dump = await _dump(db)  # the row stays for the finished deployment's history, without its key
    assert "Removed" in dump and "gAAAA" not in dump
    with pytest.raises(AuthFailed, match="disconnected"):
        await brokers.get_broker(db, settings, view.id)
    again = await brokers.connect(db, alice, "Binance", "main", CLIENT, SECRET, settings=settings, verify=None)
    assert again.id != view.id  # the label is free again


async def test_disconnect_deletes_an_unused_key_and_keeps_the_paper_account(db, settings, alice):
    await brokers.connect(db, alice, "Binance", "main", CLIENT, SECRET, settings=settings, verify=None)
    await credentials.disconnect(db, alice, "main")
    assert (await _dump(db)).count("Binance") == 0
    with pytest.raises(NotFound, match="no broker key 'main'"):
        await credentials.disconnect(db, alice, "main")
    with pytest.raises(Invalid, match="built in"):
        await credentials.disconnect(db, alice, "paper")


async def test_paper_credential_and_get_broker(db, settings, alice, new_actor, fake_binance):
    paper = await brokers.paper_credential(db, alice)
    assert (paper.label, paper.broker, paper.hint, paper.paper) == ("paper", BrokerName.PAPER, "", True)
    assert (await brokers.paper_credential(db, alice)).id == paper.id  # one per user
    assert (await brokers.paper_credential(db, await new_actor("bob"))).id != paper.id
    async with brokers.open_broker(db, settings, paper.id) as broker:
        assert isinstance(broker, PaperBroker) and broker.paper
    live = await brokers.connect(db, alice, "Binance", "main", CLIENT, SECRET, settings=settings, verify=None)
    broker = await brokers.get_broker(db, settings, live.id)
    try:
        assert isinstance(broker, ExchangeBroker) and broker.name is BrokerName.BINANCE
        made, _ = fake_binance
        assert (made[-1][0].client_id, made[-1][0].secret) == (CLIENT, SECRET)  # decrypted for trading only
        assert (await broker.fetch_balance())["USDT"] == 100.0
    finally:
        await broker.close()


async def test_mark_revoked_stops_trading_until_a_new_key_replaces_it(db, settings, alice, caplog):
    view = await brokers.connect(db, alice, "Binance", "main", CLIENT, SECRET, settings=settings, verify=None)
    revoked = await brokers.mark_revoked(db, view.id, f"binance -2015 Invalid API-key {SECRET}")
    assert revoked is not None and revoked.status == "Revoked"
    assert SECRET not in caplog.text
    with pytest.raises(AuthFailed, match="revoked"):
        await brokers.get_broker(db, settings, view.id)
    replaced = await brokers.connect(db, alice, "Binance", "main", "new-client-id-77aa", SECRET, settings=settings,
                                     verify=None)  # fmt: skip
    assert (replaced.id, replaced.status, replaced.hint) == (view.id, "Active", "77aa")
    assert await brokers.mark_revoked(db, 999_999, "gone") is None
