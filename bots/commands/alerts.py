"""/alerts: which pushed alerts a person receives in their private chats.

A group's alerts are its admins' choice, made with ``/group alerts on|off``; this command is about
the person, so in a group it points there instead of changing anything.
"""

from __future__ import annotations

from bots.commands import registry
from bots.registry import Arg, ArgKind, Context
from core.account import preferences
from core.message import Button, Message

GROUP_HINT = (
    "In a group, its admins choose with /group alerts on|off. Your own alerts are set with /alerts "
    "in a private chat with me."
)


@registry.command(
    "alerts",
    "Choose which alerts you receive: trades of your deployments, watchlist crossings",
    Arg("kind", "trades, watch or all", kind=ArgKind.CHOICE, choices=(*preferences.KINDS, "all"), required=False),
    Arg("value", "on or off", kind=ArgKind.CHOICE, choices=("on", "off"), required=False),
    group="Account",
    examples=("/alerts", "/alerts watch off", "/alerts trades on", "/alerts all off"),
)
async def alerts_(ctx: Context, kind: str | None, value: str | None) -> Message:
    if ctx.actor.is_group:
        return Message.fail(GROUP_HINT)
    if kind is None:
        choices = await preferences.alert_choices(ctx.core.db, ctx.actor)
        heading = "Your alerts:"
    elif value is None:
        return Message.fail(f"say on or off: /alerts {kind} off", "/alerts [trades|watch|all] [on|off]")
    else:
        choices = await preferences.set_alert_choice(ctx.core.db, ctx.actor, kind, value == "on")
        heading = f"{'All alerts' if kind == 'all' else kind.capitalize() + ' alerts'} turned {value}. Your alerts:"
    lines = [heading]
    buttons = []
    for name, summary in preferences.SUMMARIES.items():
        on = getattr(choices, name)
        lines.append(f"  {name}: {'on' if on else 'off'} ({summary})")
        flip = "off" if on else "on"
        buttons.append(Button(f"{name.capitalize()} {flip}", f"/alerts {name} {flip}"))
    return Message("\n".join(lines), buttons=[buttons])
