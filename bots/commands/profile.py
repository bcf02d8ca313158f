"""Account commands about the person: /me, /profile (show or change a field), /deleteaccount."""

from __future__ import annotations

from datetime import datetime

from bots.commands import registry
from bots.registry import Arg, ArgKind, Context
from core.lifecycle import deletion, profile
from core.message import Button, ButtonStyle, Message

FIELD_NAMES = tuple(profile.FIELDS)
_TABLE_WORDS = {
    "models": "models",
    "strategies": "strategies",
    "strategy_rules": "strategy rules",
    "shares": "shared results",
    "deployments": "deployments (stopped first)",
    "credentials": "broker keys and paper accounts",
    "paper_balances": "paper balances",
    "orders": "orders",
    "trades": "trades",
    "media": "files",
    "watches": "watches",
    "chat_members": "group memberships",
    "link_codes": "pending link codes",
    "purchases": "purchases",
    "purchase_items": "purchase items",
    "subscriptions": "subscriptions",
    "identities": "linked platforms",
    "contact_messages": "Contact Us messages",
    "broker_activity": "imported broker data",
    "access_tokens": "access tokens",
}


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at else "—"


def render_profile(view: profile.Profile, heading: str = "Your profile") -> Message:
    limits = view.limits
    plan = f"{view.plan} · up to {limits.max_deployments} deployments · live trading {'on' if limits.live_trading else 'off'}"
    if view.plan_ends_at is not None:
        plan += f" · until {view.plan_ends_at:%Y-%m-%d}"
    lines = [
        f"{heading} (user #{view.user_id})",
        f"Name: {view.name or '—'}",
        f"Email: {view.email or '—'}",
        f"Phone: {view.phone or '—'}",
        f"Country: {view.country or '—'}",
        f"Image: {view.image or '—'}",
        f"Plan: {plan}",
        "Logged in from:",
    ]
    lines += [
        f"  {login.platform}{f' ({login.display_name})' if login.display_name else ''}: first seen "
        f"{_when(login.first_seen_at)}, last seen {_when(login.last_seen_at)}"
        for login in view.logins
    ] or ["  —"]
    lines.append(f"Member since {view.created_at:%Y-%m-%d}")
    lines.append("Change a field: /profile set email ana@example.com · remove one: /profile clear phone")
    return Message("\n".join(lines), ephemeral=True)


@registry.command(
    "me", "Your profile, plan and logins", group="Account", private_only=True,
    operations=("Retrieve User Account",),
)
async def me(ctx: Context) -> Message:
    return render_profile(await profile.get_profile(ctx.core.db, ctx.core.settings, ctx.actor))


@registry.command(
    "profile",
    "Show or change your profile",
    Arg(
        "action", "show, set or clear", kind=ArgKind.CHOICE, choices=("show", "set", "clear"), required=False
    ),
    Arg(
        "field",
        "name, email, image, country or phone",
        kind=ArgKind.CHOICE,
        choices=FIELD_NAMES,
        required=False,
    ),
    Arg("value", "the new value", kind=ArgKind.REST, required=False),
    group="Account",
    examples=(
        "/profile",
        "/profile set name Ana Wijaya",
        "/profile set email ana@example.com",
        "/profile set phone 0812-3456-7890",
        "/profile set country ID",
        "/profile set image media:3",
        "/profile clear phone",
    ),
    private_only=True,
    operations=("Edit User Account",),
)
async def profile_(ctx: Context, action: str | None, field: str | None, value: str | None) -> Message:
    core = ctx.core
    if action in (None, "show"):
        if field or value:
            return Message.fail("/profile show takes nothing more", "/profile [set|clear FIELD [VALUE]]")
        return render_profile(await profile.get_profile(core.db, core.settings, ctx.actor))
    if field is None:
        fields = "\n".join(f"  {name}: {what}" for name, what in profile.FIELDS.items())
        return Message.fail(
            f"say which field to {action}:\n{fields}",
            f"/profile {action} FIELD" + (" VALUE" if action == "set" else ""),
        )
    if action == "set" and not (value or "").strip():
        return Message.fail(f"give the new {field}: {profile.FIELDS[field]}", f"/profile set {field} VALUE")
    if action == "clear" and value:
        return Message.fail(f"/profile clear {field} takes no value", f"/profile clear {field}")
    view = await profile.set_field(
        core.db, core.settings, ctx.actor, field, value if action == "set" else None
    )
    verb = "Removed your" if action == "clear" else "Saved your"
    return render_profile(view, heading=f"{verb} {field}. Your profile")


@registry.command(
    "deleteaccount",
    "Delete your account and all its data",
    group="Account",
    private_only=True,
    confirmable=True,
    operations=("Delete User Account",),
)
async def deleteaccount(ctx: Context, confirmed: bool = False) -> Message:
    core = ctx.core
    if not confirmed:
        counts = await deletion.summary(core.db, ctx.actor)
        what = [
            f"  {n} {_TABLE_WORDS.get(t, t.replace('_', ' '))}"
            for t, n in counts.items()
            if t != "identities"
        ]
        lines = ["Delete your account? This removes, for good and on every linked platform:"]
        lines += what or ["  your profile (you have nothing else stored)"]
        lines.append("Running deployments are stopped first; holdings at exchanges stay where they are.")
        lines.append("This cannot be undone.")
        buttons = [
            [Button("Yes, delete everything", "/deleteaccount --yes", style=ButtonStyle.DANGER), Button("Keep my account", "/me")]
        ]
        return Message("\n".join(lines), buttons=buttons, ephemeral=True)
    report = await deletion.delete_account(core.db, core.settings, ctx.actor)
    files = f" and {report.files_deleted} file(s)" if report.files_deleted else ""
    return Message(
        f"Your account is deleted: {report.total} stored item(s){files} removed. "
        "Send any command to start afresh as a new user.",
        ephemeral=True,
    )
