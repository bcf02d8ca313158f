"""Deployment commands: /deploy, /deployments, /pause, /resume, /stop, /stopall, /undeploy, /close.

``/deploy`` takes the stake of each entry as ``size=``: a number with ``%`` is a share of the free
quote balance (``size=25%``), a bare number a fixed amount in the quote currency (``size=500`` is
500 USDT on BTCUSDT, 500 rupiah on an IDX stock; rupiah are whole). Without it an entry uses the
whole free balance. Input overrides (``fast=5``) follow, checked like ``/run`` checks them.
"""

from __future__ import annotations

import math
from typing import Any

from bots.commands import registry
from bots.commands.market import INTERVAL, TICKER
from bots.commands.models import parse_inputs
from bots.paging import paged_reply
from bots.registry import Arg, ArgKind, Context, UsageError, whole
from core import format as fmt
from core.deployment import service as deployments
from core.deployment.service import Action, DeploymentView
from core.deployment.status import ENDED, RUNNING, Status
from core.message import Button, ButtonStyle, Message
from core.trade.models import OrderStatus

PAGE_SIZE = 10
_TIMINGS = ("ontime", "late")
GROUP = "Deployments"
ID = Arg("id", "the deployment's number, e.g. 3 or #3 (see /deployments)")


def _number(text: str) -> int:
    """A deployment number as typed: ``3`` or ``#3`` (the way /deployments shows it)."""
    digits = text.strip().removeprefix("#")
    if not digits.isdigit():
        raise UsageError(f"ID is a deployment number such as 3, not '{text}'")
    return whole(digits, "ID")


def _is_timing(token: str) -> bool:
    return token.lower() in _TIMINGS


def _is_credential(token: str) -> bool:
    return not _is_timing(token) and token != "--yes" and "=" not in token


def _is_size(token: str) -> bool:
    return token.lower().startswith("size=")


SIZE_HELP = "size=25% (a share of the free balance) or size=500 (a fixed amount in the quote currency)"


def parse_size(text: str) -> tuple[float | None, float | None]:
    """``size=25%`` -> (0.25, None); ``size=500`` -> (None, 500.0). The ``size=`` may be left out
    (Discord's size option). UsageError, naming what is wrong, for anything else."""
    raw = text.strip()
    if raw.lower().startswith("size="):
        raw = raw[len("size="):].strip()
    shown = raw[:20]
    if not raw:
        raise UsageError(f"size needs a value: {SIZE_HELP}")
    percent = raw.endswith("%")
    digits = raw[:-1].strip() if percent else raw
    if "," in digits or digits.count(".") > 1:
        raise UsageError(f"write the stake without thousands separators, e.g. size=1000000, not '{shown}'")
    try:
        value = float(digits)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise UsageError(f"size is a percentage such as 25% or an amount such as 500, not '{shown}'")
    if percent:
        if not 0 < value <= 100:
            raise UsageError(f"a stake in percent is above 0% and at most 100%, not {shown}")
        return value / 100, None
    if value <= 0:
        raise UsageError(f"a stake amount must be above 0, not {shown}")
    return None, value


def _overrides(words: list[str]) -> tuple[list[str], dict[str, Any]]:
    """The trailing words of /deploy: any ``size=`` among them, and the input overrides."""
    sizes = [w for w in words if _is_size(w)]
    for word in words:
        if _is_timing(word):
            raise UsageError(f"'{word}' goes before size= and the inputs: /deploy MODEL TICKER 1h {word.lower()} fast=5")
    return sizes, parse_inputs([w for w in words if not _is_size(w)])


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.4g}%"


def _input_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def inputs_text(inputs: dict[str, Any]) -> str:
    return " ".join(f"{k}={_input_value(v)}" for k, v in inputs.items())


def stake_text(size: float, stake_amount: float | None, currency: str, cap: float | None = None) -> str:
    """``25% of the free USDT balance`` or ``500 USDT``, with the plan's cap when there is one."""
    if stake_amount is not None:
        text = f"{fmt.quantity(stake_amount)} {currency}"
    else:
        text = f"{_percent(size)} of the free {currency} balance"
    return text + (f" (at most {fmt.quantity(cap)} {currency})" if cap is not None else "")


def _price(view: DeploymentView, value: float | None) -> str:
    """A price of the deployment's instrument, with its precision (whole rupiah on IDX)."""
    return fmt.price(value, view.quote_currency, symbol=view.ticker)


