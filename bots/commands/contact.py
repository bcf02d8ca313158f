"""/contact: send the team a message (stored, then forwarded to the admins' chat); admins list them."""

from __future__ import annotations

from bots.commands import registry
from bots.paging import paged_reply
from bots.registry import Arg, ArgKind, Context, whole
from core.contact import service as contact
from core.message import Message

PAGE_SIZE = 10
PREVIEW = 300


@registry.command(
    "contact",
    "Message the Stoxlify team",
    Arg("message", "what you want to tell us", kind=ArgKind.REST),
    group="General",
    examples=("/contact the BBCA chart shows no volume", "/contact list"),
    operations=("Contact Us",),
)
async def contact_(ctx: Context, message: str) -> Message:
    words = message.split()
    if words and words[0].lower() == "list" and (len(words) == 1 or (len(words) == 2 and words[1].isdigit())):
        return await _list(ctx, whole(words[1], "PAGE") if len(words) == 2 else 1)
    core = ctx.core
    sent = await contact.send_message(core.db, core.settings, core.notifiers, ctx.actor, message)
    if sent.forwarded:
        text = f"Thank you: your message #{sent.message.id} has reached the team."
    else:
        text = f"Thank you: your message #{sent.message.id} is saved and the team will read it."
    return Message(text, ephemeral=True)


def _line(item: contact.ContactView) -> str:
    who = item.name or "someone"
    user = f"user {item.user_id}" if item.user_id is not None else "deleted user"
    state = "forwarded" if item.forwarded_at else "not forwarded"
    text = item.text if len(item.text) <= PREVIEW else item.text[:PREVIEW] + "…"
    return f"#{item.id} {item.created_at:%Y-%m-%d %H:%M} · {who} ({user}) · {state}\n  {text}"


async def _list(ctx: Context, page: int) -> Message:
    found = await contact.list_messages(ctx.core.db, ctx.core.settings, ctx.actor, page, PAGE_SIZE)
    return paged_reply(found, title="Contact Us messages, newest first", command="/contact list", line=_line,
                       empty="No Contact Us messages yet.", ephemeral=True)  # fmt: skip
