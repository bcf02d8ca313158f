"""/connect registers a key for log masking only once the exchange accepted it, in a bounded,
expiring set that a log line is checked against without walking it."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bots.registry import Context
from core import redaction
from core.broker import exchanges
from core.broker.exchanges import Verification
from core.broker.types import AuthFailed
from core.logging import get_logger
from tests.logcapture import app_logging

KEY = "k3y-plain-client-7fQ"  # no known key shape: only registration (or the command rule) can mask it
SECRET = "s3cr3t-plain-value-Zx"


class FakeExchange:
    async def close(self) -> None:
        pass


@pytest.fixture
def fresh_registry(monkeypatch) -> redaction.SecretRegistry:
    registry = redaction.SecretRegistry()
    monkeypatch.setattr(redaction, "registry", registry)
    return registry


@pytest.fixture
def exchange(console, monkeypatch):
    """A master key configured; the exchange accepts keys unless ``exchange["reject"]`` is set."""
    console.core.settings = console.core.settings.model_copy(
        update={"broker_master_keys": [SecretStr(Fernet.generate_key().decode())]}
    )
    state = {"reject": False}

    async def verify(self):
        get_logger("core.broker.exchanges").info("checking_key", echoed=f"apiKey {KEY} secret {SECRET} Traceback")
        if state["reject"]:
            raise AuthFailed("Invalid API-key, IP, or permissions for action")
        return Verification(can_withdraw=False, can_trade=True)

    monkeypatch.setattr(exchanges, "new_exchange", lambda broker, keys, settings: FakeExchange())
    monkeypatch.setattr(exchanges.ExchangeBroker, "verify", verify)
    return state


async def _connect(console, line: str):
    return await console.registry.dispatch(Context(core=console.core, actor=console.actor, transport="telegram"), line)


async def test_a_rejected_connect_masks_nothing_afterwards(console, exchange, fresh_registry, tmp_path):
    exchange["reject"] = True
    with app_logging(tmp_path / "bot.log", "INFO") as log:
        reply = await _connect(console, f"/connect binance main {KEY} Traceback")
        assert reply.error and "Invalid API-key" in reply.text
        logging.getLogger("some.library").error("Traceback (most recent call last): boom")
        get_logger("jobs").error("tick_failed", detail=f"Traceback and {KEY}")
        text = log.text()
    assert len(fresh_registry) == 0
    assert "Traceback (most recent call last): boom" in text
    assert f"detail='Traceback and {KEY}'" in text  # neither the rejected secret nor key hides anything
    # while the exchange was being asked, that very check's lines had the key masked
    [checking] = [line for line in text.splitlines() if "checking_key" in line]
    assert KEY not in checking and "Traceback" not in checking


async def test_a_verified_key_is_masked_in_every_later_line(console, exchange, fresh_registry, tmp_path):
    with app_logging(tmp_path / "bot.log", "INFO") as log:
        reply = await _connect(console, f"/connect binance main {KEY} {SECRET}")
        assert not reply.error, reply.text
        logging.getLogger("ccxt.base").warning("binance GET /api/v3/account apiKey=%s failed: %s", KEY, SECRET)
        get_logger("jobs").error("tick_failed", detail=f"exchange said {KEY}/{SECRET}")
        text = log.text()
    assert KEY in fresh_registry and SECRET in fresh_registry
    assert KEY not in text and SECRET not in text
    assert "tick_failed" in text and "exchange said ***/***" in text


async def test_a_verified_key_is_masked_right_after_an_escape(console, exchange, fresh_registry, tmp_path):
    """A repr writes a new line as \\n and a URL writes = as %3D, right against the key."""
    with app_logging(tmp_path / "bot.log", "INFO") as log:
        assert not (await _connect(console, f"/connect binance main {KEY} {SECRET}")).error
        logging.getLogger("ccxt.base").warning("body %r", f"first line\n{SECRET}\t{KEY}")
        logging.getLogger("ccxt.base").warning("GET /sapi?signature%%3D%s%%26key%%3D%s", SECRET, KEY)
        text = log.text()
    assert SECRET not in text and KEY not in text
    assert "body 'first line\\n***\\t***'" in text and "signature%3D***%26key%3D***" in text


def test_the_set_is_bounded_least_recently_registered_first():
    registry = redaction.SecretRegistry(limit=3)
    values = [f"user-secret-{n:04d}-abcdef" for n in range(5)]
    for value in values[:3]:
        registry.remember(value)
    registry.remember(values[0])  # used again: now the most recent
    for value in values[3:]:
        registry.remember(value)
    assert len(registry) == 3
    assert set(values) - {v for v in values if v in registry} == {values[1], values[2]}
    line = " ".join(values)
    masked = redaction._mask_spans(line, registry.spans(line))
    assert masked.split() == ["***", values[1], values[2], "***", "***"]


def test_entries_expire_and_the_operators_own_never_do():
    now = [1000.0]
    registry = redaction.SecretRegistry(limit=10, ttl_s=60, clock=lambda: now[0])
    registry.pin("operator-bot-token-value")
    registry.remember("user-exchange-secret-1")
    now[0] += 30
    registry.remember("user-exchange-secret-2")
    now[0] += 31  # the first is 61 s old, the second 31 s
    line = "operator-bot-token-value user-exchange-secret-1 user-exchange-secret-2"
    assert redaction._mask_spans(line, registry.spans(line)) == "*** user-exchange-secret-1 ***"
    assert len(registry) == 2


class _NoWalking(dict):
    """A mapping that lets a caller look at its first entry (the next to expire) but no further:
    a scrub that walks the registered secrets fails loudly."""

    @staticmethod
    def _first_only(items):
        for seen, item in enumerate(items):
            if seen:
                raise AssertionError("scrub walked the registered secrets")
            yield item

    def __iter__(self):
        return self._first_only(super().__iter__())

    def items(self):
        return self._first_only(super().items())

    def keys(self):
        return self._first_only(super().keys())

    def values(self):
        return self._first_only(super().values())


def test_scrub_looks_values_up_instead_of_walking_the_registry(fresh_registry):
    for n in range(5000):
        fresh_registry.remember(f"verified-{n:05d}-{n * 7919 % 100000:05d}-key")
    assert len(fresh_registry) == 4096  # the default bound
    fresh_registry.index._by_anchor = _NoWalking(fresh_registry.index._by_anchor)
    fresh_registry._expiry = _NoWalking(fresh_registry._expiry)
    newest = "verified-04999-" + f"{4999 * 7919 % 100000:05d}" + "-key"
    evicted = "verified-00000-00000-key"
    assert redaction.scrub(f"order failed for {newest} and {evicted}") == f"order failed for *** and {evicted}"
