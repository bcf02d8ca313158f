"""TelegramNotifier: how jobs deliver alerts, and what it reports when it cannot."""

from __future__ import annotations

import pytest

from bots.telegram.notifier import TelegramNotifier
from core.message import Image, Message
from core.notify import ChatTarget, Notifier
from core.state.buttons import MemoryButtonStore

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
ALERT = Message.with_commands(
    "BBCA crossed 9,500 <up>\nPrice 9,525 & rising", images=(Image(PNG, "bbca.png"),)
)


def error(code: int, description: str) -> dict:
    return {"ok": False, "error_code": code, "description": description}


async def test_is_a_notifier(tg):
    notifier = TelegramNotifier(tg.app.bot)
    assert isinstance(notifier, Notifier) and notifier.platform == "telegram"


async def test_sends_photo_with_the_text_as_caption(tg):
    assert await TelegramNotifier(tg.app.bot).send(ChatTarget("telegram", "-1001234567890"), ALERT)
    (photo,) = tg.rec.api()
    assert photo.method == "sendPhoto" and photo.params["chat_id"] == -1001234567890
    assert "photo" in photo.files
    assert photo.text == "<b>BBCA crossed 9,500 &lt;up&gt;</b>\nPrice 9,525 &amp; rising"


async def test_long_text_follows_the_photo(tg):
    notice = Message.with_commands("\n".join(f"signal {i}" for i in range(300)), images=(Image(PNG),))
    assert await TelegramNotifier(tg.app.bot).send(ChatTarget("telegram", "1001"), notice)
    assert [c.method for c in tg.rec.api()] == ["sendPhoto", "sendMessage"]
    assert "signal 299" in tg.rec.api()[-1].text


async def test_text_only_notice(tg):
    target = ChatTarget("telegram", "1001")
    assert await TelegramNotifier(tg.app.bot).send(target, Message.with_commands("ping"))
    assert [(c.method, c.text) for c in tg.rec.api()] == [("sendMessage", "ping")]


async def test_buttons_in_private_chats_are_bound_to_the_chat_owner(tg):
    store = MemoryButtonStore()
    notice = Message.with_commands("BBCA alert", commands=(("Chart", "/market BBCA 1h"),))
    assert await TelegramNotifier(tg.app.bot, buttons=store).send(ChatTarget("telegram", "1001"), notice)
    (token,) = tg.rec.api()[0].callback_tokens
    assert await store.resolve(token, "1001") == "/market BBCA 1h"
    # in a group nobody owns the button, so none is attached
    assert await TelegramNotifier(tg.app.bot, buttons=store).send(ChatTarget("telegram", "-100200"), notice)
    assert tg.rec.api()[-1].callback_tokens == []


@pytest.mark.parametrize(
    ("code", "description"),
    [(403, "Forbidden: bot was blocked by the user"), (400, "Bad Request: chat not found")],
)
async def test_undeliverable_returns_false(tg, code, description):
    tg.rec.fail_once("sendPhoto", code, error(code, description))
    assert not await TelegramNotifier(tg.app.bot).send(ChatTarget("telegram", "1001"), ALERT)


@pytest.mark.filterwarnings(
    "ignore::telegram.warnings.PTBDeprecationWarning"
)  # raised inside PTB's RetryAfter
async def test_rate_limit_is_waited_out(tg):
    tg.rec.fail_once(
        "sendPhoto", 429, {**error(429, "Too Many Requests: retry after 1"), "parameters": {"retry_after": 1}}
    )
    assert await TelegramNotifier(tg.app.bot).send(ChatTarget("telegram", "1001"), ALERT)
    assert [c.ok for c in tg.rec.calls if c.method == "sendPhoto"] == [False, True]


async def test_other_platforms_are_refused(tg):
    assert not await TelegramNotifier(tg.app.bot).send(ChatTarget("discord", "1"), ALERT)
    assert tg.rec.api() == []
