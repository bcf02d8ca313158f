"""Broker credentials: connect, list, the built-in paper account, and brokers to trade with.

Taking a key or the paper balances away is refused while deployments rely on them, which only the
deployments can tell: ``core.deployment.credentials`` does that, above both.

Keys are checked with the exchange before they are stored (a read-only call; keys that can
withdraw are refused where the exchange tells), stored only as a Fernet token
(``core.broker.crypto``), and never returned: views carry the label, broker, a four-character
hint and the key's status. ``get_broker`` is the one place that decrypts, for the jobs that trade.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.actor import Actor
from core.broker.crypto import KeyMaterial, decrypt, encrypt, require_master_key
from core.broker.exchanges import Verification
from core.broker.models import Credential, CredentialStatus
from core.broker.paper import PaperBroker, is_marker, starting_balances
from core.broker.types import AuthFailed, Broker, BrokerName, OrderRejected, Transient
from core.config import Settings, get_settings
from core.db import Database, insert_ignoring_conflicts, utcnow
from core.errors import Conflict, Forbidden, Invalid, LimitExceeded, NotFound, Unavailable
from core.labels import did_you_mean, label_key
from core.logging import get_logger, masking, scrub
from core.paging import Page, check_page, fetch_page

log = get_logger(__name__)

PAPER_LABEL = "paper"
# The statuses by their short names, as this module and its callers have always spelled them
ACTIVE, REVOKED, REMOVED = CredentialStatus.ACTIVE, CredentialStatus.REVOKED, CredentialStatus.REMOVED
MAX_CREDENTIALS = 20
MAX_LABEL = 32
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")
LABEL_RULE = "a label is a short name for the key: letters, digits, _ . - (up to 32), e.g. main"
_ALIASES = {"cex": BrokerName.CEXIO, "cex.io": BrokerName.CEXIO, "cexio": BrokerName.CEXIO}
LIVE_BROKERS = tuple(b for b in BrokerName if b is not BrokerName.PAPER)

Verifier = Callable[[BrokerName, KeyMaterial, Settings], Awaitable[Verification]]


@dataclass(frozen=True, slots=True)
class CredentialView:
    """A credential as users see it: never its key material."""

    id: int
    label: str
    broker: BrokerName
    hint: str  # the last four characters of the client id ("" for paper)
    status: CredentialStatus
    verified_at: datetime | None
    can_withdraw: bool | None  # None: the exchange does not tell
    created_at: datetime

    @property
    def paper(self) -> bool:
        return self.broker is BrokerName.PAPER


def view_of(row: Credential) -> CredentialView:
    return CredentialView(
        id=row.id,
        label=row.label,
        broker=BrokerName(row.broker),
        hint=row.key_hint,
        status=row.status,
        verified_at=row.verified_at,
        can_withdraw=row.can_withdraw,
        created_at=row.created_at,
    )


def parse_broker(text: str | BrokerName) -> BrokerName:
    """``binance``, ``OKX``, ``cex.io``... as the API spells the broker."""
    if isinstance(text, BrokerName):
        return text
    key = (text or "").strip().lower()
    for name in BrokerName:
        if name.value.lower() == key:
            return name
    if key in _ALIASES:
        return _ALIASES[key]
    known = ", ".join(b.value for b in LIVE_BROKERS)
    raise Invalid(f"'{key[:20]}' is not a broker I connect to", hint=f"brokers: {known}")


async def verify_key(broker: BrokerName, keys: KeyMaterial, settings: Settings) -> Verification:
    """Ask the exchange about the key with read-only calls; the exchange instance is closed after."""
    from core.broker.exchanges import ExchangeBroker, new_exchange

    adapter = ExchangeBroker(broker, new_exchange(broker, keys, settings))
    try:
        return await adapter.verify()
    finally:
        await adapter.close()


async def connect(
    db: Database,
    actor: Actor,
    broker: str | BrokerName,
    label: str,
    client_id: str,
    secret: str,
    passphrase: str | None = None,
    *,
    account: str | None = None,
    settings: Settings | None = None,
    verify: Verifier | None = verify_key,
) -> CredentialView:
    """Check, verify and store an exchange key under ``label``.

    ``passphrase``: OKX keys only (required there). ``account``: Cex.io only (required there), the
    sub-account its API trades in.
    ``verify=None`` stores without asking the exchange (``verified_at`` stays empty). A Revoked
    credential of the same label and broker gets the new key in place, so the deployments that
    used it can be resumed.
    """
    with masking((client_id, secret, passphrase)):  # this call's own log lines, until the key is verified
        return await _connect(db, actor, broker, label, client_id, secret, passphrase, account, settings, verify)


async def _connect(
    db: Database,
    actor: Actor,
    broker: str | BrokerName,
    label: str,
    client_id: str,
    secret: str,
    passphrase: str | None,
    account: str | None,
    settings: Settings | None,
    verify: Verifier | None,
) -> CredentialView:
    settings = settings or get_settings()
    name = parse_broker(broker)
    if name is BrokerName.PAPER:
        raise Invalid(f"your paper account is built in: it is called '{PAPER_LABEL}'")
    label = _check_label(label)
    keys = _check_keys(name, client_id, secret, passphrase, account)
    require_master_key(settings)  # before asking the exchange anything
    async with db.session() as session:
        await _check_free(session, actor, label, name)
    verification = await _verify(name, keys, settings, verify) if verify is not None else None
    if verification is not None:
        # Masked in every later line only now that the exchange accepted it: registering unchecked
        # input would let anyone hide any word (Traceback) from the logs.
        keys.register()
    token = encrypt(settings, keys, user_id=actor.user_id, broker=name.value)
    now = utcnow()
    try:
        async with db.session() as session:
            row = await _check_free(session, actor, label, name)
            if row is None:
                row = Credential(
                    user_id=actor.user_id, broker=name.value, label=label, label_key=label_key(label), created_at=now
                )
                session.add(row)
            row.secret_token = token
            row.key_hint = keys.hint
            row.status = ACTIVE
            row.can_withdraw = verification.can_withdraw if verification else None
            row.verified_at = now if verification else None
            await session.flush()
            view = view_of(row)
    except IntegrityError:  # the same label connected a moment ago
        raise Conflict(f"you already have a key labelled '{label}'", hint="pick another label") from None
    log.info("broker_key_connected", user=actor.user_id, broker=name.value, credential=view.id)
    return view


async def list_credentials(
    db: Database, actor: Actor, page: int = 1, page_size: int = 10, broker: str | BrokerName | None = None
) -> Page[CredentialView]:
    """The actor's credentials, the paper account first; ``broker`` filters. Never any key material."""
    check_page(page, page_size)  # before the paper account is made
    where = [Credential.user_id == actor.user_id, Credential.status != REMOVED]
    if broker is not None:
        where.append(Credential.broker == parse_broker(broker).value)
    async with db.session() as session:
        await _ensure_paper(session, db, actor)
        paper_first = case((Credential.broker == BrokerName.PAPER.value, 0), else_=1)
        query = select(Credential).where(*where).order_by(paper_first, Credential.label_key)
        rows, total = await fetch_page(session, query, page, page_size)
        items = [view_of(r) for r in rows.scalars()]
    return Page(items, page, page_size, total)


