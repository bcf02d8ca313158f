"""The HTTP API through a real uvicorn server on a loopback port, on SQLite and PostgreSQL:
tokens made in chat, problem details, scopes, body limits, market info as JSON and as a PNG."""

from __future__ import annotations

import json
import re

import httpx

from bots.console.transport import Console
from core.app import Core

TOKEN = re.compile(r"^stx_[A-Za-z0-9_-]{43}$", re.M)


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


async def test_dictionaries_broker_summary_and_contact_answer_as_chat_does(api):
    console, client = api
    headers = _auth(await _token(console))
    categories = (await client.get("/v1/dictionaries", headers=headers)).json()
    assert "indicator" in [c["label"] for c in categories]
    rsi = (await client.get("/v1/dictionaries", headers=headers, params={"category": "indicator", "label": "rsi"})).json()
    assert rsi[0]["label"].lower().startswith("rsi") and rsi[0]["summary"] in (await console.handle("/dict indicator rsi")).text
    unknown = await client.get("/v1/dictionaries", headers=headers, params={"category": "nope"})
    assert unknown.status_code in (404, 422) and unknown.json()["detail"]

    summary = await client.get("/v1/bandarmology/summary", headers=headers, params={"ticker": "BBCA"})
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert body["ticker"] == "BBCA" and body["sample"] is True and body["buyers"] and body["verdict"]
    assert f"Verdict: {body['verdict']} (" in (await console.handle("/bandar BBCA")).text

    sent = await client.post("/v1/contact", headers=headers,
                             json={"name": "Ana", "email": "ana@example.com", "message": "the chart has no volume"})  # fmt: skip
    assert sent.status_code == 200 and sent.json()["id"] > 0
    from core.contact.models import ContactMessage

    async with console.core.db.session() as session:
        row = await session.get(ContactMessage, sent.json()["id"])
    assert row.user_id == console.actor.user_id and row.name == "Ana" and "ana@example.com" in row.text


CROSS = "f = ema(close, input(\"fast\", 5))\ns = ema(close, 20)\nbuy = crossover(f, s)\nsell = crossunder(f, s)\n"


async def test_save_load_execute_deploy_and_stop_a_model_as_the_chat_would(api):
    console, client = api
    reader, trader = _auth(await _token(console, "/token new r")), _auth(await _token(console, "/token new t trade"))
    body = {"label": "cross", "description": "EMA cross", "script": {"source": CROSS, "inputs": {"fast": 8}}}
    refused = await client.post("/v1/models", headers=reader, json=body)
    assert refused.status_code == 403 and "trade token" in refused.json()["detail"]  # reading never writes
    saved = await client.post("/v1/models", headers=trader, json=body)
    assert saved.status_code == 200 and saved.json()["created"] is True
    model = saved.json()["model"]
    assert model["kind"] == "long-only" and model["script"]["inputs"] == {"fast": 8}
    assert "cross" in (await console.handle("/models")).text  # the chat sees what HTTP saved

    listed = (await client.get("/v1/models", headers=reader)).json()
    assert [m["label"] for m in listed["items"]] == ["cross"] and listed["total"] == 1
    by_id = await client.get(f"/v1/models/{model['id']}", headers=reader)
    assert by_id.json()["label"] == "cross" and (await client.get("/v1/models/cross", headers=reader)).status_code == 200

    ran = await client.post("/v1/scripts/execute", headers=reader,
                            json={"model_id": "cross", "ticker": "BBCA", "interval": "1d", "range": "1y"})  # fmt: skip
    assert ran.status_code == 200, ran.text
    figures = ran.json()
    assert figures["inputs"]["fast"] == 8 and not figures["is_indicator"] and "Return [%]" in figures["stats"]
    chat = await console.handle("/run cross BBCA 1d 1y")
    assert f"Return {figures['stats']['Return [%]']:+.2f} %" in chat.text  # the same run as /run's
    assert f"Trades {figures['stats']['# Trades']} " in chat.text
    inline = await client.post("/v1/scripts/execute", headers=reader,
                               json={"script": {"source": "plot(rsi(close, 14), \"rsi\")\n"}, "ticker": "BBCA"})  # fmt: skip
    assert inline.status_code == 200 and inline.json()["is_indicator"] is True
    broken = await client.post("/v1/scripts/execute", headers=reader,
                               json={"script": {"source": "buy = close >\n"}, "ticker": "BBCA"})  # fmt: skip
    assert broken.status_code == 422 and "line 1" in broken.json()["detail"]

    deployed = await client.post("/v1/deployments", headers=trader,
                                 json={"model_id": str(model["id"]), "ticker": "BTCUSDT", "interval": "1h"})  # fmt: skip
    assert deployed.status_code == 200, deployed.text
    task = deployed.json()
    assert task["paper"] is True and task["timing"] == "OnTime" and task["status"] in ("TaskPending", "NoPosition")
    assert f"#{task['task_id']} cross" in (await console.handle("/deployments")).text
    page = (await client.get("/v1/deployments", headers=reader, params={"ticker": "btcusdt"})).json()
    assert [d["task_id"] for d in page["items"]] == [task["task_id"]]
    assert (await client.get("/v1/deployments", headers=reader, params={"ticker": "ETHUSDT"})).json()["items"] == []

    paused = await client.put("/v1/deployments/status", headers=trader, json={"task_id": str(task["task_id"]),
                                                                            "status": "Paused"})  # fmt: skip
    assert paused.status_code == 200 and paused.json()["status"] == "Paused"
    again = await client.put("/v1/deployments/status", headers=trader, json={"task_id": str(task["task_id"]),
                                                                           "status": "Paused"})  # fmt: skip
    assert again.status_code == 409 and "already paused" in again.json()["detail"]
    odd = await client.put("/v1/deployments/status", headers=trader, json={"task_id": str(task["task_id"]),
                                                                         "status": "TaskDone"})  # fmt: skip
    assert odd.status_code == 422
    gone = await client.delete(f"/v1/deployments/{task['task_id']}", headers=trader)
    assert gone.status_code == 200
    assert (await client.delete(f"/v1/deployments/{task['task_id']}", headers=trader)).status_code == 404
    assert (await client.delete("/v1/models/cross", headers=trader)).status_code == 200
    assert (await client.get("/v1/models/cross", headers=reader)).status_code == 404


