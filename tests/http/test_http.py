"""The HTTP API through a real uvicorn server on a loopback port, on SQLite and PostgreSQL:
tokens made in chat, problem details, scopes, body limits, market info as JSON and as a PNG."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest

from api.server import server
from bots.console.transport import Console
from core.app import Core
from core.config import Settings
from core.market.service import MarketService

TOKEN = re.compile(r"^stx_[A-Za-z0-9_-]{43}$", re.M)


@pytest.fixture
async def api(db, tmp_path):
    """(a console user to make tokens with, an HTTP client to the served app)."""
    settings = Settings(_env_file=None, database_url="sqlite+aiosqlite://", market_offline=True,
                        api_max_body_bytes=4096, api_rate_limit_per_minute=0)  # fmt: skip
    core = Core(settings=settings, db=db, market=MarketService(settings))
    http = server(core, host="127.0.0.1", port=0)
    task = asyncio.create_task(http.serve())
    while not http.started:  # noqa: ASYNC110 - uvicorn says it is listening only through this flag
        await asyncio.sleep(0.01)
    port = http.servers[0].sockets[0].getsockname()[1]
    console = await Console.open(core, tmp_path / "out")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield console, client
    finally:
        http.should_exit = True
        await asyncio.wait_for(task, 10)
        await core.market.close()


async def _token(console, line: str = "/token new t") -> str:
    [secret] = TOKEN.findall((await console.handle(line)).text)
    return secret


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_market_info_as_json_and_as_the_chart(api):
    console, client = api
    headers = _auth(await _token(console))
    answer = await client.post("/v1/market/info", headers=headers,
                               json={"ticker": "BBCA", "interval": "1d", "indicator": "rsi ema:20"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ticker"] == "BBCA" and body["source"] == "YFinance" and body["currency"] == "IDR"
    assert body["sample"] is True and body["bars"] > 20 and body["quote"]["price"] > 0
    assert [i["label"] for i in body["indicators"]] == ["RSI(14)", "EMA(20)"]
    # the same numbers the chat reply shows
    chat = await console.handle("/market BBCA 1d rsi ema:20")
    assert f"{body['quote']['price']:,.0f}" in chat.text

    png = await client.post("/v1/market/info", headers={**headers, "Accept": "image/png"}, json={"ticker": "BBCA"})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n") and len(png.content) > 10_000

    found = await client.get("/v1/market/search", headers=headers, params={"query": "BBC"})
    assert found.status_code == 200 and "BBCA" in [hit["symbol"] for hit in found.json()]


async def test_every_route_refuses_without_a_usable_token(api):
    console, client = api
    revoked = await _token(console, "/token new old")
    await console.handle("/token revoke old")
    for headers in ({}, {"Authorization": "Basic abc"}, _auth("stx_" + "x" * 43), _auth(revoked)):
        for method, path, kwargs in (("POST", "/v1/market/info", {"json": {"ticker": "BBCA"}}),
                                     ("GET", "/v1/market/search", {"params": {"query": "BBCA"}})):  # fmt: skip
            answer = await client.request(method, path, headers=headers, **kwargs)
            assert answer.status_code == 401, (headers, path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert answer.json()["status"] == 401 and "Traceback" not in answer.text
    assert (await client.get("/v1/health")).json() == {"status": "ok"}  # the one route without a token


async def test_errors_are_problem_details_with_the_chat_message(api):
    console, client = api
    headers = _auth(await _token(console))
    unknown = await client.post("/v1/market/info", headers=headers, json={"ticker": "NOPE123"})
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    chat = await console.handle("/market NOPE123")
    assert unknown.json()["detail"] in chat.text

    bad = await client.post("/v1/market/info", headers=headers, json={"ticker": "BBCA", "indicator": "nosuch:3"})
    assert bad.status_code == 422 and "nosuch" in bad.json()["detail"]
    missing = await client.post("/v1/market/info", headers=headers, json={})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "ticker"
    wrong_enum = await client.post("/v1/market/info", headers=headers, json={"ticker": "BBCA", "source": "Nasdaq"})
    assert wrong_enum.status_code == 422 and "source" in wrong_enum.json()["detail"]


async def test_bodies_are_bounded_before_they_are_read_and_deep_json_is_bad_input(api):
    console, client = api
    headers = _auth(await _token(console))
    big = await client.post("/v1/market/info", headers={**headers, "Content-Type": "application/json"},
                            content=b'{"ticker": "' + b"A" * 10_000 + b'"}')  # fmt: skip
    assert big.status_code == 413 and big.json()["title"] == "Content Too Large"

    async def chunks():
        for _ in range(10):
            yield b" " * 1000

    try:  # cut off at the limit: the answer is 413, or the connection closes while the client still sends
        streamed = await client.post("/v1/market/info", headers={**headers, "Content-Type": "application/json"},
                                     content=chunks())  # fmt: skip
        assert streamed.status_code == 413
    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
        pass
    assert (await client.get("/v1/health")).status_code == 200  # and the server goes on

    deep = ("[" * 3000 + "]" * 3000).encode()
    nested = await client.post("/v1/market/info", headers={**headers, "Content-Type": "application/json"},
                               content=deep)  # fmt: skip
    assert nested.status_code in (400, 413, 422) and nested.status_code < 500


async def test_a_tokens_rate_limit_answers_429_with_retry_after(api):
    from api.app import create_app

    console, _client = api
    headers = _auth(await _token(console))
    limited = console.core.settings.model_copy(update={"api_rate_limit_per_minute": 2})
    app = create_app(Core(settings=limited, db=console.core.db, market=console.core.market))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        answers = [await client.get("/v1/market/search", headers=headers, params={"query": "BBCA"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert "too many requests" in json.loads(answers[-1].text)["detail"]
