"""Deployment commands: /deploy, /deployments, /pause, /resume, /stop, /stopall, /undeploy, /close."""

from __future__ import annotations

from bots.commands import registry
from bots.commands.market import INTERVAL, TICKER
from bots.paging import paged_reply
from bots.registry import Arg, ArgKind, Context, UsageError, whole
from bots.reply import Button, Reply
from core.deployment import service as deployments
from core.deployment.service import DeploymentView
from core.deployment.status import ENDED, RUNNING

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
    return not _is_timing(token) and token != "--yes"


def _position(view: DeploymentView) -> str:
    if view.position_qty > 0:
        entry = f" from {view.entry_price:,.8g}" if view.entry_price else ""
        return f"holding {view.position_qty:g}{entry}"
    return "flat"


def _line(view: DeploymentView) -> str:
    account = "paper" if view.paper else f"{view.broker} '{view.credential_label}' (live)"
    signal = f" · last signal {view.last_signal}" if view.last_signal else ""
    bar = f" · last bar {view.last_bar_at:%Y-%m-%d %H:%M} UTC" if view.last_bar_at and view.status not in ("TaskPending",) else ""
    reason = f"\n    {view.status_reason}" if view.status_reason else ""
    return (
        f"#{view.id} {view.label} · {view.ticker} {view.interval} {view.timing} · {account}\n"
        f"    {view.status} · {_position(view)}{signal}{bar}{reason}"
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
    group=GROUP,
    examples=("/deploy ema_cross BTCUSDT 1h", "/deploy ema_cross BBCA 1d late", "/deploy ema_cross BTCUSDT 4h binance1"),
    confirmable=True,
)  # fmt: skip
async def deploy(
    ctx: Context, model: str, ticker: str, interval: str, credential: str | None, timing: str, confirmed: bool = False
) -> Reply:
    core = ctx.core
    plan = await deployments.plan_deployment(
        core.db, core.settings, core.market, ctx.actor, model, ticker, interval, credential=credential, timing=timing
    )
    if not plan.paper and not confirmed:
        line = " ".join(p for p in ("/deploy", plan.label, plan.ticker, plan.interval, credential or "", timing) if p)
        return Reply(
            f"Deploy '{plan.label}' on {plan.ticker} {plan.interval} with your LIVE {plan.broker} account "
            f"'{plan.credential_label}'?\nIt places real market orders at each signal, using up to "
            f"{plan.size:.0%} of the free {plan.symbol.split('/')[-1]} balance per entry.",
            buttons=[[Button("Yes, trade live", f"{line} --yes"), Button("Cancel", "/deployments")]],
        )
    view = await deployments.deploy(
        core.db, core.settings, core.market, ctx.actor, plan.label, plan.ticker, plan.interval,
        credential=credential, timing=timing, confirmed=confirmed, plan=plan,
    )  # fmt: skip
    where = "your paper account" if view.paper else f"{view.broker} '{view.credential_label}' (live)"
    when = "at each candle close" if view.timing == "OnTime" else "a grace delay after each candle close"
    return Reply(
        f"Deployed '{view.label}' as #{view.id} on {view.ticker} {view.interval}, trading {where}.\n"
        f"It is evaluated {when}; the first decision comes on the next closed candle.",
        buttons=[[Button("Deployments", "/deployments"), Button("Pause", f"/pause {view.id}")]],
    )


@registry.command(
    "deployments",
    "Your deployments: status, position, last signal",
    Arg("page", "page number", kind=ArgKind.INT, required=False, default=1, matches=str.isdigit),
    group=GROUP,
)
async def deployments_(ctx: Context, page: int) -> Reply:
    found = await deployments.list_deployments(ctx.core.db, ctx.actor, page, PAGE_SIZE)
    running = any(v.status in RUNNING for v in found.items)
    return paged_reply(
        found, title="Your deployments", command="/deployments", line=_line,
        empty="You have no deployments. Deploy a saved model with /deploy MODEL TICKER [INTERVAL].",
        buttons=[Button("Pause all", "/stopall")] if running else [],
    )  # fmt: skip


async def _set(ctx: Context, deployment_id: str, action: str) -> DeploymentView:
    return await deployments.update_status(ctx.core.db, ctx.core.settings, ctx.actor, _number(deployment_id), action)


@registry.command("pause", "Pause a deployment", ID, group=GROUP, examples=("/pause 3",))
async def pause(ctx: Context, id: str) -> Reply:
    view = await _set(ctx, id, "pause")
    return Reply(f"Paused #{view.id} {view.label} ({_position(view)}).", buttons=[[Button("Resume", f"/resume {view.id}")]])


@registry.command("resume", "Resume a paused deployment", ID, group=GROUP, examples=("/resume 3",))
async def resume(ctx: Context, id: str) -> Reply:
    view = await _set(ctx, id, "resume")
    return Reply(f"Resumed #{view.id} {view.label}: {view.status}, from the next closed candle.")


