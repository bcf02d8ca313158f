"""Taking a broker key or the paper balances away from under the deployments that trade on them.

``disconnect`` and ``reset_paper`` are the broker domain's operations, refused while a running
deployment trades with the key or holds a position on the paper account, or an order on it is in
flight. Only deployments can tell that, and they are built on brokers, so these live here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from core.actor import Actor
from core.broker.models import PaperBalance
from core.broker.paper import MARKER_PREFIX, PaperBroker, starting_balances
from core.broker.service import (
    PAPER_LABEL,
    REMOVED,
    CredentialView,
    PaperAccount,
    credential_row,
    paper_credential,
    shown_balances,
    view_of,
)
from core.config import Settings
from core.db import Database, insert_ignoring_conflicts, utcnow
from core.deployment.executor import UNRESOLVED
from core.deployment.models import Deployment
from core.deployment.status import ENDED
from core.deployment.status import RUNNING as RUNNING_DEPLOYMENTS
from core.errors import Conflict, Invalid
from core.labels import label_key
from core.logging import get_logger
from core.trade.models import Order

log = get_logger(__name__)


async def disconnect(db: Database, actor: Actor, label: str) -> CredentialView:
    """Forget a key. Refused while a running deployment trades with it.

    A credential that finished or paused deployments still point at keeps its row (their
    history refers to it) with the key wiped and the label freed; otherwise the row goes.
    """
    if label_key(label or "") == PAPER_LABEL:
        raise Invalid("the paper account is built in and stays: there is nothing to disconnect")
    async with db.session() as session:
        row = await credential_row(session, actor, label, lock=True)
        counts = dict(
            (
                await session.execute(
                    select(Deployment.status, func.count())
                    .where(Deployment.credential_id == row.id)
                    .group_by(Deployment.status)
                )
            ).all()
        )
        running = sum(n for status, n in counts.items() if status in RUNNING_DEPLOYMENTS)
        if running:
            raise Conflict(
                f"'{row.label}' is used by {running} running deployment(s): pause or stop them first",
                hint="see /deployments",
            )
        view = view_of(row)
        if counts:
            row.secret_token = ""
            row.status = REMOVED
            row.label_key = f"{row.label_key}~{row.id}"[:64]
        else:
            await session.delete(row)
    log.info("broker_key_disconnected", user=actor.user_id, credential=view.id)
    return view


@dataclass(frozen=True, slots=True)
class PaperReset:
    before: dict[str, float]  # the balances the reset replaced
    account: PaperAccount  # the balances now
    cleared: tuple[int, ...] = ()  # ended deployments whose leftover holding went with the reset


class PaperResetBlocked(Conflict):
    """Deployments still trading the paper account hold positions: resetting would orphan them."""

    def __init__(self, message: str, deployment_ids: tuple[int, ...], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.deployment_ids = deployment_ids


async def reset_paper(db: Database, settings: Settings, actor: Actor, *, check_only: bool = False) -> PaperReset:
    """Put the actor's paper account back to its starting balances (``/paper reset``).

    Cash (IDR, USDT) is set to ``PAPER_START_*`` and every other asset is removed. Refused
    (``PaperResetBlocked``) while a deployment that has not ended holds a position on the paper
    account, since it would then sell what the account no longer has, and (``Conflict``) while an
    order on it is in flight; flat deployments keep running on the fresh balances. Deployments that
    ended holding something (a stopped one keeps its holding in the account) have that holding
    cleared with it, so ``/positions`` no longer shows it. The fill markers stay: they keep every
    order id already used filled exactly once, and are never shown. ``check_only``: raise what a
    reset would refuse, change nothing (the confirmation shown first).
    """
    cred = await paper_credential(db, actor)
    starting = starting_balances(settings)
    balance = await PaperBroker(db, settings, cred.id).fetch_balance()  # seeds a never-used account
    mine = PaperBalance.credential_id == cred.id
    not_marker = PaperBalance.asset.not_like(MARKER_PREFIX + "%")
    async with db.session() as session:
        # the balance rows a paper fill updates: a fill on this account waits for the reset, or it waits
        await session.execute(select(PaperBalance.id).where(mine, not_marker).with_for_update())
        holding = (
            await session.execute(
                select(Deployment.id, Deployment.label, Deployment.ticker, Deployment.position_qty)
                .where(Deployment.credential_id == cred.id, Deployment.position_qty != 0,
                       Deployment.status.not_in(ENDED))
                .order_by(Deployment.id)
            )
        ).all()  # fmt: skip
        if holding:
            ids = tuple(row.id for row in holding)
            listed = ", ".join(f"#{r.id} {r.label} ({r.position_qty:g} {r.ticker})" for r in holding[:5])
            more = f" and {len(holding) - 5} more" if len(holding) > 5 else ""
            raise PaperResetBlocked(
                f"your paper deployment{'s' if len(ids) > 1 else ''} {listed}{more} "
                f"hold{'' if len(ids) > 1 else 's'} a position: the reset would take it away while "
                f"{'they trade' if len(ids) > 1 else 'it trades'}. Sell it first, or stop "
                f"{'them' if len(ids) > 1 else 'it'} (the holding then goes with the reset)",
                ids,
                hint=f"/stop {ids[0]}",
            )
        in_flight = await session.scalar(
            select(func.count()).select_from(Order).where(Order.credential_id == cred.id, Order.status.in_(UNRESOLVED))
        )
        if in_flight:
            raise Conflict("an order on your paper account is in flight: try the reset again in a minute")
        if check_only:
            return PaperReset(shown_balances(balance), PaperAccount(cred.id, shown_balances(balance), starting))
        before = {
            asset: amount
            for asset, amount in await session.execute(select(PaperBalance.asset, PaperBalance.amount).where(mine, not_marker))
        }  # fmt: skip
        now = utcnow()
        await session.execute(delete(PaperBalance).where(mine, not_marker, PaperBalance.asset.not_in(list(starting))))
        for asset, amount in starting.items():
            await session.execute(
                insert_ignoring_conflicts(db.dialect, PaperBalance, "credential_id", "asset").values(
                    credential_id=cred.id, asset=asset, amount=amount, updated_at=now
                )
            )
            await session.execute(update(PaperBalance).where(mine, PaperBalance.asset == asset).values(amount=amount, updated_at=now))
        cleared = await session.execute(
            update(Deployment)
            .where(Deployment.credential_id == cred.id, Deployment.position_qty != 0, Deployment.status.in_(ENDED))
            .values(position_qty=0.0, entry_price=None, updated_at=now)
            .returning(Deployment.id)
            .execution_options(synchronize_session=False)
        )
        cleared_ids = tuple(sorted(cleared.scalars()))
    log.info("paper_reset", user=actor.user_id, credential=cred.id, cleared=len(cleared_ids))
    return PaperReset(shown_balances(before), PaperAccount(cred.id, dict(starting), starting), cleared_ids)
