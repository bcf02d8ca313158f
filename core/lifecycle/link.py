"""Linking identities: one person on Telegram and Discord sees the same models and watches.

``/link`` on one platform issues a short one-time code; ``/link CODE`` on the other moves that
identity, and everything its user owned, onto the code's user, in one transaction.

Redeeming hands the redeemer's whole account (exchange keys, deployments, models...) to whoever
issued the code, so someone tricked into redeeming another person's code would lose it: adapters
first show ``preview_link`` (whose account it joins, and what moves) and redeem only once the
user confirms.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import MetaData, String, Table, and_, delete, func, insert, not_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.account.models import Identity, LinkCode, User
from core.actor import Actor
from core.broker.paper import MARKER_PREFIX
from core.broker.service import MAX_LABEL as CREDENTIAL_LABEL
from core.broker.service import PAPER_LABEL
from core.broker.types import BrokerName
from core.db import Database, rowcount
from core.db.base import utcnow
from core.db.migrate import import_models
from core.errors import Conflict, Invalid, NotFound
from core.labels import MAX_LABEL

CODE_LIFETIME = timedelta(minutes=10)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are typed by hand
_CODE_LENGTH = 8


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LinkResult:
    user_id: int
    platforms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LinkPreview:
    """What ``redeem_code`` would do: whose account the redeemer joins, and what moves there."""

    code: str  # normalised: the 8 letters and digits
    target_name: str  # the account's name, or its first login's display name; "" when it has neither
    target_logins: tuple[str, ...]  # "telegram (Ana)": how the platforms know the account
    moves: tuple[tuple[str, int], ...]  # ("exchange keys", 2), ...: what the redeemer has, non-zero only


# What a merge moves, as a user would name it: (table, one, many). Other owned rows move too
# (orders, chat memberships...); these are the ones a user would miss.
MOVED = (
    ("credentials", "exchange key", "exchange keys"),
    ("deployments", "deployment", "deployments"),
    ("models", "model", "models"),
    ("strategies", "strategy", "strategies"),
    ("watches", "watch", "watches"),
    ("trades", "trade", "trades"),
    ("media", "file", "files"),
    ("subscriptions", "plan subscription", "plan subscriptions"),
)


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


async def issue_code(db: Database, actor: Actor, now: datetime | None = None) -> IssuedCode:
    """A fresh code for ``actor``; earlier unused codes of theirs stop working."""
    now = now or utcnow()
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
    async with db.session() as session:
        await session.execute(delete(LinkCode).where(LinkCode.user_id == actor.user_id))
        session.add(
            LinkCode(
                user_id=actor.user_id, code_hash=_hash(raw), platform=actor.platform, created_at=now,
                expires_at=now + CODE_LIFETIME,
            )
        )
    return IssuedCode(f"{raw[:4]}-{raw[4:]}", now + CODE_LIFETIME)


def normalise_code(code: str) -> str:
    """The code's 8 letters and digits (dashes, spaces and case dropped); Invalid otherwise."""
    cleaned = _normalise(code)
    if len(cleaned) != _CODE_LENGTH:
        raise Invalid("a link code has 8 letters and digits, like ABCD-2345")
    return cleaned


async def preview_link(db: Database, actor: Actor, code: str, now: datetime | None = None) -> LinkPreview:
    """What redeeming ``code`` would do, changing nothing: the same checks as ``redeem_code``."""
    cleaned = normalise_code(code)
    async with db.session() as session:
        link = await _usable_code(session, actor, cleaned, now or utcnow())
        target = await session.get(User, link.user_id)
        logins = (
            await session.execute(
                select(Identity.platform, Identity.display_name)
                .where(Identity.user_id == link.user_id)
                .order_by(Identity.first_seen_at)
            )
        ).all()
        moves = await _owned_counts(session, actor.user_id)
    name = (target.name if target is not None else "") or next((n for _, n in logins if n), "")
    return LinkPreview(
        cleaned, name, tuple(f"{platform} ({shown})" if shown else platform for platform, shown in logins), moves
    )


