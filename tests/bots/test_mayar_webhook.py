"""The Mayar webhook under attack: no token, floods, junk, deep JSON, forged events; a route of the API's
server (uvicorn on loopback)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from api.app import create_app
from core.app import Core
from core.db import utcnow
from core.errors import Invalid
from core.market.service import MarketService
from core.purchase import service as purchases
from core.purchase.models import PaymentEvent
from jobs.payments import refresh_pending
from tests.core.purchase.conftest import mayar  # noqa: F401  (the local Mayar stub fixture)
from tests.core.purchase.helpers import shop
from tests.core.purchase.test_mayar import NOW, mayar_settings, webhook
from tests.http.serving import raw, serving
from tests.logcapture import app_logging

TOKEN = "webhook-token-0123456789"


async def _events(db) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(PaymentEvent)) or 0


def _readbacks(stub) -> int:
    return sum(1 for r in stub.requests if r.method == "GET")


async def _served(db, config) -> AsyncIterator[str]:
    core = Core(config, db, MarketService(config))
    async with serving(core) as port:
        yield f"http://127.0.0.1:{port}{config.mayar_webhook_path}"


async def test_the_receiver_refuses_to_start_without_a_token(db, mayar):  # noqa: F811
    config = mayar_settings(mayar, mayar_webhook_enabled=True)
    with pytest.raises(Invalid, match="MAYAR_WEBHOOK_TOKEN"):
        create_app(Core(config, db, MarketService(config)))


async def test_strangers_and_oversized_bodies_are_refused_before_the_body_is_read(db, mayar):  # noqa: F811
    config = mayar_settings(mayar, mayar_webhook_enabled=True, mayar_webhook_token=TOKEN)
    async for url in _served(db, config):
        port = int(url.split(":")[2].split("/")[0])
        path = config.mayar_webhook_path
        # 100 MB announced, 10 bytes sent: the answer comes at once, nothing more is awaited
        no_token = await raw(port, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n", b"x" * 10)
        assert no_token.startswith(b"HTTP/1.1 403")
        too_big = await raw(port, f"POST {path}?token={TOKEN} HTTP/1.1\r\nHost: x\r\n"
                                   "Content-Length: 100000000\r\n\r\n", b"x" * 10)  # fmt: skip
        assert too_big.startswith(b"HTTP/1.1 413")
        async with httpx.AsyncClient() as client:
            over = await client.post(f"{url}?token={TOKEN}", content=b" " * (64 * 1024 + 1))
            assert over.status_code == 413
    assert await _events(db) == 0


async def test_the_token_and_query_string_never_reach_the_log(db, mayar, tmp_path):  # noqa: F811
    config = mayar_settings(mayar, mayar_webhook_enabled=True, mayar_webhook_token=TOKEN)
    with app_logging(tmp_path / "bot.log", "DEBUG") as log:
        async for url in _served(db, config):
            async with httpx.AsyncClient() as client:
                assert (await client.post(f"{url}?token={TOKEN}", content=b"{not json")).status_code == 400
                assert (await client.post(f"{url}?token=wrong-{TOKEN}", json={})).status_code == 403
        text = log.text()
    assert "webhook_request" in text and config.mayar_webhook_path in text  # the access log, by path
    assert TOKEN not in text and "token=" not in text


@pytest.mark.parametrize("depth", [40, 50_000])
async def test_deeply_nested_json_is_a_bad_request(db, mayar, depth):  # noqa: F811
    config = mayar_settings(mayar, mayar_webhook_enabled=True, mayar_webhook_token=TOKEN, mayar_webhook_max_bytes=128 * 1024)
    nested = b"[" * depth + b"]" * depth
    async for url in _served(db, config):
        async with httpx.AsyncClient() as client:
            answer = await client.post(f"{url}?token={TOKEN}", content=nested)
    assert (answer.status_code, answer.json()) == (400, {"ok": False, "error": "JSON nested too deeply"})


async def test_only_events_about_our_invoices_are_stored(db, mayar):  # noqa: F811
    config = mayar_settings(mayar, mayar_webhook_enabled=True, mayar_webhook_token=TOKEN)
    s = await shop(db, config)
    await purchases.purchase(db, config, s.buyer, [purchases.Item(s.plans["Pro"].id)], now=NOW)
    invoice = mayar.only_invoice()
    async for url in _served(db, config):
        async with httpx.AsyncClient() as client:
            for n in range(20):  # junk about invoices we never created
                junk = webhook(invoice)
                junk["data"].update(transactionId=f"t{n}", id=f"t{n}", productId=f"p{n}", filler="x" * 30_000)
                assert (await client.post(f"{url}?token={TOKEN}", json=junk)).status_code == 200
            ours = await client.post(f"{url}?token={TOKEN}", json=webhook(invoice))
            assert ours.status_code == 200
    assert await _events(db) == 1 and _readbacks(mayar) == 1


async def test_read_backs_are_rate_limited_per_invoice_and_overall(db, mayar):  # noqa: F811
    config = mayar_settings(mayar, mayar_webhook_enabled=True, mayar_webhook_token=TOKEN, mayar_readbacks_per_invoice_per_minute=1,
                            mayar_readbacks_per_minute=2)  # fmt: skip
    s = await shop(db, config)
    for plan in ("Basic", "Pro", "Elite"):
        await purchases.purchase(db, config, s.buyer, [purchases.Item(s.plans[plan].id)], now=NOW)
    invoices = list(mayar.invoices.values())
    async for url in _served(db, config):
        async with httpx.AsyncClient() as client:
            answers = [
                (await client.post(f"{url}?token={TOKEN}", json=webhook(invoices[0], status=f"forged{n}"))).status_code
                for n in range(5)
            ]  # fmt: skip
            assert answers == [200, 429, 429, 429, 429]
            limited = await client.post(f"{url}?token={TOKEN}", json=webhook(invoices[0], status="forged-again"))
            assert (limited.status_code, limited.headers["retry-after"]) == (429, "60")
            assert (await client.post(f"{url}?token={TOKEN}", json=webhook(invoices[1]))).status_code == 200
            assert (await client.post(f"{url}?token={TOKEN}", json=webhook(invoices[2]))).status_code == 429
    assert _readbacks(mayar) == 2
    async with db.session() as session:
        deferred = (await session.scalars(select(PaymentEvent.outcome).where(PaymentEvent.processed_at.is_(None)))).all()
    assert len(deferred) == 6 and set(deferred) == {"read-back deferred: too many read-backs now"}


async def test_stored_events_expire_after_the_retention(db, mayar):  # noqa: F811
    config = mayar_settings(mayar, payment_event_retention_days=30)
    now = utcnow()
    async with db.session() as session:
        for age in (31, 29):
            session.add(PaymentEvent(provider="Mayar", event_key=f"k{age}", event="payment.received",
                                     payload=json.loads('{"a": 1}'), received_at=now - timedelta(days=age)))  # fmt: skip
    await refresh_pending(Core(config, db, MarketService(config)), now=now)
    async with db.session() as session:
        assert (await session.scalars(select(PaymentEvent.event_key))).all() == ["k29"]
