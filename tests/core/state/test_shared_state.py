"""Shared state: buttons, rate limits and the market's shared candles over it, embedded (in memory) and
in Redis (REDIS_URL).

The Redis tests run against a real server (``redis_env`` in tests/conftest.py: a fresh key
prefix per test, deleted after it; skipped only when no server answers).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pandas as pd
import pytest

from core.config import Settings
from core.errors import Forbidden, NotFound
from core.market.service import MarketService
from core.market.shared_candles import SharedCandles, Stored, dumps, loads, shared_candles
from core.market.types import Candles, Instrument, Interval, Range, Source
from core.state import SharedState, memory_state, open_state
from core.state.buttons import MemoryButtonStore

NOW = datetime(2026, 11, 24, 10, 5, tzinfo=UTC)


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, market_offline=False, **values)  # type: ignore[arg-type]


async def _replicas(env: dict[str, str], n: int = 2, **values: object) -> list[SharedState]:
    """``n`` processes' shared state over one Redis, as ``Core.start`` opens it in each."""
    return [await open_state(_settings(**env, **values)) for _ in range(n)]


async def _close(*states: SharedState) -> None:
    for state in states:
        await state.close()


# -- buttons --------------------------------------------------------------------------------------


async def test_embedded_buttons_expire_and_belong_to_their_owner():
    clock = [0.0]
    store = MemoryButtonStore(ttl_s=60, clock=lambda: clock[0])
    token = await store.bind("alice", "/market BBCA 1w")
    assert token.startswith("b:") and len(token) <= 20
    assert await store.resolve(token, "alice") == "/market BBCA 1w"
    with pytest.raises(Forbidden, match="belongs to the person who asked"):
        await store.resolve(token, "bob")
    clock[0] = 61
    with pytest.raises(NotFound, match="expired"):
        await store.resolve(token, "alice")


async def test_embedded_buttons_are_lost_with_the_process():
    first, second = memory_state(), memory_state()
    token = await first.buttons.bind("alice", "/market BBCA")
    with pytest.raises(NotFound, match="expired"):
        await second.buttons.resolve(token, "alice")


async def test_redis_buttons_survive_a_restart_and_work_on_another_replica(redis_env):
    a, b = await _replicas(redis_env)
    token = await a.buttons.bind("alice", "/market BBCA 1w")
    assert await b.buttons.resolve(token, "alice") == "/market BBCA 1w"  # pressed on the other replica
    with pytest.raises(Forbidden, match="belongs to the person who asked"):
        await b.buttons.resolve(token, "bob")
    await _close(a, b)
    (restarted,) = await _replicas(redis_env, 1)
    try:
        assert await restarted.buttons.resolve(token, "alice") == "/market BBCA 1w"
        with pytest.raises(NotFound, match="expired"):
            await restarted.buttons.resolve("b:never-bound", "alice")
    finally:
        await restarted.close()


async def test_redis_buttons_expire_after_48_hours(redis_env):
    (state,) = await _replicas(redis_env, 1)
    try:
        [mine, anyone] = await state.buttons.bind_many([("alice", "/stop 1"), ("*", "/copy 7")])
        assert await state.buttons.resolve(anyone, "bob") == "/copy 7"
        key = f"{redis_env['redis_prefix']}button:{mine}"
        assert 47 * 3600 < await state.redis.ttl(key) <= 48 * 3600
        await state.redis.delete(key)  # what Redis does when the TTL runs out
        with pytest.raises(NotFound, match="expired"):
            await state.buttons.resolve(mine, "alice")
    finally:
        await state.close()


# -- rate limits ----------------------------------------------------------------------------------


async def test_embedded_rate_limit_counts_per_process():
    a, b = memory_state(_settings(rate_limit_per_minute=2)), memory_state(_settings(rate_limit_per_minute=2))
    assert [await a.rate_limits.retry_after(1) for _ in range(2)] == [0, 0]
    wait = await a.rate_limits.retry_after(1)
    assert 0 < wait <= 60
    assert await b.rate_limits.retry_after(1) == 0  # another process does not know
    assert await a.rate_limits.retry_after(2) == 0  # nor does another user wait