async def redeem_code(db: Database, actor: Actor, code: str, now: datetime | None = None) -> LinkResult:
    """Join ``actor``'s identity (and what its user owns) to the user who issued ``code``.

    Adapters call it only after the user confirmed what ``preview_link`` showed."""
    cleaned = normalise_code(code)
    async with db.session() as session:
        link = await _usable_code(session, actor, cleaned, now or utcnow())
        target = link.user_id
        platforms = set(await session.scalars(select(Identity.platform).where(Identity.user_id == target)))
        await session.delete(link)
        await _merge_user(session, source=actor.user_id, target=target)
        platforms.add(actor.platform)
    return LinkResult(target, tuple(sorted(platforms)))


async def _usable_code(session: AsyncSession, actor: Actor, cleaned: str, now: datetime) -> LinkCode:
    """The live code row ``actor`` may redeem, or the error that says why not."""
    link = await session.scalar(select(LinkCode).where(LinkCode.code_hash == _hash(cleaned)))
    if link is None or link.expires_at <= now:
        raise NotFound("that link code is unknown or has expired: send /link again to get a new one")
    if link.user_id == actor.user_id:
        raise Conflict("this code is yours already: send /link CODE from your other platform")
    taken = await session.scalar(
        select(Identity.id).where(Identity.user_id == link.user_id, Identity.platform == actor.platform)
    )
    if taken is not None:
        raise Conflict(f"that account already has a {actor.platform} identity linked")
    return link


async def _owned_counts(session: AsyncSession, user_id: int) -> tuple[tuple[str, int], ...]:
    """How many of each ``MOVED`` kind ``user_id`` owns (the built-in paper account is no key)."""
    tables = import_models().tables
    counts = []
    for name, one, many in MOVED:
        table = tables[name]
        query = select(func.count()).select_from(table).where(table.c.user_id == user_id)
        if name == "credentials":
            paper = and_(table.c.broker == BrokerName.PAPER.value, table.c.label_key == PAPER_LABEL)
            query = query.where(not_(paper))
        found = int(await session.scalar(query) or 0)
        if found:
            counts.append((one if found == 1 else many, found))
    return tuple(counts)


async def _merge_user(session: AsyncSession, *, source: int, target: int) -> None:
    """Move every row ``source`` owns to ``target``, then delete ``source``.

    Tables are found from the full metadata (every ``user_id`` foreign key to ``users``, with
    every domain's models imported), so domains added later merge without changes here. A row the
    target already has an equal of (a unique clash, such as the same watch) is dropped rather than
    duplicated; a named row (a model, strategy or exchange key whose label the target already uses)
    is kept under a numbered label, ``label-2``, ``label-3``..., cut so it still obeys the label
    rule. The built-in paper accounts are merged, not renamed: when both users have one, the
    source's deployments and orders move onto the target's paper account, with the paper broker's
    fill markers for those orders and the source's balances (added to the target's: the moved
    deployments' positions are sold from there), and the source's paper account is dropped.
    """
    metadata = import_models()
    await _merge_paper(session, metadata, source=source, target=target)
    for table in metadata.sorted_tables:
        column = table.c.get("user_id")
        if column is None or not any(fk.column.table.name == User.__tablename__ for fk in column.foreign_keys):
            continue
        ids = list(await session.scalars(select(table.c.id).where(column == source)))
        for row_id in ids:
            try:
                async with session.begin_nested():
                    await session.execute(update(table).where(table.c.id == row_id).values(user_id=target))
            except IntegrityError:
                if "label_key" in table.c:  # a model, strategy or key of the same name: keep both
                    await _move_renamed(session, table, row_id, target)
                else:
                    await session.execute(delete(table).where(table.c.id == row_id))
    await session.execute(delete(User).where(User.id == source))


