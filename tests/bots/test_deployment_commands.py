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
    assert "#1 cross · BTCUSDT 1h OnTime · paper" in listed.text and "    waiting for the next candle\n" in listed.text
    assert "TaskPending" not in listed.text  # the seed's spelling stays in the data, people read words
    assert "#2 cross · BBCA 1d Late · paper" in listed.text
    assert any(b.command == "/stopall" for r in listed.buttons for b in r)

    paused = await console.handle("/pause #1")
    assert paused.text.startswith("Paused #1 cross")
    resumed = await console.handle("/resume 1")
    assert resumed.text.startswith("Resumed #1 cross: no position, waiting for a buy signal")
    assert (await console.handle("/resume 1")).error

    ask = await console.handle("/stop 1")
    assert "for good?" in ask.text and (await _rows(console))[0].status == "NoPosition"
    assert (await console.handle("/stop 1 --yes")).text == "Stopped #1 cross."

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


INPUTS_MODEL = (
    '/model save cross\nfast = ema(close, input("fast", 12))\nslow = ema(close, input("slow", 26))\n'
    "buy = crossover(fast, slow)\nsell = crossunder(fast, slow)"
)


async def test_deploy_with_a_stake_and_input_overrides(db_console):
    console = db_console
    assert not (await console.handle(INPUTS_MODEL)).error
    assert not (await console.handle("/model set cross slow=30")).error
    done = await console.handle("/deploy cross BTCUSDT 1h size=25% fast=5")
    assert not done.error, done.text
    assert "Stake per entry: 25% of the free USDT balance." in done.text
    assert "Inputs: fast=5 slow=30" in done.text
    rupiah = await console.handle("/deploy cross BBCA 1d late size=1000000")
    assert not rupiah.error, rupiah.text
    assert "Stake per entry: 1,000,000 IDR." in rupiah.text and "Inputs: fast=12 slow=30" in rupiah.text
    whole = await console.handle("/deploy cross ETHUSDT 1d fast=8")
    assert "Stake per entry: 100% of the free USDT balance." in whole.text

    first, second, third = await _rows(console)
    assert (first.size, first.stake_amount, first.inputs) == (0.25, None, {"fast": 5, "slow": 30})
    assert (second.size, second.stake_amount, second.inputs) == (1.0, 1_000_000, {"fast": 12, "slow": 30})
    assert (third.size, third.stake_amount, third.inputs) == (1.0, None, {"fast": 8, "slow": 30})

    listed = (await console.handle("/deployments")).text
    assert "stake 25% · inputs fast=5 slow=30" in listed
    assert "stake 1,000,000 IDR · inputs fast=12 slow=30" in listed
    assert "stake 100% · inputs fast=8 slow=30" in listed
    # the model is not changed by a deployment's overrides
    assert "fast=12" in (await console.handle("/model show cross")).text


async def test_deploy_refuses_a_bad_stake_or_input_with_the_usage(db_console):
    console = db_console
    await console.handle(INPUTS_MODEL)
    cases = {
        "/deploy cross BTCUSDT size=0%": "above 0% and at most 100%, not 0%",
        "/deploy cross BTCUSDT size=150%": "above 0% and at most 100%, not 150%",
        "/deploy cross BTCUSDT size=-5": "a stake amount must be above 0, not -5",
        "/deploy cross BTCUSDT size=lots": "size is a percentage such as 25% or an amount such as 500, not 'lots'",
        "/deploy cross BTCUSDT size=nan": "size is a percentage such as 25% or an amount such as 500, not 'nan'",
        "/deploy cross BTCUSDT size=": "size needs a value",
        "/deploy cross BBCA size=1,000,000": "without thousands separators",
        "/deploy cross BBCA size=1.000.000": "without thousands separators",
        "/deploy cross BBCA size=1500.5": "rupiah stakes are whole rupiah, not 1,500.50",
        "/deploy cross BTCUSDT size=10% size=20": "give size= once",
        "/deploy cross BTCUSDT fst=5": "the script has no input 'fst'",
        "/deploy cross BTCUSDT fast=quick": "input fast needs a number or true/false, not 'quick'",
        "/deploy cross BTCUSDT 1h fast=5 late": "'late' goes before size= and the inputs",
        "/deploy cross BTCUSDT 1h late fast": "'fast' is not an input: write name=value",
    }
    for line, expected in cases.items():
        reply = await console.handle(line)
        assert reply.error and expected in reply.text, (line, reply.text)
        assert "Usage: /deploy MODEL TICKER [INTERVAL] [CREDENTIAL] [ontime|late] [SIZE] [INPUTS...]" in reply.text, line
    assert "did you mean 'fast'" in (await console.handle("/deploy cross BTCUSDT fst=5")).text
    assert await _rows(console) == []


