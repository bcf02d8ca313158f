"""A user's choice of pushed alerts: trades of their deployments, watchlist crossings.

These are the person's own alerts, delivered to their private chats (``core.alerts.user_targets``
reads the same columns); a group's alerts are its admins' setting (``core.account.groups``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from core.account.models import User
from core.actor import Actor
from core.db import Database
from core.errors import Invalid, NotFound

# The kinds a user chooses, one ``users.alerts_<kind>`` column each (``core.alerts`` delivers them).
AlertKind = Literal["trades", "watch"]
KINDS: tuple[str, ...] = get_args(AlertKind)  # ("trades", "watch")
SUMMARIES = {
    "trades": "orders and fills of your deployed models, and why one paused",
    "watch": "your watchlist conditions when they become met",
}


@dataclass(frozen=True, slots=True)
class AlertChoices:
    trades: bool
    watch: bool


async def alert_choices(db: Database, actor: Actor) -> AlertChoices:
    async with db.session() as session:
        user = await _user(session, actor)
        return AlertChoices(user.alerts_trades, user.alerts_watch)


async def set_alert_choice(db: Database, actor: Actor, kind: str, enabled: bool) -> AlertChoices:
    """Turn one kind of alert (or ``all``) on or off for the actor; the choices after the change."""
    kinds = KINDS if kind == "all" else (kind,)
    if any(k not in KINDS for k in kinds):
        raise Invalid(f"no alert kind '{kind}'", hint="kinds: " + ", ".join((*KINDS, "all")))
    async with db.session() as session:
        user = await _user(session, actor)
        for k in kinds:
            setattr(user, f"alerts_{k}", enabled)
        return AlertChoices(user.alerts_trades, user.alerts_watch)


async def _user(session, actor: Actor) -> User:
    user = await session.get(User, actor.user_id)
    if user is None:
        raise NotFound("your account was not found: send any command to create it")
    return user