async def test_one_user_never_sees_anothers_objects(api):
    console, client = api
    alice = _auth(await _token(console, "/token new a trade"))
    body = {"label": "secret-model", "script": {"source": CROSS}}
    model = (await client.post("/v1/models", headers=alice, json=body)).json()["model"]
    task = (await client.post("/v1/deployments", headers=alice, json={"model_id": "secret-model", "ticker": "BTCUSDT",
                                                                      "interval": "1h"})).json()  # fmt: skip
    from core.account.service import actor_for

    bob_actor = await actor_for(console.core.db, platform="console", external_id="bob", display_name="Bob")
    bob = _auth(await _token(Console(console.core, bob_actor, console.out_dir, console.registry), "/token new b trade"))
    for method, path in (("GET", f"/v1/models/{model['id']}"), ("GET", "/v1/models/secret-model"),
                         ("DELETE", f"/v1/models/{model['id']}"), ("DELETE", f"/v1/deployments/{task['task_id']}")):  # fmt: skip
        answer = await client.request(method, path, headers=bob)
        assert answer.status_code == 404, (method, path, answer.text)  # as if it did not exist: nothing leaks
    assert (await client.get("/v1/models", headers=bob)).json()["items"] == []
    assert (await client.get("/v1/deployments", headers=bob)).json()["items"] == []
    assert (await client.get("/v1/models/secret-model", headers=alice)).status_code == 200  # still there