async def get_credential(db: Database, actor: Actor, label: str) -> CredentialView:
    async with db.session() as session:
        if label_key(label) == PAPER_LABEL:
            await _ensure_paper(session, db, actor)
        return view_of(await credential_row(session, actor, label))


async def paper_credential(db: Database, actor: Actor) -> CredentialView:
    """The actor's built-in paper account (label ``paper``), created on first use."""
    async with db.session() as session:
        await _ensure_paper(session, db, actor)
        row = await session.scalar(
            select(Credential).where(Credential.user_id == actor.user_id, Credential.label_key == PAPER_LABEL)
        )
        assert row is not None
        return view_of(row)


@dataclass(frozen=True, slots=True)
class PaperAccount:
    """The built-in paper account's balances (cash and holdings; never its fill markers)."""

    credential_id: int
    balances: dict[str, float]
    starting: dict[str, float]  # what ``reset_paper`` (core.deployment.credentials) restores


async def paper_account(db: Database, settings: Settings, actor: Actor) -> PaperAccount:
    """The actor's paper balances (created with the starting cash on first use)."""
    cred = await paper_credential(db, actor)
    balances = await PaperBroker(db, settings, cred.id).fetch_balance()
    return PaperAccount(cred.id, shown_balances(balances), starting_balances(settings))