def _position(view: DeploymentView) -> str:
    if view.position_qty <= 0:
        return "no position"
    entry = f" from {_price(view, view.entry_price)}" if view.entry_price else ""
    return f"holding {view.position_qty:g}{entry}"


def _state(view: DeploymentView) -> str:
    """Its state in words: "waiting for the next candle", "holding 0.1 from 61,000", "paused, holding ..."."""
    if view.position_qty <= 0:
        return view.status.words
    return _position(view) if view.status == Status.LONG else f"{view.status.words}, {_position(view)}"


def _stake(view: DeploymentView) -> str:
    currency = view.quote_currency
    if view.stake_amount is not None:
        stake = f"stake {fmt.quantity(view.stake_amount)} {currency}".rstrip()
    else:
        stake = f"stake {_percent(view.size)}"
    if view.max_position_value is not None:
        stake += f" (at most {fmt.quantity(view.max_position_value)} {currency})".replace(" )", ")")
    return stake


def _line(view: DeploymentView) -> str:
    account = "paper" if view.paper else f"{view.broker} '{view.credential_label}' (live)"
    signal = f" · last signal {view.last_signal}" if view.last_signal else ""
    bar = f" · last bar {view.last_bar_at:%Y-%m-%d %H:%M} UTC" if view.last_bar_at and view.status != Status.PENDING else ""
    reason = f"\n    {view.status_reason}" if view.status_reason else ""
    inputs = f" · inputs {inputs_text(view.inputs)}" if view.inputs else ""
    return (
        f"#{view.id} {view.label} · {view.ticker} {view.interval} {view.timing} · {account}\n"
        f"    {_state(view)}{signal}{bar}\n"
        f"    {_stake(view)}{inputs}{reason}"
    )


@registry.command(
    "deploy",
    "Run a model on a ticker at each candle close",
    Arg("model", "the model's name (see /models)", suggest="model"),
    TICKER,
    INTERVAL,
    Arg("credential", "a connected broker key's name; leave out for your paper account", required=False,
        matches=_is_credential),
    Arg("timing", "ontime (at the candle close) or late (after a grace delay, for delayed feeds)",
        kind=ArgKind.CHOICE, choices=_TIMINGS, required=False, matches=_is_timing, default="ontime"),
    Arg("size", "stake per entry: size=25% (of the free balance) or size=500 (fixed, in USDT or rupiah)",
        required=False, matches=_is_size),
    Arg("inputs", "input overrides for this deployment: fast=5 slow=30", required=False, many=True, default=[]),
    group=GROUP,
    examples=(
        "/deploy ema_cross BTCUSDT 1h", "/deploy ema_cross BBCA 1d late size=1000000",
        "/deploy ema_cross BTCUSDT 4h binance1 size=25% fast=5",
    ),
    confirmable=True,
    operations=("Deploy Model",),
)  # fmt: skip
async def deploy(
    ctx: Context, model: str, ticker: str, interval: str, credential: str | None, timing: str,
    size: str | None = None, inputs: list[str] | None = None, confirmed: bool = False,
) -> Message:  # fmt: skip
    core = ctx.core
    more_sizes, overrides = _overrides(list(inputs or []))
    sizes = ([size] if size else []) + more_sizes
    if len(sizes) > 1:
        raise UsageError("give size= once")
    fraction, amount = parse_size(sizes[0]) if sizes else (None, None)
    request = deployments.DeployRequest(
        model, ticker, interval, credential=credential, timing=timing, size=fraction, stake_amount=amount,
        inputs=overrides,
    )
    plan = await deployments.plan_deployment(core, ctx.actor, request)
    currency = plan.quote_currency
    stake = stake_text(plan.size, plan.stake_amount, currency, plan.max_position_value)
    inputs_line = f"\nInputs: {inputs_text(plan.inputs)}" if plan.inputs else ""
    if not plan.paper and not confirmed:
        size_word = "" if not sizes else "size=" + (
            f"{plan.stake_amount:.15g}" if plan.stake_amount is not None else f"{plan.size * 100:.12g}%"
        )
        words = ("/deploy", plan.label, plan.ticker, plan.interval, credential or "", timing, size_word,
                 inputs_text(plan.overrides))  # fmt: skip
        line = " ".join(p for p in words if p)
        return Message(
            f"Deploy '{plan.label}' on {plan.ticker} {plan.interval} with your LIVE {plan.broker} account "
            f"'{plan.credential_label}'?\nIt places real market orders at each signal, staking {stake} per entry."
            f"{inputs_line}",
            buttons=[[Button("Yes, trade live", f"{line} --yes"), Button("Cancel", "/deployments")]],
        )
    view = await deployments.deploy(core, ctx.actor, plan, confirmed=confirmed)
    where = "your paper account" if view.paper else f"{view.broker} '{view.credential_label}' (live)"
    when = "at each candle close" if view.timing == "OnTime" else "a grace delay after each candle close"
    return Message(
        f"Deployed '{view.label}' as #{view.id} on {view.ticker} {view.interval}, trading {where}.\n"
        f"It is evaluated {when}; the first decision comes on the next closed candle.\n"
        f"Stake per entry: {stake}.{inputs_line}",
        buttons=[[Button("Deployments", "/deployments"), Button("Pause", f"/pause {view.id}")]],
    )


