"""GET /v1/alerts/stream: a user's own alerts, produced by the real job code, as server-sent events,
over a real uvicorn server on loopback; in memory and through Redis pub/sub."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from core.account.service import actor_for
from core.app import Core
from core.broker.types import AuthFailed, BrokerName
from core.config import Settings
from core.events import EventKind
from core.market import watchlist
from core.state import open_state
from core.state.alert_stream import LiveAlert
from core.tokens.service import create_token, revoke_token
from jobs import monitoring
from jobs.monitoring import check_watches
from jobs.scheduler import DeploymentScheduler
from tests.core.deployment.kit import (
    T0,
    Clock,
    FakeBroker,
    StubSource,
    frame,
    make_credential,
    make_deployment,
    make_market,
    make_settings,
    make_user,
)
from tests.http.serving import serving
from tests.jobs.test_monitoring import FakeMarket

HOUR = timedelta(hours=1)
END = "end of this test's alerts"


@pytest.fixture
def no_charts(monkeypatch):
    monkeypatch.setattr(monitoring, "render_candles", lambda *args, **kwargs: b"\x89PNG fake")


@contextlib.asynccontextmanager
async def client(core: Core) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(core) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        yield http


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def token(core: Core, actor, label: str = "stream") -> str:
    return (await create_token(core.db, core.settings, actor, label)).secret


class Events:
    """An open stream's server-sent events, read with a deadline so a test never hangs."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()
        self.comments: list[str] = []

    async def line(self) -> str:
        return await asyncio.wait_for(anext(self.lines), 10)

    async def next(self) -> dict[str, str]:
        """The next event (comment lines are kept aside in ``comments``)."""
        fields: dict[str, str] = {}
        while True:
            line = await self.line()
            if line.startswith(":"):
                self.comments.append(line)
            elif line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            elif fields:
                return fields

    async def until_end(self) -> list[dict]:
        """Every event up to the test's end marker, as (kind, id, data)."""
        seen = []
        while True:
            event = await self.next()
            data = json.loads(event["data"])
            if data["text"] == END:
                return seen
            seen.append({"event": event["event"], "id": event["id"], **data})


@contextlib.asynccontextmanager
async def stream(http: httpx.AsyncClient, secret: str) -> AsyncIterator[Events]:
    async with http.stream("GET", "/v1/alerts/stream", headers=auth(secret)) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        events = Events(response)
        assert await events.line() == ": stream open"  # subscribed: nothing after this is missed
        yield events


async def end(core: Core, *user_ids: int) -> None:
    """A last alert per user: whatever a stream read before it is all it will ever get of this test."""
    for user_id in user_ids:
        await core.state.alerts.publish(LiveAlert(EventKind.DONE, user_id, END))


async def test_a_fill_reaches_its_owners_stream_with_the_chats_text_and_no_one_elses(db):
    clock = Clock(T0 + 3 * HOUR + timedelta(seconds=20))
    settings = make_settings(tick_every_s=3600, reconcile_every_s=3600, api_rate_limit_per_minute=0)
    core = Core(settings=settings, db=db, market=make_market(settings, StubSource({"BTCUSDT": frame("rrg.")}), clock))
    ana, bob = await make_user(db, "ana"), await make_user(db, "bob")
    credential = await make_credential(db, ana.user_id)
    dep = await make_deployment(db, ana.user_id, credential, last_bar_at=T0 + 2 * HOUR, label="ema")

    async def factory(_credential_id: int):
        return FakeBroker()

    async with client(core) as http, stream(http, await token(core, ana)) as anas, stream(http, await token(core, bob)) as bobs:
        scheduler = DeploymentScheduler(core, factory, clock)
        try:
            report = await scheduler.tick()  # the job: the tick, then its alerts queued and published
        finally:
            await scheduler.stop()
        assert report is not None and report.orders == 1
        await end(core, ana.user_id, bob.user_id)
        [fill] = await anas.until_end()
        assert await bobs.until_end() == []
    assert fill["event"] == fill["kind"] == "filled" and fill["id"]
    assert fill["deployment_id"] == dep and fill["ticker"] == "BTCUSDT" and fill["side"] == "buy"
    assert fill["text"].startswith(f"ema #{dep} · BTCUSDT 1h\nBought ") and "fee" in fill["text"]
    assert fill["quantity"] > 0 and fill["price"] > 0 and fill["fee"] > 0 and fill["time"]


async def test_a_pause_reaches_its_owners_stream_with_why(db):
    clock = Clock(T0 + 2 * HOUR)
    settings = make_settings(tick_every_s=3600, reconcile_every_s=3600, api_rate_limit_per_minute=0)
    core = Core(settings=settings, db=db, market=make_market(settings, StubSource({"BTCUSDT": frame("gg")}), clock))
    ana = await make_user(db, "ana")
    credential = await make_credential(db, ana.user_id, "Binance", "bin")
    dep = await make_deployment(db, ana.user_id, credential, last_bar_at=T0 + HOUR)
    broker = FakeBroker(create_errors=[AuthFailed("key revoked")], name=BrokerName.BINANCE, paper=False)

    async def factory(_credential_id: int):
        return broker

    async with client(core) as http, stream(http, await token(core, ana)) as anas:
        scheduler = DeploymentScheduler(core, factory, clock)
        try:
            await scheduler.tick()
        finally:
            await scheduler.stop()
        await end(core, ana.user_id)
        [paused] = await anas.until_end()
    assert paused["event"] == "paused" and paused["deployment_id"] == dep
    assert "Paused" in paused["text"] and "key revoked" in paused["text"]