async def test_strategies_rules_simulation_trades_and_dashboard(api):
    console, client = api
    reader, trader = _auth(await _token(console, "/token new r")), _auth(await _token(console, "/token new t trade"))
    made = await client.post("/v1/strategies", headers=trader, json={"label": "dip", "analytic": "Technical"})
    assert made.status_code == 200 and made.json()["analytic"] == "Technical" and made.json()["rules"] == []
    bad = await client.post("/v1/strategies/rules", headers=trader, json={
        "strategy_id": "dip", "rules": [{"action": "buy", "condition": "rsi(close, 14) < 30"},
                                        {"action": "sell", "condition": "rsi(close, 14) >"}]})  # fmt: skip
    assert bad.status_code == 422 and (await client.get("/v1/strategies/rules", headers=reader,
                                                        params={"strategy_id": "dip"})).json()["total"] == 0  # none added
    added = await client.post("/v1/strategies/rules", headers=trader, json={
        "strategy_id": str(made.json()["strategy_id"]),
        "rules": [{"action": "buy", "condition": "rsi(close, 14) < 30"},
                  {"action": "sell", "condition": "rsi(close, 14) > 70"}]})  # fmt: skip
    assert added.status_code == 200, added.text
    rules = (await client.get("/v1/strategies/rules", headers=reader, params={"strategy_id": "dip"})).json()
    assert [(r["number"], r["action"]) for r in rules["items"]] == [(1, "buy"), (2, "sell")]
    assert "rsi(close, 14) < 30" in (await console.handle("/strategy show dip")).text  # the chat sees them

    simulated = await client.post("/v1/simulations", headers=reader,
                                  json={"strategy_id": "dip", "ticker": "BBCA", "range": "1y"})  # fmt: skip
    assert simulated.status_code == 200, simulated.text
    chat = await console.handle("/simulate dip BBCA 1d 1y")
    assert f"Trades {simulated.json()['stats']['# Trades']} " in chat.text

    gone = await client.delete("/v1/strategies/rules", headers=trader, params={"rule_id": rules["items"][0]["rule_id"]})
    assert gone.status_code == 200 and [r["action"] for r in gone.json()["rules"]] == ["sell"]
    assert (await client.delete("/v1/strategies/rules", headers=trader,
                                params={"rule_id": rules["items"][0]["rule_id"]})).status_code == 404  # fmt: skip
    assert (await client.delete("/v1/strategies", headers=trader, params={"strategy_id": "dip"})).status_code == 200

    trades = await client.get("/v1/trades", headers=reader, params={"from": "2026-01-01T00:00:00Z"})
    assert trades.status_code == 200 and trades.json() == {"items": [], "page": 1, "limit": 10, "total": 0}
    naive = await client.get("/v1/trades", headers=reader, params={"from": "2026-01-01T00:00:00"})
    assert naive.status_code == 422
    board = await client.get("/v1/dashboard", headers=reader, params={"range": "Month"})
    assert board.status_code == 200 and board.json()["range"] == "Month" and board.json()["closed"] == 0
    assert board.json()["equity"] == []  # nothing traded or held: no curve
    assert (await client.get("/v1/dashboard", headers=reader, params={"range": "Year"})).status_code == 422


async def test_market_monitoring_status_is_the_watchlist(api):
    console, client = api
    headers = _auth(await _token(console))
    await console.handle("/watch BBCA rsi<101")
    await console.handle("/watch BTCUSDT")
    status = await client.get("/v1/market/monitoring", headers=headers)
    assert status.status_code == 200, status.text
    found = status.json()["list"]
    assert sorted(found) == ["BBCA", "BTCUSDT"]
    [rsi] = found["BBCA"]
    assert rsi["condition"].startswith("rsi") and rsi["met"] is True and 0 <= rsi["value"] <= 100 and rsi["price"] > 0
    assert found["BTCUSDT"][0]["condition"] == "" and found["BTCUSDT"][0]["met"] is None


async def test_a_token_revoked_while_in_use_stops_at_once(api):
    console, client = api
    secret = await _token(console, "/token new busy")
    for _ in range(3):  # in use: the server remembers it for a moment
        assert (await client.get("/v1/dictionaries", headers=_auth(secret))).status_code == 200
    await console.handle("/token revoke busy")
    assert (await client.get("/v1/dictionaries", headers=_auth(secret))).status_code == 401


async def test_dashboard_reports_equity_with_the_open_position_marked_to_market(api):
    from datetime import timedelta

    from core.db import utcnow
    from tests.core.statistic.trade_rows import add_deployment, add_trade

    console, client = api
    db, user_id = console.core.db, console.actor.user_id
    held = await add_deployment(db, user_id, "ema_cross", ticker="BBCA", status="OpenPosition", position_qty=100,
                                entry_price=8500)  # fmt: skip
    await add_trade(db, user_id, at=utcnow() - timedelta(hours=2), side="buy", qty=100, price=8500, fee=850.0,
                    deployment_id=held)  # fmt: skip
    last = (await console.core.market.candles("BBCA")).last_close
    board = await client.get("/v1/dashboard", headers=_auth(await _token(console, "/token new r")),
                             params={"range": "Day"})  # fmt: skip
    assert board.status_code == 200, board.text
    [idr] = board.json()["equity"]
    unrealised = 100 * (last - 8500) - 850  # as /positions values it
    assert idr["currency"] == "IDR" and idr["unrealised"] == unrealised and idr["equity"] == unrealised
    assert idr["unpriced_positions"] == 0 and idr["max_drawdown"] <= 0
