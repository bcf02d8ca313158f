"""Account commands: /link, /group."""

from __future__ import annotations

from bots.commands import registry
from bots.registry import Arg, ArgKind, Context
from bots.reply import Reply
from core.account import groups, link


@registry.command(
    "link",
    "Link your Telegram and Discord accounts (get a code, then send it from the other app)",
    Arg("code", "the code /link gave you on the other platform", required=False),
    group="Account",
    examples=("/link", "/link ABCD-2345"),
    private_only=True,
)
async def link_(ctx: Context, code: str | None) -> Reply:
    if code is None:
        issued = await link.issue_code(ctx.core.db, ctx.actor)
        minutes = int(link.CODE_LIFETIME.total_seconds() // 60)
        return Reply(
            f"Your link code: {issued.code}\n"
            f"On your other platform (Telegram or Discord), send /link {issued.code} to the bot within "
            f"{minutes} minutes. Both will then share your models, watches and deployments.",
            ephemeral=True,
        )
    result = await link.redeem_code(ctx.core.db, ctx.actor, code)
    return Reply(f"Linked: this account now spans {', '.join(result.platforms)}.", ephemeral=True)


def _on_off(value: bool) -> str:
    return "on" if value else "off"


@registry.command(
    "group",
    "Show this group's settings, or change one (admins only)",
    Arg("setting", "alerts or shared", kind=ArgKind.CHOICE, choices=tuple(groups.SETTINGS), required=False),
    Arg("value", "on or off", kind=ArgKind.CHOICE, choices=("on", "off"), required=False),
    group="Account",
    examples=("/group", "/group alerts off", "/group shared on"),
    admin_only=True,
)
async def group_(ctx: Context, setting: str | None, value: str | None) -> Reply:
    if setting is None:
        current = await groups.group_settings(ctx.core.db, ctx.actor)
    elif value is None:
        return Reply.fail(f"say on or off: /group {setting} on")
    else:
        current = await groups.change_group_setting(ctx.core.db, ctx.actor, setting, value == "on")
    lines = [f"Settings of {current.title or 'this group'}:"]
    lines += [
        f"  {name}: {_on_off(getattr(current, name))} ({summary})"
        for name, (_, summary) in groups.SETTINGS.items()
    ]
    return Reply("\n".join(lines))
