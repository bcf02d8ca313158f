"""Webhook mode over real HTTP on loopback, a route of the API's server (uvicorn): the secret and the
size are checked before the body is read, and updates reach the running Application."""

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
from tests.http.serving import raw, serving

SECRET = "s3cret-token_value"
PATH = "/telegram/hook"


@pytest.fixture
async def webhook(core, rec, offline):  # noqa: F811
    """The API's server and the Telegram transport in webhook mode, on one core (as ``stoxlify run``)."""
    configure(core, telegram_mode="webhook", telegram_webhook_url=f"https://bot.example.com{PATH}",
              telegram_webhook_secret=SECRET)  # fmt: skip
    async with serving(core) as port:
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
    assert hook.params["allowed_updates"] == ["message", "edited_message", "callback_query", "pre_checkout_query", "my_chat_member", "chat_member"]


async def test_a_request_without_the_secret_is_refused_before_its_body_is_read(webhook):
    # 100 MB announced and only 10 bytes sent: an answer now means none of the rest was awaited
    head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
    assert (await raw(webhook, head, b"x" * 10)).startswith(b"HTTP/1.1 403")
    wrong = head.replace("Host: x", "Host: x\r\nX-Telegram-Bot-Api-Secret-Token: nope")
    assert (await raw(webhook, wrong, b"x" * 10)).startswith(b"HTTP/1.1 403")


async def test_an_oversized_body_is_refused_unread_even_with_the_secret(webhook):
    head = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")  # fmt: skip
    assert (await raw(webhook, head, b"x" * 10)).startswith(b"HTTP/1.1 413")
    chunked = head.replace("Content-Length: 100000000", "Transfer-Encoding: chunked")
    answer = await raw(webhook, chunked, b"%x\r\n" % (1024 * 1024 + 1) + b"x" * 10)  # one chunk over the limit
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


async def test_neither_the_secret_nor_the_update_reaches_the_log(webhook, rec, tmp_path):
    from tests.logcapture import app_logging

    with app_logging(tmp_path / "bot.log", "DEBUG") as log:
        async with httpx.AsyncClient() as client:
            for secret in (SECRET, f"wrong-{SECRET}"):
                await client.post(f"http://127.0.0.1:{webhook}{PATH}", json=message("/help private-words"),
                                  headers={"X-Telegram-Bot-Api-Secret-Token": secret})  # fmt: skip
        await wait_for(lambda: rec.api("sendMessage"))
        text = log.text()
    assert "webhook_request" in text and PATH in text  # each request, by its path
    assert SECRET not in text and "private-words" not in text


async def test_the_webhook_is_not_in_the_api_schema(webhook):
    async with httpx.AsyncClient() as client:
        schema = (await client.get(f"http://127.0.0.1:{webhook}/openapi.json")).json()
    assert PATH not in schema["paths"] and "/v1/health" in schema["paths"]


async def test_updates_before_the_transport_is_up_or_after_it_stopped_are_retried_later(core, rec, offline):  # noqa: F811
    configure(core, telegram_mode="webhook", telegram_webhook_url=f"https://bot.example.com{PATH}",
              telegram_webhook_secret=SECRET)  # fmt: skip
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with serving(core, routes=False) as port, httpx.AsyncClient() as client:
        url = f"http://127.0.0.1:{port}{PATH}"
        assert (await client.post(url, json=message("/help"), headers=headers)).status_code == 503
        stop = asyncio.Event()
        task = asyncio.create_task(tg_app.serve(core, load(), stop))
        await wait_for(lambda: rec.api("setWebhook"))
        assert (await client.post(url, json=message("/help"), headers=headers)).status_code == 200
        await wait_for(lambda: rec.api("sendMessage"))
        stop.set()
        await asyncio.wait_for(task, 5)
        assert (await client.post(url, json=message("/help"), headers=headers)).status_code == 503
        # without API_ENABLED the server holds the webhooks alone: no API route is served
        assert (await client.get(f"http://127.0.0.1:{port}/v1/market/search?query=bank")).status_code == 404


async def test_stoxlify_run_serves_the_webhook_and_the_api_on_the_api_port(tmp_path, rec, offline, monkeypatch):  # noqa: F811
    from bots import runner
    from core.config import Settings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'run.db'}", market_offline=True,
                        telegram_token="123456:SERVE-token", telegram_mode="webhook", telegram_webhook_secret=SECRET,
                        telegram_webhook_url=f"https://bot.example.com{PATH}", api_enabled=True,
                        api_listen="127.0.0.1", api_port=port, jobs_enabled=False)  # fmt: skip
    assert set(runner.configured_transports(settings)) == {"telegram", "api"}
    done = asyncio.Event()

    async def until_done(_core, _registry, stop: asyncio.Event) -> None:
        await done.wait()
        stop.set()

    real = runner.configured_transports
    monkeypatch.setattr(runner, "configured_transports", lambda s: {**real(s), "test": until_done})
    running = asyncio.create_task(runner.run(settings))
    try:
        await wait_for(lambda: rec.api("setWebhook"))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(500):  # the server may still be binding
                try:
                    health = await client.get("/v1/health")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.01)
            assert health.json() == {"status": "ok"}
            answer = await client.post(PATH, json=message("/help"), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert answer.status_code == 200
            await wait_for(lambda: rec.api("sendMessage"))
            assert (await client.get("/v1/market/search?query=bank")).status_code == 401  # the API, behind its tokens
    finally:
        done.set()
        assert await asyncio.wait_for(running, 10) == 0


def test_the_http_server_runs_when_a_webhook_needs_it():
    from bots import runner
    from core.config import Settings

    def names(**values: object) -> set[str]:
        return set(runner.configured_transports(Settings(_env_file=None, **values)))  # type: ignore[arg-type]

    assert names(telegram_token="1:a") == {"telegram"}
    assert names(telegram_token="1:a", telegram_mode="webhook") == {"telegram", "api"}
    assert names(telegram_token="1:a", mayar_webhook_enabled=True, mayar_webhook_token="t" * 20) == {"telegram", "api"}
    assert names(api_enabled=True) == {"api"}