def shown_balances(balances: dict[str, float]) -> dict[str, float]:
    """Balances as a user sees them: no fill markers, cash first, then holdings by name."""
    cash = ("IDR", "USDT")
    kept = {a: v for a, v in balances.items() if not is_marker(a)}
    return {a: kept[a] for a in sorted(kept, key=lambda a: (a not in cash, a))}


async def get_broker(db: Database, settings: Settings, credential_id: int) -> Broker:
    """The broker to trade through for a credential (the caller closes it).

    AuthFailed for a revoked or disconnected key: nothing will work until the user connects one.
    """
    from core.broker.exchanges import ExchangeBroker, new_exchange
    async with db.session() as session:
        row = await session.get(Credential, credential_id)
        if row is None:
            raise NotFound("that broker account no longer exists")
        if row.broker == BrokerName.PAPER.value:
            return PaperBroker(db, settings, row.id)
        if row.status != ACTIVE or not row.secret_token:
            state = "disconnected" if row.status == REMOVED else "revoked"
            raise AuthFailed(f"the {row.broker} key '{row.label}' is {state}: connect a new one with /connect")
        user_id, broker, token = row.user_id, row.broker, row.secret_token
    keys = decrypt(settings, token, user_id=user_id, broker=broker)
    return ExchangeBroker(BrokerName(broker), new_exchange(BrokerName(broker), keys, settings))


@asynccontextmanager
async def open_broker(db: Database, settings: Settings, credential_id: int) -> AsyncIterator[Broker]:
    """``get_broker`` that closes the broker (and its HTTP session) on the way out."""
    broker = await get_broker(db, settings, credential_id)
    try:
        yield broker
    finally:
        await broker.close()


async def mark_revoked(db: Database, credential_id: int, reason: str) -> CredentialView | None:
    """Record that the exchange refused the key (AuthFailed); None when the credential is gone.

    The reason is logged (scrubbed of secrets); callers tell the user and pause what used it.
    """
    async with db.session() as session:
        row = await session.get(Credential, credential_id)
        if row is None:
            return None
        if row.broker != BrokerName.PAPER.value and row.status == ACTIVE:
            row.status = REVOKED
        view = view_of(row)
    log.warning("broker_key_revoked", credential=credential_id, reason=scrub(reason)[:300])
    return view


# --- internals -----------------------------------------------------------------------------------


def _check_label(label: str) -> str:
    """The label as given (trimmed). The error never repeats it: a misplaced key may sit there."""
    text = (label or "").strip()
    if not _LABEL.match(text):
        raise Invalid(LABEL_RULE)
    if label_key(text) == PAPER_LABEL:
        raise Invalid(f"'{PAPER_LABEL}' is your built-in paper account: pick another label")
    return text


