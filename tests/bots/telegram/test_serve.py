"""serve(): the Application's async lifecycle around polling or a webhook, stopped by an event."""

from __future__ import annotations

import asyncio
import json

import pytest

from bots.commands import load
from bots.telegram import app as tg_app
from core.config import Settings


@pytest.fixture
def offline(monkeypatch, core, rec):
    """serve() builds its Application over recording requests; returns (getUpdates recorder)."""
    updates = type(rec)()
    real = tg_app.build_application

    def build(core, registry, *, token, request=None, get_updates_request=None):
        assert token == "123456:SERVE-token"
        return real(core, registry, token=token, request=rec, get_updates_request=updates)

    monkeypatch.setattr(tg_app, "build_application", build)
    return updates


def configure(core, **settings):
    core.settings = Settings(
        _env_file=None,
        database_url=core.settings.database_url,
        market_offline=True,
        telegram_token="123456:SERVE-token",
        **settings,
    )


async def wait_for(predicate) -> None:
    """Poll ``predicate`` for up to 5 s."""
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached within 5 s")


async def test_polling_until_stopped(core, rec, offline):
    configure(core)
    stop = asyncio.Event()
    task = asyncio.create_task(tg_app.serve(core, load(), stop))
    await wait_for(lambda: any(c.method == "getUpdates" for c in offline.calls))
    menus = rec.api("setMyCommands")  # post_init ran: groups (and default), group admins, private chats
    private_menu = json.loads(menus[3].params["commands"]) if isinstance(menus[3].params["commands"], str) \
        else menus[3].params["commands"]  # fmt: skip
    assert len(menus) == 4
    assert len(private_menu) == len([c for c in load() if not (c.admin_only or c.for_bot_admins)])
    assert rec.api("deleteWebhook")  # polling clears any webhook first
    stop.set()
    await asyncio.wait_for(task, 5)
    polls = [c for c in offline.calls if c.method == "getUpdates"]
    assert polls[0].params["allowed_updates"] == [
        "message", "edited_message", "callback_query", "pre_checkout_query", "my_chat_member", "chat_member"
    ]


async def test_webhook_needs_a_url(core, rec, offline):
    configure(core, telegram_mode="webhook")
    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_URL"):
        await tg_app.serve(core, load(), asyncio.Event())


async def test_webhook_mode(core, rec, offline):
    """Telegram is told the URL and secret; updates are taken by the API's server (``api.webhooks``),
    which finds the transport's receiver on the core while it runs."""
    configure(
        core,
        telegram_mode="webhook",
        telegram_webhook_url="https://bot.example.com/telegram/hook",
        telegram_webhook_secret="s3cret-token_value",
    )
    stop = asyncio.Event()
    task = asyncio.create_task(tg_app.serve(core, load(), stop))
    await wait_for(lambda: rec.api("setWebhook"))
    (hook,) = rec.api("setWebhook")
    assert hook.params["url"] == "https://bot.example.com/telegram/hook"
    assert hook.params["secret_token"] == "s3cret-token_value"
    assert core.receivers["telegram"].secret == "s3cret-token_value"
    assert not rec.api("deleteWebhook") and not any(c.method == "getUpdates" for c in offline.calls)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert "telegram" not in core.receivers


async def test_missing_token(core):
    with pytest.raises(ValueError, match="TELEGRAM_TOKEN"):
        await tg_app.serve(core, load(), asyncio.Event())
