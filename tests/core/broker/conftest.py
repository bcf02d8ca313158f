"""Broker test fixtures: settings with a master key, users, and ccxt exchanges with a fake HTTP layer.

``FakeHTTP`` replaces one ccxt exchange instance's ``fetch`` (the method every REST call goes
through after ccxt has built and signed it): it records the method, path, and the parameters
from the query string and the body, and answers from routes registered by (method, path suffix).
Error answers go through the exchange's own ``handle_errors``, so ccxt maps them to its
exception classes as it would for the real exchange.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.fernet import Fernet

from core.account.service import actor_for
from core.actor import Actor
from core.config import Settings

Answer = tuple[int, Any] | Exception
Route = Callable[[dict[str, str]], Answer]


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeHTTP:
    exchange: Any
    routes: dict[tuple[str, str], Route | Answer] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def on(self, method: str, path: str, answer: Route | Answer) -> None:
        self.routes[(method, path)] = answer

    def paths(self) -> list[str]:
        return [f"{c.method} {c.path}" for c in self.calls]

    def last(self, method: str, suffix: str) -> Call:
        found = [c for c in self.calls if c.method == method and c.path.endswith(suffix)]
        assert found, f"no {method} {suffix} among {self.paths()}"
        return found[-1]

    async def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if body:
            text = body.decode() if isinstance(body, bytes) else str(body)
            try:
                decoded = json.loads(text)
            except ValueError:
                decoded = dict(parse_qsl(text, keep_blank_values=True))
            if isinstance(decoded, list) and decoded and isinstance(decoded[0], dict):
                decoded = decoded[0]  # OKX sends one order as a batch of one
            if isinstance(decoded, dict):
                params.update({k: _text(v) for k, v in decoded.items()})
        self.calls.append(Call(method, parts.path, params, dict(headers or {})))
        for (m, suffix), answer in self.routes.items():
            if m == method and parts.path.endswith(suffix):
                result = answer(params) if callable(answer) else answer
                if isinstance(result, Exception):
                    raise result
                status, payload = result
                return self._answer(url, method, status, payload)
        return self._answer(url, method, 404, {"code": -1, "msg": f"no route for {method} {parts.path}"})

    def _answer(self, url: str, method: str, status: int, payload: Any) -> Any:
        body = json.dumps(payload)
        reason = "OK" if status < 400 else "Bad Request"
        self.exchange.handle_errors(status, reason, url, method, {}, body, payload, {}, None)
        self.exchange.handle_http_status_code(status, reason, url, method, body)
        return payload


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)


def spot_market(symbol: str, market_id: str, *, step: float = 1e-5, min_amount: float = 1e-5,
                min_cost: float | None = 5.0, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ccxt unified spot market, for exchanges whose market list is not loaded from a recording."""
    base, quote = symbol.split("/")
    return {
        "id": market_id, "symbol": symbol, "base": base, "quote": quote, "baseId": base, "quoteId": quote,
        "settle": None, "settleId": None, "type": "spot", "spot": True, "margin": False, "swap": False,
        "future": False, "option": False, "contract": False, "linear": None, "inverse": None, "active": True,
        "contractSize": None, "expiry": None, "expiryDatetime": None, "strike": None, "optionType": None,
        "taker": 0.001, "maker": 0.001, "percentage": True, "tierBased": False,
        "precision": {"amount": step, "price": 0.01},
        "limits": {"amount": {"min": min_amount, "max": None}, "price": {"min": None, "max": None},
                   "cost": {"min": min_cost, "max": None}, "leverage": {"min": None, "max": None}},
        "info": info or {}, "created": None,
    }  # fmt: skip


@pytest.fixture
def master_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def settings(master_key: str) -> Settings:
    return Settings(
        _env_file=None,
        broker_master_keys=[master_key],
        paper_start_idr=100_000_000,
        paper_start_usdt=10_000,
    )


async def make_actor(db, who: str = "alice", *, group: bool = False) -> Actor:
    return await actor_for(
        db, platform="console", external_id=who, display_name=who.title(),
        chat_id="-100" if group else None, chat_title="Traders" if group else None, is_group=group,
    )  # fmt: skip


@pytest.fixture
async def alice(db) -> Actor:
    return await make_actor(db, "alice")


@pytest.fixture
def new_actor(db) -> Callable[..., Any]:
    """``await new_actor("bob")``: another user (``group=True`` acts from a group chat)."""

    async def make(who: str, *, group: bool = False) -> Actor:
        return await make_actor(db, who, group=group)

    return make


@pytest.fixture
def market() -> Callable[..., dict[str, Any]]:
    return spot_market


KEYS = {"client_id": "AKIAclientid0000wxyz", "secret": "s3cr3t-value-that-must-never-leak-9f8e7d"}


@pytest.fixture
def exchange(settings: Settings) -> Callable[..., tuple[Any, FakeHTTP]]:
    """``broker, http = exchange(BrokerName.OKX, markets=[...])``: a real ccxt instance behind an
    ``ExchangeBroker``, its HTTP replaced by a ``FakeHTTP``; markets set when given."""
    from core.broker.crypto import KeyMaterial
    from core.broker.exchanges import ExchangeBroker, new_exchange
    from core.broker.types import BrokerName

    made: list[Any] = []

    def make(name: BrokerName, *, markets: list[dict[str, Any]] | None = None) -> tuple[Any, FakeHTTP]:
        keys = KeyMaterial(KEYS["client_id"], KEYS["secret"], "pass-phrase-1" if name is BrokerName.OKX else None)
        ccxt_exchange = new_exchange(name, keys, settings)
        http = FakeHTTP(ccxt_exchange)
        ccxt_exchange.fetch = http.fetch
        if markets is not None:
            ccxt_exchange.set_markets(markets)
        made.append(ccxt_exchange)
        return ExchangeBroker(name, ccxt_exchange), http

    return make


@pytest.fixture(autouse=True)
def _no_cached_markets():
    """Each test loads market lists from its own fake exchange."""
    from core.broker import exchanges

    exchanges._markets_cache.clear()
    yield
    exchanges._markets_cache.clear()