async def test_a_live_deployment_confirms_its_stake_and_inputs(console):
    await console.handle(INPUTS_MODEL)
    console.core.settings.free_live_trading = True
    async with console.core.db.session() as session:
        session.add(Credential(user_id=console.actor.user_id, broker="Binance", label="bin", label_key="bin",
                               secret_token="x"))  # fmt: skip
    ask = await console.handle("/deploy cross BTCUSDT 1h bin fast=5 size=40%")
    assert not ask.error, ask.text
    assert "staking 40% of the free USDT balance per entry" in ask.text and "Inputs: fast=5 slow=26" in ask.text
    [[yes, _]] = ask.buttons
    assert yes.command == "/deploy cross BTCUSDT 1h bin ontime size=40% fast=5 --yes"
    done = await console.handle(yes.command)
    assert done.text.startswith("Deployed 'cross' as #1") and "Stake per entry: 40%" in done.text
    [row] = await _rows(console)
    assert (row.size, row.stake_amount, row.inputs) == (0.4, None, {"fast": 5, "slow": 26})
    fixed = await console.handle("/deploy cross ETHUSDT 1d bin size=250.5")
    assert "staking 250.5 USDT per entry" in fixed.text
    assert fixed.buttons[0][0].command == "/deploy cross ETHUSDT 1d bin ontime size=250.5 --yes"


async def _bought(console, deployment_id: int, quantity: float, price: float) -> None:
    """A real paper entry through the executor: order, fill, trade and position, as a tick makes them."""
    from datetime import UTC, datetime, timedelta

    from core.broker.paper import PaperBroker
    from core.deployment.executor import Intent, record_intent, send_order

    core = console.core
    async with core.db.session() as session:
        row = await session.get(Deployment, deployment_id)
        user_id, credential_id = row.user_id, row.credential_id
    at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    intent = Intent(deployment_id, user_id, credential_id, "Paper", "BTC/USDT", "buy", quantity, price, at, "signal", "buy")
    order = await record_intent(core.db, intent)
    outcome = await send_order(core.db, core.settings, PaperBroker(core.db, core.settings, credential_id), order)
    assert outcome.status == "Filled"


async def test_close_sells_the_position_at_market_and_the_deployment_goes_on_or_stops(db_console):
    from core.broker.models import PaperBalance
    from core.trade.models import Order, Trade

    console = db_console
    await console.handle(MODEL)
    await console.handle("/deploy cross BTCUSDT 1h")
    await console.handle("/deploy cross BTCUSDT 4h")
    flat = await console.handle("/close 1 --yes")
    assert flat.error and "#1 holds nothing to close" in flat.text
    assert (await console.handle("/close all")).text == "None of your deployments holds a position."

    await _bought(console, 1, 0.05, 60_000.0)
    ask = await console.handle("/close 1")
    assert "sell 0.05 BTCUSDT" in ask.text
    assert [b.command for row in ask.buttons for b in row] == ["/close 1 keep --yes", "/close 1 stop --yes", "/positions"]

    closed = await console.handle("/close 1 --yes")
    assert not closed.error, closed.text
    assert closed.text.startswith("Closed #1 cross: sold 0.05 BTCUSDT at ") and closed.text.endswith("goes on, flat.")
    async with console.core.db.session() as session:
        orders = list(await session.scalars(select(Order).order_by(Order.id)))
        trades = list(await session.scalars(select(Trade).order_by(Trade.id)))
        cash = {b.asset: b.amount for b in await session.scalars(select(PaperBalance)) if not b.asset.startswith("fill:")}
    sell = orders[-1]
    assert (sell.side, sell.reason, sell.quantity, sell.status) == ("sell", "manual", 0.05, "Filled")
    last = (await console.core.market.candles("BTCUSDT", "1h")).last_close
    assert trades[-1].price == last and trades[-1].fee == 0.05 * last * 0.001  # the latest price, the market's fee
    assert trades[-1].pnl == (last - 60_000.0) * 0.05 - trades[-1].fee - trades[0].fee
    assert cash["BTC"] == 0
    [first, _] = await _rows(console)
    assert (first.position_qty, first.status) == (0.0, "NoPosition")
    again = await console.handle("/close 1 --yes")  # the button pressed twice sells once
    assert again.error and "holds nothing" in again.text

    await _bought(console, 2, 0.02, 61_000.0)
    stop = await console.handle("/stop 2")
    assert "is open" in stop.text and "never sell it" in stop.text
    assert [b.command for row in stop.buttons for b in row] == ["/close 2 stop --yes", "/stop 2 --yes", "/pause 2"]
    stopped = await console.handle("/close all stop --yes")
    assert stopped.text.startswith("Closed #2 cross: sold 0.02 BTCUSDT") and stopped.text.endswith("stopped.")
    assert [(r.status, r.position_qty) for r in await _rows(console)] == [("NoPosition", 0.0), ("TaskCanceled", 0.0)]


async def test_stopping_a_holding_deployment_says_where_the_holding_went(console):
    await console.handle(MODEL)
    await console.handle("/deploy cross BTCUSDT 1h")
    await _bought(console, 1, 0.01, 60_000.0)
    done = await console.handle("/stop 1 --yes")
    assert done.text == ("Stopped #1 cross. Its 0.01 BTCUSDT (bought at 60,000.00) stays in your account: "
                         "/close 1 sells it.")
    closed = await console.handle("/close 1 --yes")
    assert closed.text.startswith("Closed #1 cross: sold 0.01 BTCUSDT")


async def test_close_refuses_bad_input(db_console):
    for line, words in (("/close", "id"), ("/close x", "ID"), ("/close 1 maybe", "[keep|stop]"), ("/close 99 --yes", "no deployment #99")):
        reply = await db_console.handle(line)
        assert reply.error and words.lower() in reply.text.lower(), (line, reply.text)
