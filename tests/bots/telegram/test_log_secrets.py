"""A /connect key sent over Telegram never reaches the log, at LOG_LEVEL=DEBUG, even with the
library's payload logging on: python-telegram-bot logs each update before any handler (or the
masking registry) has seen it."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from telegram import Bot, Update

from tests.bots.telegram.conftest import BOT, RecordingRequest, message
from tests.logcapture import app_logging

# Shapes no rule knows: only the command rule can hide them. The secret carries both quote kinds,
# which Python's repr escapes and JSON escapes differently.
KEY = "plainKey-9f3a-client"
SECRET = "it's\"Quoted-Secret-77"


async def through_the_queue(tg, *payloads: dict[str, Any]) -> None:
    """Updates as polling or the webhook hand them over: through the Application's queue, whose
    fetcher logs "Processing update" before dispatching each (stop() waits until all are handled)."""
    await tg.app.start()
    try:
        for payload in payloads:
            await tg.app.update_queue.put(Update.de_json(payload, tg.app.bot))
        await asyncio.wait_for(tg.app.update_queue.join(), 30)
    finally:
        await tg.app.stop()


def _assert_no_key(text: str) -> None:
    for part in (KEY, SECRET, "Quoted-Secret-77", "plainKey"):
        assert part not in text, f"{part!r} logged:\n{text}"


async def test_at_debug_the_library_logs_no_updates_unless_asked(tg, tmp_path):
    with app_logging(tmp_path / "bot.log", "DEBUG") as log:
        await through_the_queue(tg, message(f"/connect binance main {KEY} {SECRET}"))
        text = log.text()
    _assert_no_key(text)
    assert tg.rec.api("sendMessage")  # the update was handled
    assert "Processing update" not in text and "Calling Bot API endpoint" not in text


async def test_processing_update_lines_never_carry_the_key(tg, tmp_path):
    with app_logging(tmp_path / "bot.log", "DEBUG", chat_payloads=True) as log:
        await through_the_queue(
            tg,
            message(f"/connect binance main {KEY} {SECRET}"),
            message(f"/connect@StoxlifyBot okx main {KEY} {SECRET} pass-phrase-42"),
        )
        text = log.text()
    assert len(tg.rec.api("sendMessage")) == 2  # answered (no master key here: refused, saying why)
    assert "Processing update" in text and "/connect ***" in text
    assert "Calling Bot API endpoint `sendMessage`" in text  # the replies are logged, and keep no key
    _assert_no_key(text)
    assert "pass-phrase-42" not in text


class UpdatesRequest(RecordingRequest):
    """getUpdates answers with ``updates`` once, as Telegram's long poll does."""

    def __init__(self, updates: list[dict[str, Any]]) -> None:
        super().__init__(poll_delay=0)
        self.pending = updates

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        if name == "getUpdates":
            updates, self.pending = self.pending, []
            return updates
        return super()._result(name, params)


async def test_get_updates_return_values_never_carry_the_key(tmp_path):
    polled = UpdatesRequest([message(f"/connect binance main {KEY} {SECRET}")])
    bot = Bot("123456:TEST-token", request=RecordingRequest(), get_updates_request=polled)
    with app_logging(tmp_path / "bot.log", "DEBUG", chat_payloads=True) as log:
        await bot.initialize()
        try:
            [update] = await bot.get_updates()
        finally:
            await bot.shutdown()
        text = log.text()
    assert update.message.text.endswith(SECRET)  # the key did arrive
    assert "Call to Bot API endpoint `getUpdates` finished with return value" in text
    assert "123456:TEST-token" not in text  # nor the bot's token, in the URLs the library logs
    _assert_no_key(text)


@pytest.mark.parametrize("ensure_ascii", [False, True])
async def test_webhook_data_never_carries_the_key(tmp_path, ensure_ascii):
    """What python-telegram-bot's webhook handler logs: the request body, decoded, as it came."""
    body = json.dumps(message(f"/connect binance main {KEY} {SECRET}"), ensure_ascii=ensure_ascii,
                      separators=(",", ":"))  # fmt: skip
    with app_logging(tmp_path / "bot.log", "DEBUG", chat_payloads=True) as log:
        logging.getLogger("telegram.ext.Updater").debug("Webhook received data: %s", body)
        text = log.text()
    assert "Webhook received data" in text and '"chat"' in text  # the rest of the update is still there
    _assert_no_key(text)


async def test_a_pasted_token_or_exchange_key_is_masked_by_shape_wherever_it_is(tg, tmp_path):
    """Keys pasted outside /connect (a group chat the bot then deletes them from)."""
    binance = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
    okx = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    token = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    with app_logging(tmp_path / "bot.log", "DEBUG", chat_payloads=True) as log:
        await through_the_queue(
            tg,
            message(f"my keys {binance} {okx} and bot {token}", chat=tg.GROUP),
            message(f"api_key={KEY} secret: {SECRET}", chat=tg.GROUP),
        )
        text = log.text()
    assert "Processing update" in text
    for value in (binance, okx, token, KEY, "Quoted-Secret-77"):
        assert value not in text
    assert BOT["username"] in text  # the rest of the payload is still readable