async def _merge_paper(session: AsyncSession, metadata: MetaData, *, source: int, target: int) -> None:
    """Fold the source's built-in paper account into the target's, when both have one."""
    credentials = metadata.tables["credentials"]

    async def paper_of(user_id: int) -> int | None:
        return await session.scalar(
            select(credentials.c.id).where(credentials.c.user_id == user_id,
                                           credentials.c.broker == BrokerName.PAPER.value,
                                           credentials.c.label_key == PAPER_LABEL)
        )  # fmt: skip

    old, new = await paper_of(source), await paper_of(target)
    if old is None or new is None:
        return  # at most one paper account: it simply moves with the other rows
    # The fill markers move with the orders they record (each order id is filled once, on the
    # account its order now names); they are bookkeeping, not balances, and are never shown.
    balances = metadata.tables["paper_balances"]
    await session.execute(
        update(balances)
        .where(balances.c.credential_id == old, balances.c.asset.like(MARKER_PREFIX + "%"))
        .values(credential_id=new)
    )
    await _add_balances(session, balances, source=old, target=new)
    for table in metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is not credentials or table is credentials:
                continue
            if (fk.ondelete or "").upper() == "CASCADE":  # the paper balances: added to the target's above
                await session.execute(delete(table).where(fk.parent == old))
            else:  # deployments, orders: now on the target's paper account
                await session.execute(update(table).where(fk.parent == old).values({fk.parent.name: new}))
    await session.execute(delete(credentials).where(credentials.c.id == old))


async def _add_balances(session: AsyncSession, balances: Table, *, source: int, target: int) -> None:
    """Everything on the source's paper account is added to the target's, asset by asset: the
    positions of the deployments that move hold those coins and shares, and their exits sell them
    from the target's account now. (Cash adds up too: two paper accounts become one, nothing lost.)
    An asset the target has no row for yet is inserted; its starting cash, seeded on first use,
    then skips that asset, so a target that never used its paper account takes the source's as is."""
    held = await session.execute(
        select(balances.c.asset, balances.c.amount)
        .where(balances.c.credential_id == source, not_(balances.c.asset.like(MARKER_PREFIX + "%")))
    )  # fmt: skip
    now = utcnow()
    for asset, amount in held.all():
        added = await session.execute(
            update(balances)
            .where(balances.c.credential_id == target, balances.c.asset == asset)
            .values(amount=balances.c.amount + amount, updated_at=now)
        )
        if not rowcount(added):
            await session.execute(insert(balances).values(credential_id=target, asset=asset, amount=amount,
                                                          updated_at=now))  # fmt: skip


def _label_limit(table: Table) -> int:
    """The longest label ``table`` takes: its column's length, and the label rule's limit."""
    column_type = table.c.label.type  # a Core Table's column: typed as any type, narrowed to read a length
    length = column_type.length if isinstance(column_type, String) else None
    limit = min(length or MAX_LABEL, MAX_LABEL)
    return min(limit, CREDENTIAL_LABEL) if table.name == "credentials" else limit


async def _move_renamed(session: AsyncSession, table: Table, row_id: int, target: int) -> None:
    """Move a labelled row to ``target`` as ``label-2``, ``label-3``...: the first label free there."""
    # scalar_one: the row is there (the caller found it), and its label is a NOT NULL column
    label = (await session.execute(select(table.c.label).where(table.c.id == row_id))).scalar_one()
    taken = set(await session.scalars(select(table.c.label_key).where(table.c.user_id == target)))
    limit = _label_limit(table)
    for n in range(2, 10_000):
        suffix = f"-{n}"
        candidate = f"{label[: limit - len(suffix)]}{suffix}"
        if candidate.lower() not in taken:
            break
    await session.execute(
        update(table)
        .where(table.c.id == row_id)
        .values(user_id=target, label=candidate, label_key=candidate.lower())
    )
