"""/paper and /paper reset through the registry, on SQLite and PostgreSQL; fill markers never shown."""

from __future__ import annotations

from sqlalchemy import select

from bots.registry import Context
from core.account.service import actor_for
from core.broker.models import PaperBalance
from core.broker.paper import PaperBroker
from core.broker.service import paper_credential
from core.broker.types import OrderRequest
from core.deployment.models import Deployment

START = "IDR 100,000,000, USDT 10,000"


async def _fill(console, client_id: str = "d1-b1-buy", qty: float = 0.1) -> int:
    cred = await paper_credential(console.core.db, console.actor)
    paper = PaperBroker(console.core.db, console.core.settings, cred.id)
    await paper.create_order(OrderRequest(client_id, "BTC/USDT", "buy", qty, 50_000))
    return cred.id


async def _assets(console) -> list[str]:
    async with console.core.db.session() as session:
        return sorted(await session.scalars(select(PaperBalance.asset)))


async def test_paper_shows_and_resets_the_balances(db_console):
    console = db_console
    fresh = await console.handle("/paper")
    assert not fresh.error and fresh.text.startswith(f"Your paper account: {START}.")
    await _fill(console)
    shown = (await console.handle("/paper")).text
    assert shown.startswith("Your paper account: IDR 100,000,000, USDT 4,995, BTC 0.1.") and "fill" not in shown
    assert "fill" not in (await console.handle("/credentials")).text

    ask = await console.handle("/paper reset")
    assert not ask.error and ask.text.startswith(f"Reset your paper account to {START}?")
    assert "It holds IDR 100,000,000, USDT 4,995, BTC 0.1 now" in ask.text
    assert [b.command for row in ask.buttons for b in row] == ["/paper reset --yes", "/paper"]
    assert "BTC" in (await console.handle("/paper")).text  # nothing changed before the confirmation

    done = await console.handle("/paper reset --yes")
    assert done.text == f"Your paper account is back to its starting balances: {START}."
    assert (await console.handle("/paper")).text.startswith(f"Your paper account: {START}.")
    assets = await _assets(console)
    assert [a for a in assets if not a.startswith("fill:")] == ["IDR", "USDT"]
    assert sum(a.startswith("fill:") for a in assets) == 3  # kept (exactly-once fills), never shown


async def test_paper_reset_is_refused_while_a_deployment_holds_a_position(db_console):
    console = db_console
    cred_id = await _fill(console)
    async with console.core.db.session() as session:
        row = Deployment(user_id=console.actor.user_id, credential_id=cred_id, label="ema", source="x",
                         market="Binance", ticker="BTCUSDT", interval="1h", status="OpenPosition",
                         position_qty=0.1, entry_price=50_000)  # fmt: skip
        session.add(row)
        await session.flush()
        held = row.id
    for line in ("/paper reset", "/paper reset --yes"):
        refused = await console.handle(line)
        assert refused.error and f"#{held} ema (0.1 BTCUSDT) holds a position" in refused.text, refused.text
        assert f"Try /stop {held}" in refused.text
    assert "BTC" in await _assets(console)

    await console.handle(f"/stop {held} --yes")
    done = await console.handle("/paper reset --yes")
    assert done.text.startswith("Your paper account is back to its starting balances")
    assert f"stopped deployment(s) #{held} went with it" in done.text
    assert "No open positions" in (await console.handle("/positions")).text


async def test_paper_bad_input_and_groups(db_console):
    console = db_console
    bad = await console.handle("/paper wipe")
    assert bad.error and "ACTION must be one of show, reset, not 'wipe'" in bad.text
    assert "Usage: /paper [show|reset]" in bad.text
    extra = await console.handle("/paper reset now")
    assert extra.error and "unexpected 'now'" in extra.text
    group = await actor_for(console.core.db, platform="console", external_id="alice", display_name="Alice",
                            chat_id="-100", chat_title="Traders", is_group=True)  # fmt: skip
    ctx = Context(core=console.core, actor=group, transport="telegram")
    for line in ("/paper", "/paper reset --yes"):
        assert "only in a private chat" in (await console.registry.dispatch(ctx, line)).text


async def test_deleteaccount_summary_counts_no_fill_markers(db_console):
    console = db_console
    await _fill(console)
    await _fill(console, "d1-b2-buy", 0.00012)
    assert len(await _assets(console)) == 3 + 6
    assert "BTC 0.10012" in (await console.handle("/paper")).text
    ask = await console.handle("/deleteaccount")
    assert "  3 paper balances" in ask.text, ask.text
