"""/token: personal access tokens for programs acting as you (new, list, revoke)."""

from __future__ import annotations

from datetime import datetime

from bots.commands import registry
from bots.registry import Arg, ArgKind, Context, UsageError
from bots.reply import Reply
from core.db import utcnow
from core.tokens import service as tokens
from core.tokens.service import Scope, TokenView

USAGE = "/token new NAME [read|trade|admin] [expires=90d|12w|6mo|1y|never] · /token list · /token revoke NAME"


@registry.command(
    "token",
    "Personal access tokens for programs that act as you",
    Arg("action", "new, list or revoke", kind=ArgKind.CHOICE, choices=("new", "list", "revoke"),
        required=False, default="list"),
    Arg("details", "new: NAME [read|trade|admin] [expires=90d] · revoke: NAME", kind=ArgKind.REST, required=False),
    group="Account",
    examples=("/token new my-script", "/token new trader trade expires=30d", "/token list", "/token revoke my-script"),
    private_only=True,
)  # fmt: skip
async def token(ctx: Context, action: str, details: str | None) -> Reply:
    words = (details or "").split()
    if action == "list":
        if words:
            raise UsageError(f"'/token list' takes nothing more; {USAGE}")
        return Reply(render_list(await tokens.list_tokens(ctx.core.db, ctx.actor)), ephemeral=True)
    if not words:
        raise UsageError(f"which token? {USAGE}")
    if action == "revoke":
        if len(words) > 1:
            raise UsageError(f"one name at a time; {USAGE}")
        gone = await tokens.revoke_token(ctx.core.db, ctx.actor, words[0])
        return Reply(f"Revoked token '{gone.label}' ({gone.hint}): it no longer works.", ephemeral=True)
    name, scope, expires = _new_args(words)
    made = await tokens.create_token(ctx.core.db, ctx.core.settings, ctx.actor, name, scope, expires)
    return Reply(render_new(made), ephemeral=True)


def _new_args(words: list[str]) -> tuple[str, Scope, str | None]:
    name, scope, expires = words[0], Scope.READ, None
    for word in words[1:]:
        if word.lower().startswith("expires="):
            expires = word.split("=", 1)[1]
        else:
            scope = Scope.parse(word)
    return name, scope, expires


def _expiry(at: datetime | None) -> str:
    if at is None:
        return "never expires"
    return f"expired {at:%Y-%m-%d}" if at <= utcnow() else f"expires {at:%Y-%m-%d}"


def render_new(made: tokens.NewToken) -> str:
    view = made.view
    return "\n".join([
        f"Token '{view.label}' ({view.scope.word}, {_expiry(view.expires_at)}):",
        made.secret,
        "Copy it now: it is shown this once and stored only as a hash. Send it as",
        "Authorization: Bearer <token>. /token revoke " + view.label + " stops it at once.",
    ])  # fmt: skip


def render_list(found: list[TokenView]) -> str:
    if not found:
        return "You have no tokens. Create one with /token new NAME [read|trade|admin]."
    lines = ["Your tokens:"]
    for view in found:
        used = f"last used {view.last_used_at:%Y-%m-%d %H:%M} UTC" if view.last_used_at else "never used"
        lines.append(f"• {view.label} · {view.scope.word} · {view.hint} · {_expiry(view.expires_at)} · {used}")
    return "\n".join(lines)