@registry.command(
    "stop", "Stop a deployment for good", ID,
    group=GROUP, examples=("/stop 3",), confirmable=True,
)  # fmt: skip
async def stop(ctx: Context, id: str, confirmed: bool = False) -> Reply:
    if not confirmed:
        view = await deployments.get_deployment(ctx.core.db, ctx.actor, _number(id))
        if view.status in ENDED:
            return Reply.fail(f"deployment #{view.id} has already ended ({view.status})")
        return stop_question(view)
    view = await _set(ctx, id, "stop")
    kept = f" {_holding(view)} stays in your account: /close {view.id} sells it." if view.position_qty > 0 else ""
    return Reply(f"Stopped #{view.id} {view.label} ({view.status}).{kept}")


def _holding(view: DeploymentView) -> str:
    entry = f" (bought at {view.entry_price:,.8g})" if view.entry_price else ""
    return f"Its {view.position_qty:g} {view.ticker}{entry}"


def stop_question(view: DeploymentView) -> Reply:
    """/stop's question: what happens to the position, and the choice to close it first."""
    if view.position_qty <= 0:
        return Reply(
            f"Stop #{view.id} {view.label} on {view.ticker} {view.interval} for good? It holds nothing.\n"
            "/pause keeps it resumable instead.",
            buttons=[[Button("Yes, stop", f"/stop {view.id} --yes"), Button("Pause instead", f"/pause {view.id}")]],
        )
    return Reply(
        f"Stop #{view.id} {view.label} on {view.ticker} {view.interval} for good?\n"
        f"{_holding(view)} is open. Stopping alone leaves it in your account and the bot will never sell it; "
        "close it to sell it at market now.",
        buttons=[
            [Button("Close position and stop", f"/close {view.id} stop --yes")],
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
async def close(ctx: Context, id: str, then: str, confirmed: bool = False) -> Reply:
    from core.deployment.close import close_position, holding

    core = ctx.core
    stop_after = then.lower() == "stop"
    ids = await holding(core.db, ctx.actor) if id.lower() == "all" else [_number(id)]
    if id.lower() == "all" and not ids:
        return Reply("None of your deployments holds a position.")
    if not confirmed:
        views = [await deployments.get_deployment(core.db, ctx.actor, i) for i in ids]
        for view in views:
            if view.position_qty <= 0:
                return Reply.fail(f"deployment #{view.id} holds nothing to close", "/positions")
        what = "\n".join(f"#{v.id} {v.label}: sell {v.position_qty:g} {v.ticker}" for v in views)
        target = "all" if id.lower() == "all" else str(views[0].id)
        return Reply(
            f"Close at market now?\n{what}\nAfterwards the deployment can go on (flat, it may buy again at its "
            "next signal) or stop.",
            buttons=[[Button("Close, keep running", f"/close {target} keep --yes"),
                      Button("Close and stop", f"/close {target} stop --yes")],
                     [Button("Cancel", "/positions")]],
        )  # fmt: skip
    lines = []
    for deployment_id in ids:
        done = await close_position(core.db, core.settings, core.market, ctx.actor, deployment_id, stop=stop_after)
        lines.append(closed_line(done))
    return Reply("\n".join(lines))


def closed_line(done) -> str:
    view, outcome = done.deployment, done.outcome
    after = "stopped" if done.stopped else "goes on, flat"
    if outcome.status == "Filled":
        pnl = f", P&L {outcome.pnl:+,.2f}" if outcome.pnl is not None else ""
        return (f"Closed #{view.id} {view.label}: sold {outcome.quantity:g} {view.ticker} at {outcome.price:,.8g} "
                f"(fee {outcome.fee:,.8g}{pnl}); {after}.")  # fmt: skip
    if outcome.final:
        return f"#{view.id} {view.label} was not closed: {outcome.error or outcome.status}."
    return f"#{view.id} {view.label}: the sell was sent and is being confirmed with the exchange; {after}."


@registry.command(
    "stopall", "Pause all running deployments", group=GROUP, confirmable=True
)
async def stopall(ctx: Context, confirmed: bool = False) -> Reply:
    if not confirmed:
        return Reply(
            "Pause all your running deployments now? Positions are kept; /resume ID continues one.",
            buttons=[[Button("Yes, pause all", "/stopall --yes"), Button("Cancel", "/deployments")]],
        )
    paused = await deployments.stop_all(ctx.core.db, ctx.actor)
    if not paused:
        return Reply("No deployment was running.")
    return Reply(f"Paused {len(paused)} deployment(s): " + ", ".join(f"#{i}" for i in paused) + ".")


@registry.command(
    "undeploy", "Delete a deployment that holds nothing", ID,
    group=GROUP, examples=("/undeploy 3",), confirmable=True,
)  # fmt: skip
async def undeploy(ctx: Context, id: str, confirmed: bool = False) -> Reply:
    if not confirmed:
        view = await deployments.get_deployment(ctx.core.db, ctx.actor, _number(id))
        return Reply(
            f"Delete #{view.id} {view.label} on {view.ticker} {view.interval}? Its trades stay in /trades.",
            buttons=[[Button("Yes, delete", f"/undeploy {view.id} --yes"), Button("Keep", "/deployments")]],
        )
    gone = await deployments.delete_deployment(ctx.core.db, ctx.actor, _number(id))
    return Reply(f"Deleted deployment #{gone.id} {gone.label}.")
