"""Text a command takes inline or from an attachment: the replied-to message or file, which the
transport reads on demand (``ctx.extras["attached_text"]``). /model save and /bandar import use it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bots.registry import Context

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_+-]*[ \t]*\n?(.*?)\n?```\s*$", re.S)


def strip_fence(text: str) -> str:
    """The text inside a Markdown code block, or the text as it is."""
    match = _FENCE.match(text or "")
    return match.group(1) if match else (text or "")


async def attached_text(ctx: Context, *, decode: bool = True) -> str | bytes | None:
    """The replied-to message or file, code fence stripped; None when there is none. Bytes are
    decoded as UTF-8 when ``decode`` (and handed on as bytes when they are not UTF-8, for the
    caller to name the bad byte); without ``decode`` a file's bytes are handed on as they are."""
    loader = ctx.extras.get("attached_text")
    if loader is None:
        return None
    attached = await loader()
    if isinstance(attached, bytes) and decode:
        try:
            attached = attached.decode("utf-8")
        except UnicodeDecodeError:
            return attached
    if isinstance(attached, str):
        return strip_fence(attached)
    return attached


async def given_or_attached(ctx: Context, text: str | None, *, decode: bool = True) -> str | bytes | None:
    """``text`` without its code fence when it holds anything, else the attachment (or None)."""
    body = strip_fence(text or "")
    if body.strip():
        return body
    return await attached_text(ctx, decode=decode)
