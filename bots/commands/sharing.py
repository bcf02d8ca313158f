"""Sharing: /share posts a result card into a group, /copy takes a shared model or strategy."""

from __future__ import annotations

from bots.commands import registry
from bots.commands.market import INTERVAL, RANGE, TICKER
from bots.commands.results import heading, rule_lines, share_command, stat_lines
from bots.registry import Arg, ArgKind, Context
from core.account.membership import MembershipCheck
from core.db import parse_id
from core.errors import NotFound, Unavailable
from core.message import Button, Image, Message
from core.model import service as models
from core.model.execute import ScriptRun, execute_script
from core.notify import ChatTarget
from core.sharing import service as sharing
from core.simulation.service import SimulationRequest, simulate
from core.strategy import service as strategies
from core.strategy.rules import Analytic


def _membership(ctx: Context) -> MembershipCheck | None:
    """The platform's own answer to "still in that group?" (its notifier), to confirm a stored
    membership: leaves are not always reported (bots/telegram/members.py, bots/discord/members.py)."""
    platform = ctx.core.notifiers.get(ctx.actor.platform)
    return platform if isinstance(platform, MembershipCheck) else None


def _is_target(token: str) -> bool:
    return token.lower().startswith("to=")


@registry.command(
    "share",
    "Post a model's or strategy's result card (stats and chart) into a group",
    Arg("name", "a model or strategy of yours", suggest="model_or_strategy"),
    TICKER,
    INTERVAL,
    RANGE,
    Arg("to", "in a private chat: the group to post in (the bot offers buttons)", required=False,
        matches=_is_target),
    group="Sharing",
    examples=("/share ema_cross BBCA", "/share dip BTCUSDT 4h 6mo"),
    expensive=True,
)  # fmt: skip
async def share(ctx: Context, name: str, ticker: str, interval: str, range: str | None, to: str | None) -> Message:
    db, actor = ctx.core.db, ctx.actor
    line = share_command(name, ticker, interval, range)
    if actor.is_group:
        group = await sharing.current_group(db, actor)
    elif to is None:
        groups = await sharing.share_targets(db, actor)
        if not groups:
            return Message.fail(
                "I have not seen you in a group that allows sharing. Send /share there, or any command in the "
                "group first so I know you are a member."
            )
        rows = [[Button(g.title[:60], f"{line} to={g.id}")] for g in groups[:10]]
        return Message("Which group should get the card?", buttons=rows, ephemeral=True)
    else:
        wanted = to.partition("=")[2]
        group_id = parse_id(wanted)
        if group_id is None:
            return Message.fail(f"'{to}' does not name a group", "pick one of the groups /share offers")
        offered = next((g for g in await sharing.share_targets(db, actor) if g.id == group_id), None)
        if offered is None:
            raise NotFound("that group is not one you can share into")
        group = offered
        await sharing.confirm_member(db, actor, group, _membership(ctx), f"you are no longer in {group.title}")

    card = await _card(ctx, name, ticker, interval, range)
    record = await sharing.record_share(
        db, actor, group.id, kind=card.kind, label=card.label, ticker=ticker.upper(), interval=interval,
        range_=range or "", payload=card.payload, stats=card.stats,
    )  # fmt: skip
    text = card.text + f"\nShared by {actor.display_name or 'a member'} · /copy {record.id} to get this {card.kind}"
    copy = Button(f"Copy this {card.kind}", f"/copy {record.id}", public=True)
    if actor.is_group:
        return Message(text, images=card.images, buttons=[[copy]])
    notifier = ctx.core.notifiers.get(actor.platform)
    if notifier is None:
        raise Unavailable(f"cannot post into {group.title} from here")
    # posted as an alert is: the images without their captions (the card's text says it all)
    post = Message(text, images=tuple(Image(i.data, i.filename) for i in card.images), buttons=((copy,),))
    delivered = await notifier.send(ChatTarget(group.platform, group.external_id), post)
    if not delivered:
        raise Unavailable(f"{group.title} did not take the card (was the bot removed there?)")
    return Message(f"Shared '{card.label}' on {ticker.upper()} into {group.title}.", ephemeral=True)


class _Card:
    def __init__(self, kind: str, label: str, text: str, images: list[Image], payload: dict, stats: dict) -> None:
        self.kind, self.label, self.text, self.images, self.payload, self.stats = (
            kind, label, text, images, payload, stats,
        )  # fmt: skip


async def _card(ctx: Context, name: str, ticker: str, interval: str, range_: str | None) -> _Card:
    """Run the model (or else the strategy) of that name and build its card."""
    db, actor, core = ctx.core.db, ctx.actor, ctx.core
    try:
        view = await models.get_model(db, actor, name)
    except NotFound:
        view = None
    if view is not None:
        execution = await execute_script(core, actor, ScriptRun.of_model(view, ticker, interval, range_))
        lines = [f"📊 Model {heading(view.label, execution.candles, range_)}"]
        if execution.backtest is None:
            lines.append("Indicator model (no trades)")
        else:
            lines += stat_lines(execution.stats)
        images = [Image(execution.chart, f"{view.label}.png")] if execution.chart else []
        payload = {"source": view.source, "inputs": view.inputs, "overlay": view.overlay, "description": view.description}
        return _Card("model", view.label, "\n".join(lines), images, payload, execution.stats)
    try:
        found = await strategies.get_strategy(db, actor, name)
    except NotFound:
        raise NotFound(f"you have no model or strategy '{name}'", hint="see /models and /strategies") from None
    if found.analytic is not Analytic.TECHNICAL:
        raise NotFound(f"'{found.label}' is a {found.analytic.value} strategy: only backtests can be shared")
    result = await simulate(core, actor, SimulationRequest(found.label, ticker, interval, range_))
    assert result.candles is not None
    lines = [f"📊 Strategy {heading(found.label, result.candles, range_)}"]
    lines += rule_lines(found)
    lines += stat_lines(result.stats)
    images = [Image(result.chart, f"{found.label}.png")] if result.chart else []
    payload = {
        "analytic": found.analytic.value,
        "description": found.description,
        "rules": [{"action": r.action, "condition": r.condition} for r in found.rules],
    }
    return _Card("strategy", found.label, "\n".join(lines), images, payload, result.stats)


@registry.command(
    "copy",
    "Copy a model or strategy shared in a group into your own",
    Arg("share", "the number on the shared card", kind=ArgKind.INT),
    Arg("name", "a new name for your copy (default: the shared name)", required=False),
    group="Sharing",
    examples=("/copy 12", "/copy 12 my_ema"),
)
async def copy(ctx: Context, share: int, name: str | None) -> Message:
    result = await sharing.copy_share(ctx.core.db, ctx.actor, share, name, _membership(ctx))
    if isinstance(result, models.Saved):
        label = result.model.label
        return Message(
            f"Copied model '{label}' into your models. Run it: /run {label} BBCA",
            buttons=[[Button("Run on BBCA", f"/run {label} BBCA 1d 1y")]],
        )
    view, _ = result
    return Message(f"Copied strategy '{view.label}' with {len(view.rules)} rule(s). Try /simulate {view.label} BBCA")
