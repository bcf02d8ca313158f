"""/link CODE shows whose account it joins and what moves, and links only from its button."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bots.console.transport import Console
from core.account.models import Identity, User
from core.account.service import actor_for
from core.app import Core
from core.config import Settings


@pytest.fixture
async def two(tmp_path):
    """Mallory on Telegram (who issues the code) and Ana on Discord (who is asked to redeem it)."""
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", market_offline=True)
    core = await Core.start(settings)
    mallory = await actor_for(core.db, platform="telegram", external_id="111", display_name="Mallory T")
    ana = await actor_for(core.db, platform="discord", external_id="222", display_name="ana#1")
    try:
        yield Console(core, mallory, tmp_path / "m"), Console(core, ana, tmp_path / "a")
    finally:
        await core.close()


async def _code(console: Console) -> str:
    issued = await console.handle("/link")
    return issued.text.split("Your link code: ", 1)[1].split()[0]


async def _owner_of_discord_222(console: Console) -> int:
    async with console.core.db.session() as session:
        return await session.scalar(select(Identity.user_id).where(Identity.external_id == "222"))


async def test_link_asks_first_naming_the_account_and_what_moves(two):
    mallory, ana = two
    await mallory.handle("/profile set name Mallory")
    for line in ("/model save ema\nbuy = crossover(ema(close, 5), ema(close, 20))", "/watch BBCA price>9000"):
        assert not (await ana.handle(line)).error
    code = await _code(mallory)

    ask = await ana.handle(f"/link {code}")
    assert not ask.error and ask.ephemeral
    assert ask.text.splitlines()[0] == "Join this discord account to Mallory's account?"
    assert "logs in on telegram (Mallory T)" in ask.text
    assert "moves there for good: 1 model, 1 watch." in ask.text
    [[yes, cancel]] = ask.buttons
    assert yes.label == "Yes, join Mallory's account" and (cancel.label, cancel.command) == ("Cancel", "/me")
    assert await _owner_of_discord_222(ana) == ana.actor.user_id  # nothing moved yet

    done = await ana.handle("1")  # the button
    assert done.text == "Linked: this account now spans discord, telegram."
    assert await _owner_of_discord_222(ana) == mallory.actor.user_id
    async with ana.core.db.session() as session:
        assert await session.get(User, ana.actor.user_id) is None


@pytest.mark.parametrize("suffix", ["--yes", "yes", "b:forgedtoken1"])
async def test_a_typed_confirmation_only_shows_the_preview_again(two, suffix):
    mallory, ana = two
    code = await _code(mallory)
    again = await ana.handle(f"/link {code} {suffix}")
    assert "Join this discord account to" in again.text and again.buttons
    assert await _owner_of_discord_222(ana) == ana.actor.user_id


async def test_the_confirmation_is_bound_to_the_asker(two, tmp_path):
    mallory, ana = two
    code = await _code(mallory)
    ask = await ana.handle(f"/link {code}")
    pressed = ask.buttons[0][0].command
    carol = Console(ana.core, await actor_for(ana.core.db, platform="discord", external_id="333"), tmp_path / "c")
    assert "Join this discord account" in (await carol.handle(pressed)).text  # Ana's button, Carol's account
    assert await _owner_of_discord_222(ana) == ana.actor.user_id


async def test_an_unknown_code_is_refused_before_any_question(two):
    _, ana = two
    bad = await ana.handle("/link ABCD-2345")
    assert bad.error and "unknown or has expired" in bad.text and not bad.buttons


async def test_an_account_without_a_name_is_called_so(two, tmp_path):
    _, ana = two
    nameless = Console(ana.core, await actor_for(ana.core.db, platform="telegram", external_id="555"), tmp_path / "n")
    ask = await ana.handle(f"/link {await _code(nameless)}")
    assert ask.text.splitlines()[0] == "Join this discord account to an account without a name?"
    assert ask.buttons[0][0].label == "Yes, join an account without a name"
