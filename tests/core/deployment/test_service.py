"""Deploy Model, Retrieve Deployed Models, Update Status, Delete: rules and stored rows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.deployment import service
from core.deployment.models import Deployment
from core.deployment.service import DeployRequest
from core.errors import Conflict, Forbidden, Invalid, LimitExceeded, NotFound
from core.model.service import ModelRequest, save_model
from core.services import ServiceSet
from core.trade.models import Order
from tests.core.deployment.kit import (
    T0,
    Clock,
    StubSource,
    frame,
    load,
    make_credential,
    make_market,
    make_settings,
    make_user,
)

EMA = 'fast = ema(close, input("fast", 3))\nslow = ema(close, 8)\nbuy = crossover(fast, slow)\nsell = crossunder(fast, slow)\n'


@pytest.fixture
def market_env():
    settings = make_settings(free_max_deployments=2)
    source = StubSource({"BTCUSDT": frame("g" * 30), "BBCA": frame("g" * 30, step=timedelta(days=1))})
    clock = Clock(T0 + timedelta(days=40))
    return settings, make_market(settings, source, clock), clock


async def test_deploy_copies_the_script_and_starts_at_the_next_close(db, market_env):
    settings, market, clock = market_env
    services = ServiceSet(db, settings, market)
    actor = await make_user(db)
    await save_model(db, actor, ModelRequest("ema", EMA, inputs={"fast": 5}))
    view = await service.deploy(services, actor, DeployRequest("ema", "btcusdt", "1h"), now=clock.now)
    assert (view.label, view.ticker, view.interval, view.timing, view.status) == ("ema", "BTCUSDT", "1h", "OnTime", "TaskPending")
    assert view.paper and view.credential_label.lower() == "paper"  # the built-in paper account by default
    edited = ModelRequest("ema", "buy = close > open\nsell = close < open")
    await save_model(db, actor, edited)  # editing the model later...
    [row] = await load(db, Deployment)
    assert row.source == EMA and row.inputs == {"fast": 5}  # ...does not change the deployment
    assert row.last_bar_at == clock.now.replace(minute=0, second=0, microsecond=0)
    late = await service.deploy(services, actor, DeployRequest("ema", "BBCA", "1d", timing="late"), now=clock.now)
    assert late.timing == "Late"
    with pytest.raises(LimitExceeded):
        await service.deploy(services, actor, DeployRequest("ema", "BTCUSDT", "4h"), now=clock.now)


async def test_models_that_cannot_trade_spot_are_refused(db, market_env):
    settings, market, _ = market_env
    services = ServiceSet(db, settings, market)
    actor = await make_user(db)
    await save_model(db, actor, ModelRequest("ls", "buy = close > open\nshort = close < open"))
    await save_model(db, actor, ModelRequest("ind", "plot(sma(close, 5))"))
    await save_model(db, actor, ModelRequest("ok", "buy = close > open\nsell = close < open"))
    with pytest.raises(Invalid, match="long/short model"):
        await service.deploy(services, actor, DeployRequest("ls", "BTCUSDT", "1h"))
    with pytest.raises(Invalid, match="indicator"):
        await service.deploy(services, actor, DeployRequest("ind", "BTCUSDT", "1h"))
    with pytest.raises(NotFound):
        await service.deploy(services, actor, DeployRequest("nope", "BTCUSDT", "1h"))
    with pytest.raises(Invalid, match="timing"):
        await service.deploy(services, actor, DeployRequest("ok", "BTCUSDT", "1h", timing="soon"))
    await service.deploy(services, actor, DeployRequest("ok", "BTCUSDT", "1h"))
    with pytest.raises(Conflict, match="already runs"):
        await service.deploy(services, actor, DeployRequest("ok", "BTCUSDT", "1h"))


async def test_live_deployments_need_the_plan_and_a_confirmation(db, market_env):
    settings, market, _ = market_env
    services = ServiceSet(db, settings, market)
    actor = await make_user(db)
    await save_model(db, actor, ModelRequest("ok", "buy = close > open\nsell = close < open"))
    await make_credential(db, actor.user_id, "Binance", "bin")
    with pytest.raises(Forbidden, match="live trading is not included"):
        await service.deploy(services, actor, DeployRequest("ok", "BTCUSDT", "1h", credential="bin"))
    live = make_settings(free_live_trading=True, free_max_position_value=500.0)
    live_services = ServiceSet(db, live, market)
    plan = await service.plan_deployment(live_services, actor, DeployRequest("ok", "BTCUSDT", "1h", credential="bin"))
    assert (plan.paper, plan.symbol, plan.max_position_value) == (False, "BTC/USDT", 500.0)
    with pytest.raises(Forbidden, match="confirm"):
        await service.deploy(live_services, actor, DeployRequest("ok", "BTCUSDT", "1h", credential="bin"))
    view = await service.deploy(live_services, actor, DeployRequest("ok", "BTCUSDT", "1h", credential="bin"), confirmed=True)
    assert view.broker == "Binance" and not view.paper


async def test_pause_resume_stop_stopall_list_and_delete(db, market_env):
    settings, market, clock = market_env
    services = ServiceSet(db, settings, market)
    actor = await make_user(db)
    other = await make_user(db, "bob")
    await save_model(db, actor, ModelRequest("ok", "buy = close > open\nsell = close < open"))
    a = await service.deploy(services, actor, DeployRequest("ok", "BTCUSDT", "1h"), now=clock.now)
    b = await service.deploy(services, actor, DeployRequest("ok", "BBCA", "1d"), now=clock.now)
    with pytest.raises(NotFound):
        await service.update_status(services, other, a.id, "pause")  # not bob's
    paused = await service.update_status(services, actor, a.id, "pause")
    assert paused.status == "Paused" and not paused.running
    with pytest.raises(Conflict):
        await service.update_status(services, actor, a.id, "pause")
    later = clock.now + timedelta(hours=5, minutes=3)
    resumed = await service.update_status(services, actor, a.id, "resume", now=later)
    assert resumed.status == "NoPosition" and resumed.last_bar_at == later.replace(minute=0, second=0, microsecond=0)
    assert await service.stop_all(services, actor) == sorted([a.id, b.id])
    assert await service.stop_all(services, other) == []
    stopped = await service.update_status(services, actor, b.id, "stop")
    assert stopped.status == "TaskCanceled"
    with pytest.raises(Conflict, match="ended"):
        await service.update_status(services, actor, b.id, "resume")

    page = await service.list_deployments(services, actor, 1, 1)
    assert (page.total, page.pages, [v.id for v in page.items]) == (2, 2, [a.id])  # running/paused first

    async with db.session() as session:
        row = await session.get(Deployment, a.id)
        row.position_qty, row.status = 0.5, "OpenPosition"
    with pytest.raises(Conflict, match="holds"):
        await service.delete_deployment(services, actor, a.id)
    async with db.session() as session:
        row = await session.get(Deployment, a.id)
        row.position_qty, row.status = 0.0, "NoPosition"
        session.add(Order(user_id=actor.user_id, deployment_id=a.id, credential_id=a.credential_id, broker="Paper",
                          client_order_id="sx1t1b", symbol="BTC/USDT", side="buy", quantity=1.0, status="Sent"))
    with pytest.raises(Conflict, match="in flight"):
        await service.delete_deployment(services, actor, a.id)
    gone = await service.delete_deployment(services, actor, b.id)
    assert gone.id == b.id and [d.id for d in await load(db, Deployment)] == [a.id]


async def test_indices_and_untradable_tickers_are_refused():
    from core.market.types import Instrument, Source

    assert service.broker_symbol(Instrument(Source.YFINANCE, "BBCA.JK", "BBCA", "IDR", 100)) == "BBCA.JK"
    assert service.broker_symbol(Instrument(Source.YFINANCE, "BBCA", "BBCA", "IDR", 100)) == "BBCA.JK"
    assert service.broker_symbol(Instrument(Source.BINANCE, "BTCUSDT", "BTCUSDT", "USDT")) == "BTC/USDT"
    with pytest.raises(Invalid, match="index"):
        service.broker_symbol(Instrument(Source.YFINANCE, "^JKSE", "JKSE", "IDR", 1))
    with pytest.raises(Invalid, match="cannot be traded"):
        service.broker_symbol(Instrument(Source.YFINANCE, "AAPL", "AAPL", "USD", 1))


async def test_simultaneous_deploys_never_exceed_the_plans_limit(db, market_env):
    import asyncio

    settings, market, clock = market_env  # the plan allows 2
    services = ServiceSet(db, settings, market)
    actor = await make_user(db)
    await save_model(db, actor, ModelRequest("ema", EMA))
    intervals = ("1h", "4h", "15m", "1d")
    results = await asyncio.gather(
        *(service.deploy(services, actor, DeployRequest("ema", "BTCUSDT", i), now=clock.now) for i in intervals),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 2
    assert all(isinstance(r, LimitExceeded) for r in results if isinstance(r, BaseException))
    assert len(await load(db, Deployment)) == 2


async def test_a_double_pressed_deploy_creates_one_deployment(db, market_env):
    import asyncio

    settings, market, clock = market_env
    settings = make_settings(free_max_deployments=10)
    services = ServiceSet(db, settings, market)
    actor = await make_user(db)
    await save_model(db, actor, ModelRequest("ema", EMA))
    plans = [await service.plan_deployment(services, actor, DeployRequest("ema", "BTCUSDT", "1h")) for _ in range(3)]
    results = await asyncio.gather(
        *(service.deploy(services, actor, p, now=clock.now) for p in plans),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
    assert len(await load(db, Deployment)) == 1
    again = await asyncio.gather(
        *(service.deploy(services, actor, DeployRequest("ema", "BTCUSDT", "4h"), now=clock.now) for _ in range(3)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in again) == 1
    assert len(await load(db, Deployment)) == 2


async def test_deploy_with_a_plan_does_not_plan_again(db, market_env, monkeypatch):
    settings, market, clock = market_env
    services = ServiceSet(db, settings, market)
    actor = await make_user(db)
    await save_model(db, actor, ModelRequest("ema", EMA))
    plan = await service.plan_deployment(services, actor, DeployRequest("ema", "BTCUSDT", "1h"))

    async def no_planning(*args, **kwargs):
        raise AssertionError("planned twice")

    monkeypatch.setattr(service, "plan_deployment", no_planning)
    view = await service.deploy(services, actor, plan, now=clock.now)
    assert (view.ticker, view.interval) == ("BTCUSDT", "1h")


async def test_idx_stocks_are_refused_on_an_exchange_key(db, market_env):
    _, market, clock = market_env
    live = make_settings(free_live_trading=True)
    live_services = ServiceSet(db, live, market)
    actor = await make_user(db)
    await save_model(db, actor, ModelRequest("ok", "buy = close > open\nsell = close < open"))
    await make_credential(db, actor.user_id, "Binance", "bin")
    with pytest.raises(Invalid, match="IDX stock"):
        await service.plan_deployment(live_services, actor, DeployRequest("ok", "BBCA", "1d", credential="bin"))
    with pytest.raises(Invalid, match="IDX stock"):
        await service.deploy(live_services, actor, DeployRequest("ok", "BBCA", "1d", credential="bin"), confirmed=True)
    paper = await service.deploy(live_services, actor, DeployRequest("ok", "BBCA", "1d"), now=clock.now)
    assert paper.paper  # the paper account trades IDX stocks
    with pytest.raises(NotFound, match="no broker key") as missing:
        await service.plan_deployment(live_services, actor, DeployRequest("ok", "BTCUSDT", "1h", credential="nope"))
    assert missing.value.hint == "see /credentials"


async def test_stake_and_input_overrides_are_checked_and_stored(db, market_env):
    settings, market, clock = market_env
    services = ServiceSet(db, settings, market)
    actor = await make_user(db)
    await save_model(db, actor, ModelRequest("ema", EMA))
    fixed = await service.deploy(
        services, actor, DeployRequest("ema", "BTCUSDT", "1h", stake_amount=250.5, inputs={"fast": 4}), now=clock.now
    )
    assert (fixed.size, fixed.stake_amount, fixed.inputs, fixed.quote_currency) == (1.0, 250.5, {"fast": 4}, "USDT")
    share = await service.deploy(services, actor, DeployRequest("ema", "BBCA", "1d", size=0.25), now=clock.now)
    assert (share.size, share.stake_amount, share.inputs, share.quote_currency) == (0.25, None, {"fast": 3}, "IDR")
    rows = {r.ticker: r for r in await load(db, Deployment)}
    assert (rows["BTCUSDT"].stake_amount, rows["BTCUSDT"].inputs) == (250.5, {"fast": 4})
    assert (rows["BBCA"].size, rows["BBCA"].stake_amount) == (0.25, None)
    listed = await service.list_deployments(services, actor)
    assert {(v.ticker, v.stake_amount) for v in listed.items} == {("BTCUSDT", 250.5), ("BBCA", None)}

    plan = service.plan_deployment
    with pytest.raises(Invalid, match="whole rupiah"):
        await plan(services, actor, DeployRequest("ema", "BBCA", "1h", stake_amount=1000.5))
    with pytest.raises(Invalid, match="not both"):
        await plan(services, actor, DeployRequest("ema", "BTCUSDT", "4h", size=0.5, stake_amount=10))
    with pytest.raises(Invalid, match="at most 100 %, not 150 %"):
        await plan(services, actor, DeployRequest("ema", "BTCUSDT", "4h", size=1.5))
    with pytest.raises(Invalid, match="above 0"):
        await plan(services, actor, DeployRequest("ema", "BTCUSDT", "4h", stake_amount=-1))
    with pytest.raises(Invalid, match=r"no input 'fats'.*fast"):
        await plan(services, actor, DeployRequest("ema", "BTCUSDT", "4h", inputs={"fats": 2}))