async def test_redis_rate_limit_holds_across_replicas(redis_env):
    a, b = await _replicas(redis_env, rate_limit_per_minute=2)
    try:
        assert await a.rate_limits.retry_after(1) == 0
        assert await b.rate_limits.retry_after(1) == 0
        wait = await a.rate_limits.retry_after(1)
        assert 0 < wait <= 60
        assert 0 < await b.rate_limits.retry_after(1) <= 60
        assert await b.rate_limits.retry_after(2) == 0
    finally:
        await _close(a, b)


async def test_a_limit_of_zero_means_no_limit():
    state = memory_state(_settings(rate_limit_per_minute=0))
    assert [await state.rate_limits.retry_after(1) for _ in range(50)] == [0] * 50


# -- candles --------------------------------------------------------------------------------------


class CountingSource:
    """A provider that counts its fetches; ``gate`` (when set) holds each fetch until opened."""

    source = Source.YFINANCE
    provider = "Yahoo Finance"

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.calls = 0
        self.gate = gate
        self.started = asyncio.Event()

    def intervals(self):
        return ["1h", "1d"]

    def resolve(self, ticker: str) -> Instrument:
        return Instrument(Source.YFINANCE, f"{ticker}.JK", ticker, "IDR", 100)

    async def fetch(self, instrument: Instrument, interval: Interval, range_: Range, now: datetime) -> Candles:
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        index = pd.date_range(end="2026-11-24", periods=120, freq="D", tz="UTC")
        frame = pd.DataFrame(
            {c: [float(i) + k for i in range(120)] for k, c in enumerate(["open", "high", "low", "close", "volume"])},
            index=index,
        )
        frame.loc[index[3], "volume"] = float("nan")
        return Candles(
            instrument, interval, frame, self.provider, fetched_at=now, name="Bank Central Asia Tbk",
            extra={"exchange": "Jakarta", "kind": "EQUITY"},
        )


def _market(
    state: SharedState | SharedCandles | None, source: CountingSource, env: dict[str, str] | None = None
) -> MarketService:
    """A replica's market service over its state and ``env`` (as ``Core.start`` builds it), or over
    ``state`` when it is that replica's shared candle layer already."""
    layer = shared_candles(state, _settings(**(env or {}))) if isinstance(state, SharedState) else state
    return MarketService(_settings(), sources={Source.YFINANCE: source}, clock=lambda: NOW, shared_candles=layer)


async def test_two_replicas_fetch_a_series_once(redis_env):
    a, b = await _replicas(redis_env)
    source = CountingSource()
    try:
        first = await _market(a, source, redis_env).candles("BBCA", "1d", "3mo")
        second = await _market(b, source, redis_env).candles("BBCA", "1d", "3mo")
        assert source.calls == 1
        pd.testing.assert_frame_equal(second.frame, first.frame)
        assert (second.instrument, second.interval, second.name, second.extra, second.fetched_at) == (
            first.instrument, first.interval, first.name, first.extra, first.fetched_at,
        )
        shorter = await _market(b, source, redis_env).candles("BBCA", "1d", "1mo")  # sliced from the shared entry
        assert source.calls == 1 and shorter.frame.index[-1] == first.frame.index[-1] and len(shorter) < len(first)
        await _market(b, source, redis_env).candles("BBCA", "1d", "1y")  # a longer range fetches again
        assert source.calls == 2
    finally:
        await _close(a, b)