async def _crossing_reaches_its_owner_only(db, market: FakeMarket, api_core: Core, jobs_core: Core) -> None:
    ana = await actor_for(db, platform="telegram", external_id="111", display_name="Ana")
    bob = await actor_for(db, platform="telegram", external_id="222", display_name="Bob")
    await watchlist.add_watch(db, ana, market, "BBCA", "price>9000")  # the last close, 8,775, is below
    async with client(api_core) as http, stream(http, await token(api_core, ana)) as anas, \
            stream(http, await token(api_core, bob)) as bobs:  # fmt: skip
        market.set_last("BBCA", 9100)
        assert await check_watches(jobs_core) == 1  # the job: the crossing claimed, queued, published
        await end(jobs_core, ana.user_id, bob.user_id)
        [crossed] = await anas.until_end()
        assert await bobs.until_end() == []
    assert crossed["event"] == crossed["kind"] == "crossed" and crossed["ticker"] == "BBCA"
    assert crossed["text"].splitlines()[:2] == ["🔔 BBCA: price>9000 is met", "Price 9,100 IDR (+3.70%)"]
    assert crossed["price"] == 9100 and crossed["condition"] == "price>9000"


async def test_a_watch_crossing_reaches_its_owners_stream_only(db, no_charts):
    market = FakeMarket()
    core = Core(settings=Settings(_env_file=None, market_offline=True, api_rate_limit_per_minute=0), db=db,
                market=market)  # type: ignore[arg-type]  # fmt: skip
    await _crossing_reaches_its_owner_only(db, market, core, core)


async def test_through_redis_an_api_in_another_process_receives_what_the_jobs_publish(db, no_charts, redis_env):
    """Two cores, two Redis connections: the scheduler's process publishes, the API's subscribes."""
    market = FakeMarket()
    settings = Settings(_env_file=None, market_offline=True, api_rate_limit_per_minute=0, **redis_env)
    api_core = Core(settings=settings, db=db, market=market, state=await open_state(settings))  # type: ignore[arg-type]
    jobs_core = Core(settings=settings, db=db, market=market, state=await open_state(settings))  # type: ignore[arg-type]
    try:
        await _crossing_reaches_its_owner_only(db, market, api_core, jobs_core)
    finally:
        await api_core.state.close()
        await jobs_core.state.close()


async def test_no_token_or_a_revoked_one_is_401(db):
    core = Core(settings=Settings(_env_file=None, market_offline=True, api_rate_limit_per_minute=0), db=db,
                market=FakeMarket())  # type: ignore[arg-type]  # fmt: skip
    ana = await actor_for(db, platform="telegram", external_id="111", display_name="Ana")
    secret = await token(core, ana, "old")
    await revoke_token(db, ana, "old")
    async with client(core) as http:
        for headers in ({}, auth(secret), auth("stx_" + "x" * 43)):
            async with http.stream("GET", "/v1/alerts/stream", headers=headers) as response:
                assert response.status_code == 401
                assert response.headers["content-type"] == "application/problem+json"
                assert json.loads(await response.aread())["status"] == 401


async def test_idle_streams_are_pinged_and_a_client_leaving_ends_its_subscription(db):
    settings = Settings(_env_file=None, market_offline=True, api_rate_limit_per_minute=0, api_stream_heartbeat_s=0.05)
    core = Core(settings=settings, db=db, market=FakeMarket())  # type: ignore[arg-type]
    ana = await actor_for(db, platform="telegram", external_id="111", display_name="Ana")
    secret = await token(core, ana)
    alerts = core.state.alerts
    async with client(core) as http:
        async with stream(http, secret) as events:
            assert alerts.subscribers(ana.user_id) == 1  # type: ignore[attr-defined]
            while ": ping" not in events.comments:
                line = await events.line()
                if line.startswith(":"):
                    events.comments.append(line)
        for _ in range(500):  # the server notices at its next heartbeat
            if alerts.subscribers(ana.user_id) == 0:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.01)
        assert alerts.subscribers(ana.user_id) == 0  # type: ignore[attr-defined]
        # a stream still open when the server stops ends with it (the server does not wait for it)
        async with http.stream("GET", "/v1/alerts/stream", headers=auth(secret)) as response:
            assert response.status_code == 200
            await asyncio.wait_for(anext(response.aiter_lines()), 10)
            assert alerts.subscribers(ana.user_id) == 1  # type: ignore[attr-defined]
            # leave the server (the client's context exits first): the stream must not hold it up
    assert alerts.subscribers(ana.user_id) == 0  # type: ignore[attr-defined]


async def test_the_server_stopping_ends_open_streams(db):
    core = Core(settings=Settings(_env_file=None, market_offline=True, api_rate_limit_per_minute=0), db=db,
                market=FakeMarket())  # type: ignore[arg-type]  # fmt: skip
    ana = await actor_for(db, platform="telegram", external_id="111", display_name="Ana")
    secret = await token(core, ana)
    async with serving(core) as port:
        http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)
        response = await http.send(http.build_request("GET", "/v1/alerts/stream", headers=auth(secret)), stream=True)
        assert await asyncio.wait_for(anext(response.aiter_lines()), 10) == ": stream open"
    # serving() returned: uvicorn stopped although the stream was open (the heartbeat is 15 s)
    assert core.state.alerts.subscribers(ana.user_id) == 0  # type: ignore[attr-defined]
    await response.aclose()
    await http.aclose()
