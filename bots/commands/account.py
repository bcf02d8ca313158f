"""Account commands: /link, /group."""

from __future__ import annotations

from bots.commands import registry
from bots.registry import Arg, ArgKind, Context
from core.account import groups
from core.errors import Forbidden, NotFound
from core.lifecycle import link
from core.message import Button, ButtonStyle, Message


@registry.command(
    "link",
    "Link your Telegram and Discord accounts (get a code, then send it from the other app)",
    Arg("code", "the code /link gave you on the other platform", required=False),
    Arg("confirm", "set by the button under the preview: confirms the link", required=False),
    group="Account",
    examples=("/link", "/link ABCD-2345"),
    private_only=True,
)
async def link_(ctx: Context, code: str | None, confirm: str | None = None) -> Message:
    """``/link`` issues a code; ``/link CODE`` shows whose account this one would join and what
    moves there, and links only when its button is pressed."""
    if code is None:
        issued = await link.issue_code(ctx.core.db, ctx.actor)
        minutes = int(link.CODE_LIFETIME.total_seconds() // 60)
        return Message(
            f"Your link code: {issued.code}\n"
            f"On your other platform (Telegram or Discord), send /link {issued.code} to the bot within "
            f"{minutes} minutes. Both will then share your models, watches and deployments.",
            buttons=[[Button.copy("Copy the /link command", f"/link {issued.code}")]],
            ephemeral=True,
        )
    preview = await link.preview_link(ctx.core.db, ctx.actor, code)
    if confirm is None or not await _confirmed(ctx, preview.code, confirm):
        return await _ask_to_link(ctx, preview)
    result = await link.redeem_code(ctx.core.db, ctx.actor, code)
    return Message(f"Linked: this account now spans {', '.join(result.platforms)}.", ephemeral=True)


# The confirmation is a one-off token the preview's button carries, bound to the asker and the code,
# not a typed ``--yes``: whoever talks someone into sending ``/link CODE`` could as easily have them
# add ``--yes``, while the token exists only under the preview the asker was shown.
def _confirm_owner(ctx: Context) -> str:
    return f"link:{ctx.actor.user_id}"


async def _ask_to_link(ctx: Context, preview: link.LinkPreview) -> Message:
    token = await ctx.core.state.buttons.bind(_confirm_owner(ctx), f"/link {preview.code}")
    moves = ", ".join(f"{count} {what}" for what, count in preview.moves) or "nothing yet"
    whose = f"{preview.target_name[:40]}'s account" if preview.target_name else "an account without a name"
    text = (
        f"Join this {ctx.actor.platform} account to {whose}?\n"
        f"That account logs in on {', '.join(preview.target_logins) or 'no platform yet'}.\n"
        f"Everything this account has moves there for good: {moves}. Its owner then sees and uses all "
        "of it, your exchange keys and deployments included.\n"
        "Only go on if that account is yours: nobody from Stoxlify ever asks you to link."
    )
    buttons = [[Button(f"Yes, join {whose}", f"/link {preview.code} {token}", style=ButtonStyle.PRIMARY),
                Button("Cancel", "/me")]]  # fmt: skip
    return Message(text, buttons=buttons, ephemeral=True)


async def _confirmed(ctx: Context, code: str, token: str) -> bool:
    """Whether ``token`` is the confirmation the preview of ``code`` gave this user."""
    try:
        bound = await ctx.core.state.buttons.resolve(token, _confirm_owner(ctx))
    except (NotFound, Forbidden):  # typed, expired, or someone else's
        return False
    return bound == f"/link {code}"


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
async def group_(ctx: Context, setting: str | None, value: str | None) -> Message:
    if setting is None:
        current = await groups.group_settings(ctx.core.db, ctx.actor)
    elif value is None:
        return Message.fail(f"say on or off: /group {setting} on")
    else:
        current = await groups.change_group_setting(ctx.core.db, ctx.actor, setting, value == "on")
    lines = [f"Settings of {current.title or 'this group'}:"]
    lines += [
        f"  {name}: {_on_off(getattr(current, name))} ({summary})"
        for name, (_, summary) in groups.SETTINGS.items()
    ]
    return Message("\n".join(lines))
