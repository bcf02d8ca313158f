"""/connect, /credentials and /disconnect through the registry, as the console (and Telegram) drive it."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select, text

from bots.registry import Context
from core.account.service import actor_for
from core.broker import crypto, exchanges
from core.broker.exchanges import Verification
from core.broker.models import Credential

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


class FakeExchange:
    closed = False

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def keys_on(console, monkeypatch):
    """A master key configured, and the exchange answering the read-only check as ``answer`` says."""
    console.core.settings = console.core.settings.model_copy(
        update={"broker_master_keys": [SecretStr(Fernet.generate_key().decode())]}
    )
    answer = {"verification": Verification(can_withdraw=False, can_trade=True)}
    made: list[FakeExchange] = []

    def new_exchange(broker, keys, settings):
        made.append(FakeExchange())
        return made[-1]

    async def verify(self):
        return answer["verification"]

    monkeypatch.setattr(exchanges, "new_exchange", new_exchange)
    monkeypatch.setattr(exchanges.ExchangeBroker, "verify", verify)
    return answer, made


def _as(console, transport: str) -> Context:
    return Context(core=console.core, actor=console.actor, transport=transport)


async def _rows(console) -> list[Credential]:
    async with console.core.db.session() as session:
        return list(await session.scalars(select(Credential).where(Credential.broker != "Paper")))


async def test_connect_on_telegram_stores_encrypted_and_asks_to_delete_the_message(console, keys_on):
    _, made = keys_on
    reply = await console.registry.dispatch(_as(console, "telegram"), f"/connect binance main {KEY} {SECRET}")
    assert not reply.error, reply.text
    assert reply.text.startswith("Connected Binance key 'main' (…Eh8A).")
    assert "withdrawals are off" in reply.text and "delete your message" in reply.text
    assert KEY[:-4] not in reply.text and SECRET not in reply.text and reply.ephemeral
    assert made and all(e.closed for e in made)
    [row] = await _rows(console)
    assert (row.label, row.broker, row.key_hint, row.can_withdraw) == ("main", "Binance", "Eh8A", False)
    async with console.core.db.engine.connect() as conn:
        dump = repr((await conn.execute(text("SELECT * FROM credentials"))).all())
    assert KEY not in dump and SECRET not in dump
    stored = crypto.decrypt(console.core.settings, row.secret_token, user_id=row.user_id, broker="Binance")
    assert (stored.client_id, stored.secret) == (KEY, SECRET)


async def test_connect_is_refused_in_a_group(console, keys_on):
    actor = await actor_for(
        console.core.db, platform="console", external_id="alice", display_name="Alice", chat_id="-100",
        chat_title="Traders", is_group=True,
    )  # fmt: skip
    group = Context(core=console.core, actor=actor, transport="telegram")
    reply = await console.registry.dispatch(group, f"/connect binance main {KEY} {SECRET}")
    assert reply.error and "works only in a private chat" in reply.text
    assert KEY not in reply.text and SECRET not in reply.text
    assert await _rows(console) == []
    for line in ("/credentials", "/disconnect main"):
        assert "only in a private chat" in (await console.registry.dispatch(group, line)).text


async def test_okx_and_cexio_take_their_fifth_word(console, keys_on):
    okx = await console.handle(f"/connect okx okx1 {KEY[:32]} {SECRET} my-pass-phrase")
    assert not okx.error, okx.text
    cex = await console.handle(f"/connect cexio cex1 {KEY[:30]} {SECRET} sub1")
    assert not cex.error, cex.text
    rows = {r.label: r for r in await _rows(console)}
    okx_keys = crypto.decrypt(console.core.settings, rows["okx1"].secret_token, user_id=rows["okx1"].user_id, broker="OKX")
    cex_keys = crypto.decrypt(console.core.settings, rows["cex1"].secret_token, user_id=rows["cex1"].user_id, broker="CexIO")
    assert (okx_keys.secret, okx_keys.passphrase, okx_keys.account) == (SECRET, "my-pass-phrase", None)
    assert (cex_keys.secret, cex_keys.passphrase, cex_keys.account) == (SECRET, None, "sub1")


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (f"/connect binance main {KEY}", "missing SECRET"),
        (f"/connect okx main {KEY} {SECRET}", "OKX needs the key's passphrase"),
        (f"/connect binance main {KEY} {SECRET} extra-word", "too many words"),
        (f"/connect kraken main {KEY} {SECRET}", "BROKER must be one of binance, tokocrypto, okx, coinbase, cexio"),
        (f"/connect {KEY} {SECRET}", "missing CLIENT_ID"),
        (f"/connect binance {KEY} {SECRET} x", "a label is a short name"),
    ],
)
async def test_bad_connect_lines_name_the_problem_and_never_echo_the_key(console, keys_on, line, words):
    reply = await console.registry.dispatch(_as(console, "telegram"), line)
    assert reply.error and words in reply.text, reply.text
    assert "Usage: /connect BROKER LABEL CLIENT_ID" in reply.text
    assert KEY[:12] not in reply.text and SECRET[:12] not in reply.text
    assert await _rows(console) == []


async def test_withdraw_enabled_key_is_refused_with_advice(console, keys_on):
    answer, _ = keys_on
    answer["verification"] = Verification(can_withdraw=True, can_trade=True)
    reply = await console.registry.dispatch(_as(console, "telegram"), f"/connect binance main {KEY} {SECRET}")
    assert reply.error and "can withdraw funds" in reply.text and "withdrawals disabled" in reply.text
    assert "Nothing was stored" in reply.text and "delete your message" in reply.text
    assert await _rows(console) == []


async def test_without_a_master_key_the_admin_is_told_how_to_make_one(console):
    reply = await console.handle(f"/connect binance main {KEY} {SECRET}")
    assert reply.error and "not set up to store exchange keys" in reply.text
    assert "Fernet.generate_key()" in reply.text


async def test_credentials_lists_without_secrets_and_disconnect_confirms(console, keys_on):
    listed = await console.handle("/credentials")
    assert listed.text.splitlines()[:2] == [
        "Your broker accounts:", "• paper · built-in paper account · IDR 100,000,000, USDT 10,000",
    ]
    await console.handle(f"/connect binance main {KEY} {SECRET}")
    listed = await console.handle("/credentials")
    assert "• main · Binance · key …Eh8A · verified" in listed.text and "withdrawals off" in listed.text
    assert KEY[:-4] not in listed.text and SECRET not in listed.text
    only = await console.handle("/credentials okx")
    assert "You have no okx keys" in only.text

    ask = await console.handle("/disconnect main")
    assert ask.text.startswith("Disconnect Binance key 'main' (…Eh8A)?")
    assert [b.command for row in ask.buttons for b in row] == ["/disconnect main --yes", "/credentials"]
    assert len(await _rows(console)) == 1
    done = await console.handle("1")  # press "Yes, disconnect"
    assert done.text.startswith("Disconnected Binance key 'main'.")
    assert await _rows(console) == []
    missing = await console.handle("/disconnect main --yes")
    assert missing.error and "no broker key 'main'" in missing.text


def test_discord_asks_for_the_secret_in_a_form(console):
    command = console.registry.get("connect")
    assert command is not None and command.private_only
    secret = next(a for a in command.args if a.name == "secret")
    assert secret.ask is not None and secret.ask({"broker": "binance"}) and not secret.required
