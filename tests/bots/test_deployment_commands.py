"""/deploy, /deployments, /pause, /resume, /stop, /stopall, /undeploy through the registry (console, sample data)."""

from __future__ import annotations

from sqlalchemy import select

from core.broker.models import Credential
from core.deployment.models import Deployment

MODEL = "/model save cross\nbuy = crossover(ema(close, 5), ema(close, 20))\nsell = crossunder(ema(close, 5), ema(close, 20))"


async def _rows(console) -> list[Deployment]:
    async with console.core.db.session() as session:
        return list(await session.scalars(select(Deployment).order_by(Deployment.id)))


async def test_deploy_list_pause_resume_stop_and_delete(console):
    assert not (await console.handle(MODEL)).error
    deployed = await console.handle("/deploy cross BTCUSDT 1h")
    assert not deployed.error, deployed.text
    assert deployed.text.startswith("Deployed 'cross' as #1 on BTCUSDT 1h, trading your paper account.")
    [row] = await _rows(console)
    assert (row.ticker, row.interval, row.timing, row.status) == ("BTCUSDT", "1h", "OnTime", "TaskPending")
    late = await console.handle("/deploy cross BBCA 1d late")
    assert not late.error, late.text

    listed = await console.handle("/deployments")
    assert "#1 cross · BTCUSDT 1h OnTime · paper" in listed.text and "TaskPending · flat" in listed.text
    assert "#2 cross · BBCA 1d Late · paper" in listed.text
    assert any(b.command == "/stopall" for r in listed.buttons for b in r)

    paused = await console.handle("/pause #1")
    assert paused.text.startswith("Paused #1 cross")
    resumed = await console.handle("/resume 1")
    assert resumed.text.startswith("Resumed #1 cross: NoPosition")
    assert (await console.handle("/resume 1")).error

    ask = await console.handle("/stop 1")
    assert "for good?" in ask.text and (await _rows(console))[0].status == "NoPosition"
    assert (await console.handle("/stop 1 --yes")).text == "Stopped #1 cross (TaskCanceled)."

    ask_all = await console.handle("/stopall")
    assert "Pause all" in ask_all.text
    assert (await console.handle("/stopall --yes")).text == "Paused 1 deployment(s): #2."

    assert "Delete #1" in (await console.handle("/undeploy 1")).text
    assert (await console.handle("/undeploy 1 --yes")).text == "Deleted deployment #1 cross."
    assert [r.id for r in await _rows(console)] == [2]
    assert (await console.handle("/pause 99")).error
    assert "deployment number" in (await console.handle("/pause x")).text


async def test_refusals_are_explained(console):
    await console.handle(MODEL)
    await console.handle("/model save ls\nbuy = close > open\nshort = close < open")
    refused = await console.handle("/deploy ls BTCUSDT 1h")
    assert refused.error and "long/short model" in refused.text
    unknown = await console.handle("/deploy nope BTCUSDT")
    assert unknown.error and "no model 'nope'" in unknown.text
    empty = await console.handle("/deployments")
    assert empty.text.startswith("You have no deployments")


async def test_a_live_deployment_asks_for_confirmation(console):
    await console.handle(MODEL)
    console.core.settings.free_live_trading = True
    async with console.core.db.session() as session:
        session.add(Credential(user_id=console.actor.user_id, broker="Binance", label="bin", label_key="bin",
                               secret_token="x"))  # fmt: skip
    ask = await console.handle("/deploy cross BTCUSDT 1h bin")
    assert not ask.error and "LIVE Binance account 'bin'" in ask.text and await _rows(console) == []
    [[yes, _]] = ask.buttons
    assert yes.command == "/deploy cross BTCUSDT 1h bin ontime --yes"
    done = await console.handle(yes.command)
    assert done.text.startswith("Deployed 'cross' as #1") and "(live)" in done.text