async def test_concurrent_misses_on_two_replicas_share_one_fetch(redis_env):
    a, b = await _replicas(redis_env)
    gate = asyncio.Event()
    source = CountingSource(gate)
    refused = asyncio.Event()
    b_candles = shared_candles(b, _settings(**redis_env))
    lock = b_candles.lock

    async def b_lock(key):  # replica B finds replica A's fetch under way
        token = await lock(key)
        if token is None:
            refused.set()
        return token

    b_candles.lock = b_lock
    try:
        on_a = asyncio.create_task(_market(a, source, redis_env).candles("BBCA", "1d", "3mo"))
        await source.started.wait()  # A holds the lock and is fetching
        on_b = asyncio.create_task(_market(b_candles, source).candles("BBCA", "1d", "3mo"))
        await refused.wait()
        gate.set()
        first, second = await asyncio.gather(on_a, on_b)
        assert source.calls == 1
        pd.testing.assert_frame_equal(second.frame, first.frame)
    finally:
        await _close(a, b)


async def test_embedded_replicas_each_fetch_their_own():
    source = CountingSource()
    for _ in range(2):
        await _market(memory_state(), source).candles("BBCA", "1d", "3mo")
    assert source.calls == 2


async def test_a_failing_redis_falls_back_to_fetching(redis_env):
    (state,) = await _replicas(redis_env, 1)
    source = CountingSource()
    await state.close()
    layer = shared_candles(state, _settings(**redis_env))
    layer._redis = type(state.redis).from_url("redis://127.0.0.1:1", socket_connect_timeout=0.5)
    try:
        candles = await _market(layer, source).candles("BBCA", "1d", "3mo")
        assert source.calls == 1 and len(candles) == 120
    finally:
        await layer._redis.aclose()


def test_stored_series_round_trips_as_json_never_pickle():
    instrument = Instrument(Source.BINANCE, "BTC/USDT", "BTCUSDT", "USDT")
    frame = pd.DataFrame(
        {"open": [1.5, 2.0], "close": [2.0, float("nan")]},
        index=pd.to_datetime(["2026-11-24 09:00", "2026-11-24 10:00"], utc=True),
    )
    candles = Candles(instrument, Interval("1h", pd.Timedelta(hours=1).to_pytimedelta()), frame, "Binance", True)
    stored = Stored(candles, Range("5d"), datetime(2026, 11, 24, 11, tzinfo=UTC), NOW)
    text = dumps(stored)
    assert text is not None and text.startswith("{")
    back = loads(text)
    pd.testing.assert_frame_equal(back.candles.frame, frame)
    assert (back.candles.instrument, back.candles.sample, back.range_, back.expires_at) == (
        instrument, True, Range("5d"), stored.expires_at,
    )
    odd = Candles(instrument, candles.interval, frame, "Binance", extra={"when": NOW})
    assert dumps(Stored(odd, Range("5d"), stored.expires_at, NOW)) is None  # kept in memory only


async def test_with_redis_away_replies_go_without_buttons_and_limits_let_commands_run():
    from limits.aio.storage import RedisStorage
    from redis.asyncio import Redis

    from core.errors import Unavailable
    from core.state.buttons import RedisButtonStore
    from core.state.ratelimit import RateLimiter

    url = "redis://127.0.0.1:1/0"  # nothing listens there
    client, raw = Redis.from_url(url, decode_responses=True), Redis.from_url(url)
    buttons = RedisButtonStore(client, "x:")
    limits = RateLimiter(1, RedisStorage("async+" + url, implementation="redispy", connection_pool=raw.connection_pool))
    try:
        from collections import namedtuple

        Button = namedtuple("Button", "label command public", defaults=(False,))
        bind = await buttons.binder("alice", [[Button("Chart", "/market BBCA")]])
        assert bind(Button("Chart", "/market BBCA")) == ""  # renderers leave it out
        with pytest.raises(Unavailable, match="buttons are unavailable"):
            await buttons.resolve("b:abc", "alice")
        assert [await limits.retry_after(1) for _ in range(3)] == [0, 0, 0]
    finally:
        await client.aclose()
        await raw.aclose()
