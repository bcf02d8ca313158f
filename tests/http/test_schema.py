"""Schemathesis against the app's own OpenAPI document, through the real uvicorn server (the
``api`` fixture), on SQLite and PostgreSQL: for every operation, generated requests (valid ones and
ones that break the schema) never get a 5xx, and every answer is one the document declares: its
status code, its content type, its body's schema. Generated requests seldom name what exists (a
model, a deployment), so a second test walks every operation's success too, each answer checked
the same way.

The run is bounded and repeatable: schemathesis' coverage phase (each field's boundaries and the
ways to break them, a fixed set), then a few generated examples per operation and mode
(``FUZZ_EXAMPLES``, 8 by default; more for a longer hunt), all derandomized, with no example
database. Hypothesis runs in a worker thread and calls the server over the loopback with a
blocking client, while the server (and the database it shares with the test) stays on the test's
event loop.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests
import schemathesis
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from PIL import Image
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.hypothesis.builder import (  # its pytest plugin's builder: the coverage phase
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.broker import exchanges
from core.broker.exchanges import Verification

TOKEN = re.compile(r"^stx_[A-Za-z0-9_-]{43}$", re.M)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]  # fmt: skip
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))  # per operation and mode
# Run last: deleting the account ends the token, so any operation after it could only answer 401.
LAST = ("DELETE", "/v1/account")


@pytest.fixture
def no_exchange(monkeypatch):
    """Connect Broker checks a key with the exchange: accept any without the network."""

    class FakeExchange:
        async def close(self) -> None:
            pass

    async def verify(self: Any) -> Verification:
        return Verification(can_withdraw=False, can_trade=True)

    monkeypatch.setattr(exchanges, "new_exchange", lambda broker, keys, settings: FakeExchange())
    monkeypatch.setattr(exchanges.ExchangeBroker, "verify", verify)


def _fuzz(operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str]) -> None:
    """Up to ``EXAMPLES`` requests to one operation, each answer checked; the first failure raises."""
    session = requests.Session()

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), print_blob=False)  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=CHECKS)

    try:
        run()
    finally:
        session.close()


def _cover(operation: Any, base_url: str, headers: dict[str, str]) -> None:
    """Schemathesis' coverage phase for one operation: each parameter's and field's boundary values and
    each way to break them (missing, wrong type, out of range), every answer checked."""
    session = requests.Session()

    def run(case: Any) -> None:
        case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=CHECKS)

    test = create_test(operation=operation, test_func=run, config=HypothesisTestConfig(
        project=operation.schema.config, modes=[HypothesisTestMode.COVERAGE],
        settings=settings(derandomize=True, database=None, deadline=None, phases=[Phase.explicit],
                          suppress_health_check=list(HealthCheck), print_blob=False)))  # fmt: skip
    try:
        test()
    finally:
        session.close()


def _fuzz_all(schema: Any, base_url: str, headers: dict[str, str]) -> list[str]:
    """Every operation's coverage and fuzzing runs; what each that failed found."""
    operations = [found.ok() for found in schema.get_all_operations()]
    operations.sort(key=lambda op: (op.method.upper(), op.path) == LAST)
    failures: list[str] = []
    for operation in operations:
        # valid requests last: Delete User Account's end the token, so its bad ones go while it still works
        runs: list[tuple[str, Callable[[], None]]] = [
            ("coverage", lambda op=operation: _cover(op, base_url, headers)),
            ("negative", lambda op=operation: _fuzz(op, GenerationMode.NEGATIVE, base_url, headers)),
            ("positive", lambda op=operation: _fuzz(op, GenerationMode.POSITIVE, base_url, headers)),
        ]  # fmt: skip
        for name, run in runs:
            try:
                run()
            except Unsatisfiable:  # nothing of it can break the schema (no parameters, or only free text)
                assert name == "negative", operation.label
            except (Exception, FailureGroup) as exc:  # every operation's failure, not only the first
                failures.append(f"{operation.method.upper()} {operation.path} ({name}): {exc}")
    return failures


async def test_every_operation_answers_as_the_openapi_document_says(api, no_exchange):
    """With an admin token (so Create and Delete Products are reached) and exchange keys accepted."""
    console, client = api
    core = console.core
    core.settings = core.settings.model_copy(update={
        "admin_ids": [f"console:{console.actor.platform_user_id}"],
        "broker_master_keys": [SecretStr(Fernet.generate_key().decode())]})  # fmt: skip
    [secret] = TOKEN.findall((await console.handle("/token new fuzz admin")).text)
    document = (await client.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    failures = await asyncio.to_thread(_fuzz_all, schema, str(client.base_url), {"Authorization": f"Bearer {secret}"})
    assert not failures, "\n\n".join(failures)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "PNG")
    return out.getvalue()