@registry.command(
    "deployments",
    "Your deployments: status, position, last signal",
    Arg("page", "page number", kind=ArgKind.INT, required=False, default=1, matches=str.isdigit),
    group=GROUP,
    operations=("Retrieve List Deployed Models",),
)
async def deployments_(ctx: Context, page: int) -> Message:
    found = await deployments.list_deployments(ctx.core, ctx.actor, page, PAGE_SIZE)
    running = any(v.status in RUNNING for v in found.items)
    return paged_reply(
        found, title="Your deployments", command="/deployments", line=_line,
        empty="You have no deployments. Deploy a saved model with /deploy MODEL TICKER [INTERVAL].",
        buttons=[Button("Pause all", "/stopall")] if running else [],
    )  # fmt: skip


async def _set(ctx: Context, deployment_id: str, action: Action) -> DeploymentView:
    return await deployments.update_status(ctx.core, ctx.actor, _number(deployment_id), action)


@registry.command("pause", "Pause a deployment", ID, group=GROUP, examples=("/pause 3",), operations=("Update Status Deployment",))
async def pause(ctx: Context, id: str) -> Message:
    view = await _set(ctx, id, Action.PAUSE)
    return Message(f"Paused #{view.id} {view.label} ({_position(view)}).", buttons=[[Button("Resume", f"/resume {view.id}")]])


@registry.command("resume", "Resume a paused deployment", ID, group=GROUP, examples=("/resume 3",), operations=("Update Status Deployment",))
async def resume(ctx: Context, id: str) -> Message:
    view = await _set(ctx, id, Action.RESUME)
    return Message(f"Resumed #{view.id} {view.label}: {view.status.words}, from the next closed candle.")


@registry.command(
    "stop", "Stop a deployment for good", ID,
    group=GROUP, examples=("/stop 3",), confirmable=True,
    operations=("Update Status Deployment",),
)  # fmt: skip
async def stop(ctx: Context, id: str, confirmed: bool = False) -> Message:
    if not confirmed:
        view = await deployments.get_deployment(ctx.core, ctx.actor, _number(id))
        if view.status in ENDED:
            return Message.fail(f"deployment #{view.id} has already ended ({view.status.words})")
        return stop_question(view)
    view = await _set(ctx, id, Action.STOP)
    kept = f" {_holding(view)} stays in your account: /close {view.id} sells it." if view.position_qty > 0 else ""
    return Message(f"Stopped #{view.id} {view.label}.{kept}")


def _holding(view: DeploymentView) -> str:
    entry = f" (bought at {_price(view, view.entry_price)})" if view.entry_price else ""
    return f"Its {view.position_qty:g} {view.ticker}{entry}"


def stop_question(view: DeploymentView) -> Message:
    """/stop's question: what happens to the position, and the choice to close it first."""
    if view.position_qty <= 0:
        return Message(
            f"Stop #{view.id} {view.label} on {view.ticker} {view.interval} for good? It holds nothing.\n"
            "/pause keeps it resumable instead.",
            buttons=[[Button("Yes, stop", f"/stop {view.id} --yes", style=ButtonStyle.DANGER), Button("Pause instead", f"/pause {view.id}")]],
        )
    return Message(
        f"Stop #{view.id} {view.label} on {view.ticker} {view.interval} for good?\n"
        f"{_holding(view)} is open. Stopping alone leaves it in your account and the bot will never sell it; "
        "close it to sell it at market now.",
        buttons=[
            [Button("Close position and stop", f"/close {view.id} stop --yes", style=ButtonStyle.DANGER)],
            [Button("Stop, keep the holding", f"/stop {view.id} --yes"), Button("Pause instead", f"/pause {view.id}")],
        ],
    )


