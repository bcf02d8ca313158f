"""Webhook mode over real HTTP on loopback: the secret and the size are checked before the body is read."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import pytest

from bots.commands import load
from bots.telegram import app as tg_app
from tests.bots.telegram.conftest import message
from tests.bots.telegram.test_serve import configure, offline, wait_for  # noqa: F401  (offline is a fixture)

SECRET = "s3cret-token_value"
PATH = "/telegram/hook"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _raw(port: int, head: str, body: bytes = b"") -> bytes:
    """Send a request head and the start of a body; the server's whole answer (it closes after it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode() + body)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


@pytest.fixture
async def webhook(core, rec, offline):  # noqa: F811
    port = _free_port()
    configure(core, telegram_mode="webhook", telegram_webhook_url=f"https://bot.example.com{PATH}",
              telegram_webhook_secret=SECRET, telegram_webhook_listen="127.0.0.1", telegram_webhook_port=port)  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(tg_app.serve(core, load(), stop))
    await wait_for(lambda: rec.api("setWebhook"))
    try:
        yield port
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_telegram_is_told_the_url_and_secret(webhook, rec):
    (hook,) = rec.api("setWebhook")
    assert hook.params["url"] == f"https://bot.example.com{PATH}"
    assert hook.params["secret_token"] == SECRET
    assert hook.params["allowed_updates"] == ["message", "edited_message", "callback_query", "my_chat_member", "chat_member"]


async def test_a_request_without_the_secret_is_refused_before_its_body_is_read(webhook):
    # 100 MB announced and only 10 bytes sent: an answer now means none of the rest was awaited
    head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
    assert (await _raw(webhook, head, b"x" * 10)).startswith(b"HTTP/1.1 403")
    wrong = head.replace("Host: x", "Host: x\r\nX-Telegram-Bot-Api-Secret-Token: nope")
    assert (await _raw(webhook, wrong, b"x" * 10)).startswith(b"HTTP/1.1 403")


async def test_an_oversized_body_is_refused_unread_even_with_the_secret(webhook):
    head = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")  # fmt: skip
    assert (await _raw(webhook, head, b"x" * 10)).startswith(b"HTTP/1.1 413")
    chunked = head.replace("Content-Length: 100000000", "Transfer-Encoding: chunked")
    answer = await _raw(webhook, chunked, b"%x\r\n" % (1024 * 1024 + 1) + b"x" * 10)  # one chunk over the limit
    assert answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 413"))  # refused before the chunk is read


@pytest.mark.parametrize("body", [b"[" * 50_000 + b"]" * 50_000, b"[" * 40 + b"]" * 40, b"{not json", b"[1]"])
async def test_malformed_or_deeply_nested_json_is_a_bad_request(webhook, body):
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"http://127.0.0.1:{webhook}{PATH}", content=body,
                                   headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})  # fmt: skip
    assert answer.status_code == 400


async def test_an_update_with_the_secret_is_answered(webhook, rec):
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"http://127.0.0.1:{webhook}{PATH}", content=json.dumps(message("/help")),
                                   headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})  # fmt: skip
    assert answer.status_code == 200
    await wait_for(lambda: rec.api("sendMessage"))
    assert "Stoxlify commands" in rec.api("sendMessage")[0].params["text"]