def _check_keys(
    broker: BrokerName, client_id: str, secret: str, passphrase: str | None, account: str | None
) -> KeyMaterial:
    client_id, secret = (client_id or "").strip(), (secret or "").strip()
    passphrase = (passphrase or "").strip() or None
    account = (account or "").strip() or None
    if not client_id or any(c.isspace() for c in client_id) or len(client_id) > 200:
        raise Invalid("the API key (client id) is one word as the exchange shows it")
    if not secret or len(secret) > 4000:
        raise Invalid("the API secret is missing")
    if broker is BrokerName.OKX and passphrase is None:
        raise Invalid("OKX keys need the passphrase you set when creating the key")
    if broker is not BrokerName.OKX and passphrase is not None:
        raise Invalid(f"{broker.value} keys have no passphrase: only OKX keys do")
    if passphrase is not None and len(passphrase) > 64:
        raise Invalid("an OKX passphrase has at most 64 characters")
    if broker is BrokerName.CEXIO and (account is None or not _LABEL.match(account)):
        raise Invalid("Cex.io trades through a sub-account: give its name (as Cex.io shows it) after the secret")
    if broker is not BrokerName.CEXIO and account is not None:
        raise Invalid("only Cex.io keys take a sub-account")
    return KeyMaterial(client_id, secret, passphrase, account)


async def _verify(broker: BrokerName, keys: KeyMaterial, settings: Settings, verify: Verifier) -> Verification:
    try:
        verification = await verify(broker, keys, settings)
    except Transient as exc:
        raise Unavailable(f"could not check the key with {broker.value} ({exc.message})", hint="try again in a minute") from None
    except OrderRejected as exc:
        raise Invalid(f"{broker.value} would not confirm the key: {exc.message}") from None
    if verification.can_withdraw:
        raise Forbidden(
            f"this {broker.value} key can withdraw funds, so I won't store it",
            hint="create a key with withdrawals disabled (reading and spot trading only) and connect that one; "
            "delete this key at the exchange if you don't use it elsewhere",
        )
    if verification.can_trade is False:
        raise Invalid(
            f"this {broker.value} key cannot trade", hint="enable spot trading on the key at the exchange, then connect it"
        )
    return verification


async def _check_free(session: AsyncSession, actor: Actor, label: str, broker: BrokerName) -> Credential | None:
    """None when the label is free; the row when it holds a revoked key of this broker (replaced in place)."""
    row = await session.scalar(
        select(Credential).where(Credential.user_id == actor.user_id, Credential.label_key == label_key(label))
    )
    if row is not None:
        if row.status == REVOKED and row.broker == broker.value:
            return row
        raise Conflict(
            f"you already have a key labelled '{row.label}'",
            hint=f"pick another label, or /disconnect {row.label} first",
        )
    count = await session.scalar(
        select(func.count())
        .select_from(Credential)
        .where(
            Credential.user_id == actor.user_id,
            Credential.status != REMOVED,
            Credential.broker != BrokerName.PAPER.value,
        )
    )
    if (count or 0) >= MAX_CREDENTIALS:
        raise LimitExceeded(f"you have {MAX_CREDENTIALS} exchange keys, the most one account keeps: disconnect one first")
    return None


async def _ensure_paper(session: AsyncSession, db: Database, actor: Actor) -> None:
    await session.execute(
        insert_ignoring_conflicts(db.dialect, Credential, "user_id", "label_key").values(
            user_id=actor.user_id,
            broker=BrokerName.PAPER.value,
            label=PAPER_LABEL,
            label_key=PAPER_LABEL,
            secret_token="",
            key_hint="",
            status=ACTIVE,
            created_at=utcnow(),
        )
    )


async def credential_row(session: AsyncSession, actor: Actor, label: str, *, lock: bool = False) -> Credential:
    """The actor's credential row labelled ``label`` (``NotFound``, with the nearest label, if none)."""
    query = select(Credential).where(
        Credential.user_id == actor.user_id,
        Credential.label_key == label_key(label or ""),
        Credential.status != REMOVED,
    )
    row = await session.scalar(query.with_for_update() if lock else query)
    if row is None:
        labels = await session.scalars(
            select(Credential.label).where(Credential.user_id == actor.user_id, Credential.status != REMOVED)
        )
        shown = (label or "").strip()
        shown = shown if _LABEL.match(shown) else "that label"
        raise NotFound(f"you have no broker key '{shown}'{did_you_mean(shown, labels)}", hint="see /credentials")
    return row