_THEN = ("keep", "stop")


@registry.command(
    "close", "Sell a deployment's position at market now",
    Arg("id", "a deployment number (see /deployments), or all", matches=lambda t: t.lower() == "all" or
        t.removeprefix("#").isdigit()),
    Arg("then", "keep (the deployment goes on, flat) or stop (it ends)", kind=ArgKind.CHOICE, choices=_THEN,
        required=False, default="keep", matches=lambda t: t.lower() in _THEN),
    group=GROUP, examples=("/close 3", "/close 3 stop", "/close all"), confirmable=True,
)  # fmt: skip
async def close(ctx: Context, id: str, then: str, confirmed: bool = False) -> Message:
    from core.deployment.close import close_position, holding

    core = ctx.core
    stop_after = then.lower() == "stop"
    ids = await holding(core, ctx.actor) if id.lower() == "all" else [_number(id)]
    if id.lower() == "all" and not ids:
        return Message("None of your deployments holds a position.")
    if not confirmed:
        views = [await deployments.get_deployment(core, ctx.actor, i) for i in ids]
        for view in views:
            if view.position_qty <= 0:
                return Message.fail(f"deployment #{view.id} holds nothing to close", "/positions")
        what = "\n".join(f"#{v.id} {v.label}: sell {v.position_qty:g} {v.ticker}" for v in views)
        target = "all" if id.lower() == "all" else str(views[0].id)
        return Message(
            f"Close at market now?\n{what}\nAfterwards the deployment can go on (flat, it may buy again at its "
            "next signal) or stop.",
            buttons=[[Button("Close, keep running", f"/close {target} keep --yes"),
                      Button("Close and stop", f"/close {target} stop --yes")],
                     [Button("Cancel", "/positions")]],
        )  # fmt: skip
    lines = []
    for deployment_id in ids:
        done = await close_position(core, ctx.actor, deployment_id, stop=stop_after)
        lines.append(closed_line(done))
    return Message("\n".join(lines))


def closed_line(done) -> str:
    view, outcome = done.deployment, done.outcome
    after = "stopped" if done.stopped else "goes on, flat"
    if outcome.status == OrderStatus.FILLED:
        pnl = f", P&L {outcome.pnl:+,.2f}" if outcome.pnl is not None else ""
        return (f"Closed #{view.id} {view.label}: sold {outcome.quantity:g} {view.ticker} at {_price(view, outcome.price)} "
                f"(fee {outcome.fee:,.8g}{pnl}); {after}.")  # fmt: skip
    if outcome.final:
        return f"#{view.id} {view.label} was not closed: {outcome.error or outcome.status}."
    return f"#{view.id} {view.label}: the sell was sent and is being confirmed with the exchange; {after}."


@registry.command(
    "stopall", "Pause all running deployments", group=GROUP, confirmable=True
)
async def stopall(ctx: Context, confirmed: bool = False) -> Message:
    if not confirmed:
        return Message(
            "Pause all your running deployments now? Positions are kept; /resume ID continues one.",
            buttons=[[Button("Yes, pause all", "/stopall --yes"), Button("Cancel", "/deployments")]],
        )
    paused = await deployments.stop_all(ctx.core, ctx.actor)
    if not paused:
        return Message("No deployment was running.")
    return Message(f"Paused {len(paused)} deployment(s): " + ", ".join(f"#{i}" for i in paused) + ".")


@registry.command(
    "undeploy", "Delete a deployment that holds nothing", ID,
    group=GROUP, examples=("/undeploy 3",), confirmable=True,
    operations=("Delete Deployed Model",),
)  # fmt: skip
async def undeploy(ctx: Context, id: str, confirmed: bool = False) -> Message:
    if not confirmed:
        view = await deployments.get_deployment(ctx.core, ctx.actor, _number(id))
        return Message(
            f"Delete #{view.id} {view.label} on {view.ticker} {view.interval}? Its trades stay in /trades.",
            buttons=[[Button("Yes, delete", f"/undeploy {view.id} --yes", style=ButtonStyle.DANGER), Button("Keep", "/deployments")]],
        )
    gone = await deployments.delete_deployment(ctx.core, ctx.actor, _number(id))
    return Message(f"Deleted deployment #{gone.id} {gone.label}.")
