"""Account commands: /link."""

from __future__ import annotations

from bots.commands import registry
from bots.registry import Arg, Context
from bots.reply import Reply
from core.account import link


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