async def test_every_operations_success_answers_as_the_openapi_document_says(api, no_exchange):
    """Each operation once with input that works, in an order that makes what the next one needs."""
    console, client = api
    core = console.core
    core.settings = core.settings.model_copy(update={
        "admin_ids": [f"console:{console.actor.platform_user_id}"],
        "broker_master_keys": [SecretStr(Fernet.generate_key().decode())]})  # fmt: skip
    [secret] = TOKEN.findall((await console.handle("/token new walk admin")).text)
    auth = {"Authorization": f"Bearer {secret}"}
    assert "BBCA" in (await console.handle("/watch BBCA price > 1000")).text
    schema = schemathesis.openapi.from_dict((await client.get("/openapi.json")).json())
    seen: set[str] = set()

    async def call(method: str, path: str, *, path_parameters: dict[str, Any] | None = None,
                   query: dict[str, Any] | None = None, body: Any = None, png: bool = False) -> Any:  # fmt: skip
        operation = schema[path][method]
        headers = {**auth, "Accept": "image/png"} if png else auth
        case = operation.Case(path_parameters=path_parameters, query=query, headers=headers,
                              **({"body": body} if body is not None else {}))  # fmt: skip
        url = path.format(**(path_parameters or {}))
        answer = await client.request(method, url, params=query, headers=headers,
                                      json=body if body is not None else None)  # fmt: skip
        assert 200 <= answer.status_code < 300, (method, path, answer.text)
        case.validate_response(answer, checks=CHECKS)
        seen.add(f"{method} {path}")
        return None if png or not answer.headers["content-type"].startswith("application/json") else answer.json()

    await call("GET", "/v1/health")
    await call("GET", "/v1/account")
    assert (await call("PUT", "/v1/account", body={"name": "Ana", "email": "ana@example.com"}))["name"] == "Ana"
    await call("GET", "/v1/market/search", query={"query": "BBC"})
    await call("POST", "/v1/market/info", body={"ticker": "BBCA", "indicator": "rsi ema:20"})
    await call("POST", "/v1/market/info", body={"ticker": "BBCA"}, png=True)
    assert (await call("GET", "/v1/market/monitoring"))["list"]["BBCA"]
    await call("GET", "/v1/dictionaries")
    await call("GET", "/v1/dictionaries", query={"category": "indicator", "label": "rsi"})
    await call("GET", "/v1/bandarmology/summary", query={"ticker": "BBCA"})
    await call("POST", "/v1/contact", body={"message": "hello"})

    script = "buy = crossover(ema(close, 5), ema(close, 20))\nsell = crossunder(ema(close, 5), ema(close, 20))"
    await call("POST", "/v1/models", body={"label": "cross", "script": {"source": script}})
    await call("GET", "/v1/models")
    await call("GET", "/v1/models/{model_id}", path_parameters={"model_id": "cross"})
    await call("POST", "/v1/scripts/execute", body={"model_id": "cross", "ticker": "BTCUSDT", "interval": "1h"})
    await call("POST", "/v1/scripts/execute", body={"model_id": "cross", "ticker": "BTCUSDT"}, png=True)
    task = (await call("POST", "/v1/deployments", body={"model_id": "cross", "ticker": "BTCUSDT", "interval": "1h"}))
    await call("GET", "/v1/deployments")
    await call("PUT", "/v1/deployments/status", body={"task_id": str(task["task_id"]), "status": "Paused"})
    await call("DELETE", "/v1/deployments/{task_id}", path_parameters={"task_id": str(task["task_id"])})
    await call("DELETE", "/v1/models/{model_id}", path_parameters={"model_id": "cross"})

    await call("POST", "/v1/strategies", body={"label": "dip"})
    rules = [{"action": "buy", "condition": "rsi(close, 14) < 30"}, {"action": "sell", "condition": "rsi(close, 14) > 70"}]
    await call("POST", "/v1/strategies/rules", body={"strategy_id": "dip", "rules": rules})
    await call("GET", "/v1/strategies")
    rule = (await call("GET", "/v1/strategies/rules", query={"strategy_id": "dip"}))["items"][0]
    await call("POST", "/v1/simulations", body={"strategy_id": "dip", "ticker": "BBCA"})
    await call("POST", "/v1/simulations", body={"strategy_id": "dip", "ticker": "BBCA"}, png=True)
    await call("DELETE", "/v1/strategies/rules", query={"rule_id": rule["rule_id"]})
    await call("DELETE", "/v1/strategies", query={"strategy_id": "dip"})
    await call("GET", "/v1/trades")
    await call("GET", "/v1/dashboard", query={"range": "Month"})

    for name, data in (("logo.png", _png()), ("note.txt", b"hello BBCA")):
        media = await call("POST", "/v1/media", body={"content": base64.b64encode(data).decode(), "name": name})
        where = {"path_parameters": {"name": media["name"]}, "query": {"media_id": str(media["media_id"])}}
        await call("GET", "/v1/media/{name}", **where)
        await call("DELETE", "/v1/media/{name}", **where)

    key = {"label": "main", "client_id": "k" * 64, "client_secret": "s" * 64, "broker": "Binance"}
    await call("POST", "/v1/brokers/credentials", body=key)
    await call("GET", "/v1/brokers/credentials")
    await call("DELETE", "/v1/brokers/credentials", query={"client_id": "main"})

    plan = {"category": "Subscription", "name": "Pro", "price": 149000, "duration_days": 30}
    [product] = await call("POST", "/v1/products", body={"products": [plan]})
    await call("GET", "/v1/products")
    order = {"products": [{"product_id": product["product_id"]}]}
    await call("POST", "/v1/purchases/precalculate", body=order)
    await call("POST", "/v1/purchases", body=order)
    await call("GET", "/v1/purchases")
    await call("DELETE", "/v1/products", query={"product_ids": [product["product_id"]]})
    async with client.stream("GET", "/v1/alerts/stream", headers=auth) as live:  # never ends: its opening only
        assert live.status_code == 200 and live.headers["content-type"].startswith("text/event-stream")
        assert await anext(live.aiter_lines()) == ": stream open"
        seen.add("GET /v1/alerts/stream")
    await call("DELETE", "/v1/account", query={"confirm": True})
    assert seen == {f"{op.method.upper()} {op.path}" for op in (found.ok() for found in schema.get_all_operations())}
