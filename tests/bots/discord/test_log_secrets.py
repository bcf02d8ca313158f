"""A /connect key sent over Discord never reaches the log, at LOG_LEVEL=DEBUG, even with the
library's payload logging on: discord.py's gateway logs every event ("WebSocket Event", modal
values included) before the bot has seen it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from discord.gateway import DiscordWebSocket

from bots.discord import commands as discord_commands
from tests.logcapture import app_logging

KEY = "plainKey-9f3a-client"  # shapes no rule knows: only the command rule can hide them
SECRET = "it's\"Quoted-Secret-77"


def _assert_no_key(text: str) -> None:
    for part in (KEY, SECRET, "Quoted-Secret-77", "plainKey"):
        assert part not in text, f"{part!r} logged:\n{text}"


async def _through_the_gateway(bot, payload: dict[str, Any]) -> list[Any]:
    """``payload`` as the gateway delivers it: a JSON frame into discord.py's own websocket reader,
    which logs it, then hands INTERACTION_CREATE to the client (which runs the command)."""
    ws = DiscordWebSocket(None, loop=asyncio.get_running_loop())  # type: ignore[arg-type]
    ws.shard_id = None
    ws._discord_parsers = bot.client._connection.parsers
    start = len(bot.fake.calls)
    before = asyncio.all_tasks()
    await ws.received_message(json.dumps({"op": 0, "s": 42, "t": "INTERACTION_CREATE", "d": payload}))
    for _ in range(100):
        pending = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()]
        if not pending:
            break
        await asyncio.wait(pending, timeout=20)
    return bot.fake.calls[start:]


async def test_at_debug_gateway_events_are_not_logged_unless_asked(bot, dk, tmp_path):
    payload = dk.interaction_payload(2, dk.slash("connect", broker="binance", label="main", client_id=KEY,
                                                 secret=SECRET), guild=False)  # fmt: skip
    with app_logging(tmp_path / "bot.log", "DEBUG") as log:
        calls = await _through_the_gateway(bot, payload)
        text = log.text()
    assert calls  # the command ran and answered
    assert "WebSocket Event" not in text
    _assert_no_key(text)


async def test_slash_options_and_modal_values_never_reach_the_log(bot, dk, tmp_path, monkeypatch):
    monkeypatch.setattr(discord_commands, "MODAL_TIMEOUT_S", None)  # no timeout task to wait on
    with app_logging(tmp_path / "bot.log", "DEBUG", chat_payloads=True) as log:
        # the secret left empty: the bot asks for it in a form
        opened = await _through_the_gateway(
            bot, dk.interaction_payload(2, dk.slash("connect", broker="binance", label="main", client_id=KEY), guild=False)
        )
        [modal] = [c for c in opened if c.path.endswith("/callback")]
        form = modal.json["data"]
        [label] = form["components"]  # a Label (type 18) holding the text input
        field = label["component"]
        submit = {
            "custom_id": form["custom_id"],
            "components": [{"type": 18, "component": {"type": 4, "custom_id": field["custom_id"], "value": SECRET}}],
        }
        answered = await _through_the_gateway(bot, dk.interaction_payload(5, submit, guild=False))
        text = log.text()
    assert modal.json["type"] == 9  # the form was shown
    assert [c for c in answered if c.path.endswith("/callback")]  # and its submission answered
    assert text.count("WebSocket Event") == 2 and "INTERACTION_CREATE" in text
    _assert_no_key(text)


@pytest.mark.parametrize("kind", ["label", "action_row"])
async def test_modal_values_are_masked_in_either_layout(dk, tmp_path, kind):
    """Discord's newer forms wrap each input in a Label component (type 18), older ones in a row."""
    field = {"type": 4, "id": 2, "custom_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "value": f"{KEY}\n{SECRET}"}
    component = {"type": 18, "id": 1, "component": field} if kind == "label" else {"type": 1, "components": [field]}
    payload = dk.interaction_payload(5, {"custom_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "components": [component]})
    ws = DiscordWebSocket(None, loop=asyncio.get_running_loop())  # type: ignore[arg-type]
    ws.shard_id = 0
    ws._discord_parsers = {}
    with app_logging(tmp_path / "bot.log", "DEBUG", chat_payloads=True) as log:
        await ws.received_message(json.dumps({"op": 0, "s": 7, "t": "INTERACTION_CREATE", "d": payload}))
        text = log.text()
    assert "WebSocket Event" in text and "'value': '***'" in text
    _assert_no_key(text)
    assert payload["token"] not in text  # the interaction's token answers for the bot for 15 minutes
