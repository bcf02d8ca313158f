"""The Deployments domain: Deploy Model, Retrieve Deployed Models, Update Status, Delete.

Deploying copies the model's script and inputs into the deployment, so editing the model later
never changes what runs. Deployments trade spot, long only: a model that assigns ``short`` is
refused on every broker, the paper account included, so that a paper result is one the same
deployment could reproduce live. Live (non-paper) deployments need an explicit confirmation and
the user's plan to allow live trading; the per-user limits come from ``core.purchase.limits``.

The stake of each entry is either ``size``, a fraction of the free quote balance (1.0, all of it,
by default), or ``stake_amount``, a fixed amount in the quote currency (USDT for BTCUSDT, whole
rupiah for an IDX stock); exactly one applies, and the plan's ``max_position_value`` caps both.
Input overrides given at deploy time are checked against the script's ``input()`` declarations
(the same check as ``/run``) and stored, over the model's saved values and the script's
defaults, as the deployment's ``inputs``: every input's value, frozen like the script.

A new deployment starts at the latest candle boundary (``last_bar_at``): its first decision is on
the first bar that closes after it was deployed, never on a signal that was already old. Resuming
does the same, so bars that closed while it was paused are not traded late.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.account.models import Chat
from core.account.service import lock_user
from core.actor import Actor
from core.broker.models import Credential
from core.broker.service import CredentialView, get_credential, paper_credential
from core.broker.symbols import is_idx, split_symbol
from core.broker.types import BrokerName, OrderRejected
from core.config import Settings
from core.db import Database, utcnow
from core.deployment.bars import LATE, ON_TIME, expected_close
from core.deployment.executor import UNRESOLVED
from core.deployment.models import Deployment
from core.deployment.status import ACTIVE, ENDED, RUNNING, Status
from core.errors import Conflict, Forbidden, Invalid, LimitExceeded, NotFound
from core.market.service import MarketService
from core.market.types import Instrument, Source, parse_interval
from core.model.service import check_inputs, get_model
from core.paging import Page, check_page
from core.purchase.limits import Limits, limits_for
from core.trade.models import Order


@dataclass(frozen=True, slots=True)
class DeploymentView:
    id: int
    label: str
    ticker: str
    interval: str
    market: str
    timing: str
    status: str
    status_reason: str
    credential_id: int
    credential_label: str
    broker: str
    size: float
    max_position_value: float | None
    position_qty: float
    entry_price: float | None
    last_bar_at: datetime | None
    last_signal: str | None
    created_at: datetime
    stake_amount: float | None = None  # a fixed stake per entry in ``quote_currency``; else ``size`` applies
    inputs: dict[str, Any] = field(default_factory=dict)
    quote_currency: str = ""

    @property
    def paper(self) -> bool:
        return self.broker == BrokerName.PAPER

    @property
    def running(self) -> bool:
        return self.status in RUNNING


@dataclass(frozen=True, slots=True)
class DeployPlan:
    """What ``deploy`` would create: shown to the user before a live deployment is confirmed."""

    label: str
    kind: str
    ticker: str
    interval: str
    timing: str
    instrument: Instrument
    symbol: str  # what orders name at the broker
    credential_id: int
    credential_label: str
    broker: str
    size: float
    max_position_value: float | None
    stake_amount: float | None = None
    inputs: dict[str, Any] = field(default_factory=dict)  # every input's value, as the deployment stores it
    overrides: dict[str, Any] = field(default_factory=dict)  # the inputs given to /deploy, checked

    @property
    def paper(self) -> bool:
        return self.broker == BrokerName.PAPER

    @property
    def quote_currency(self) -> str:
        return split_symbol(self.symbol)[1]


def quote_currency(ticker: str, market: str = "") -> str:
    """The currency a deployment's stake is in: IDR for an IDX stock, the pair's quote for crypto."""
    if market == Source.YFINANCE.value or is_idx(ticker):
        return "IDR"
    try:
        return split_symbol(ticker)[1]
    except OrderRejected:
        return "IDR"  # a bare IDX ticker (BBCA) from another source: the only other kind deployed


def check_stake(size: float | None, stake_amount: float | None, currency: str) -> float:
    """The fraction ``size`` to store (1.0 when a fixed ``stake_amount`` applies instead).

    Invalid, naming what is wrong, for both at once, a fraction outside (0, 1], an amount that is
    not above zero, or rupiah with a fraction of a rupiah.
    """
    if size is not None and stake_amount is not None:
        raise Invalid("give the stake either as a share of the balance (size=25%) or as an amount (size=500), not both")
    if stake_amount is not None:
        if not (math.isfinite(stake_amount) and stake_amount > 0):
            raise Invalid(f"the stake must be an amount above 0 {currency}".rstrip())
        if stake_amount >= 1e15:
            raise Invalid(f"the stake {stake_amount:.3g} is out of range")
        if currency == "IDR" and not float(stake_amount).is_integer():
            raise Invalid(f"rupiah stakes are whole rupiah, not {stake_amount:,.2f}")
        return 1.0
    size = 1.0 if size is None else size
    if not (math.isfinite(size) and 0 < size <= 1):
        raise Invalid(f"the stake is a share of the balance above 0 % and at most 100 %, not {size * 100:g} %")
    return size


def broker_symbol(instrument: Instrument) -> str:
    """The symbol orders use: ``BBCA.JK`` for an IDX stock, ``BTC/USDT`` for a crypto pair.

    Invalid for anything a spot broker here cannot trade (indices, other stock markets).
    """
    from core.broker.symbols import is_idx, unified
    from core.broker.types import OrderRejected

    symbol = instrument.symbol.upper()
    if is_idx(symbol) or (instrument.lot_size == 100 and symbol.isalnum()):
        return symbol if is_idx(symbol) else f"{symbol}.JK"
    if instrument.lot_size == 1 and (instrument.currency or "").upper() == "IDR" and "/" not in symbol:
        raise Invalid(f"{instrument.display} is an index: it cannot be traded", hint="deploy on a stock such as BBCA")
    try:
        return unified(symbol)
    except OrderRejected:
        raise Invalid(
            f"{instrument.display} cannot be traded here: deployments trade IDX stocks and crypto pairs",
            hint="for example BBCA, TLKM, BTCUSDT",
        ) from None


async def plan_deployment(
    db: Database,
    settings: Settings,
    market: MarketService,
    actor: Actor,
    model_label: str,
    ticker: str,
    interval: str = "1d",
    *,
    credential: str | None = None,
    timing: str = ON_TIME,
    size: float | None = None,
    max_position_value: float | None = None,
    stake_amount: float | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> DeployPlan:
    """Check everything a deployment needs, without creating it.

    ``size``: the fraction of the free quote balance each entry uses (all of it when left out);
    ``stake_amount``: a fixed amount in the quote currency instead. ``inputs``: overrides of the
    script's inputs, checked like ``/run`` checks them (unknown names suggest the right one).
    """
    timing = _timing(timing)
    parsed = parse_interval(interval)
    if size is not None and stake_amount is None:
        check_stake(size, None, "")
    if max_position_value is not None and max_position_value <= 0:
        raise Invalid("the position cap must be above 0")
    model = await get_model(db, actor, model_label)
    overrides = check_inputs(model.declared, dict(inputs or {}))
    if model.is_indicator:
        raise Invalid(f"'{model.label}' is an indicator (no buy/sell): there is nothing to trade")
    if "short" in model.outputs or "cover" in model.outputs:
        raise Invalid(
            f"'{model.label}' is a long/short model (it assigns short): deployments trade spot, long only, "
            "where selling short is not possible",
            hint="deploy a copy without short/cover, or /run it to backtest both sides",
        )
    candles = await market.candles(ticker, parsed)  # NotFound for an unknown ticker, Invalid for the interval
    symbol = broker_symbol(candles.instrument)
    size = check_stake(size, stake_amount, split_symbol(symbol)[1])
    cred = await _credential(db, actor, credential)
    limits = await limits_for(db, settings, actor.user_id)
    paper = cred.broker == BrokerName.PAPER
    if not paper and (is_idx(symbol) or candles.instrument.source == Source.YFINANCE):
        raise Invalid(
            f"{candles.instrument.display} is an IDX stock: no connected exchange trades it, "
            f"so it cannot be deployed on '{cred.label}' ({cred.broker})",
            hint="deploy it on your paper account: leave out the credential",
        )
    if not paper and not limits.live_trading:
        raise Forbidden(f"live trading is not included in your plan ({limits.plan})", hint="deploy on paper: leave out the credential")
    if limits.max_position_value is not None:
        max_position_value = min(max_position_value or limits.max_position_value, limits.max_position_value)
    async with db.session() as session:
        await _check_capacity(
            session, actor, limits, label=model.label, ticker=candles.instrument.display, interval=parsed.code,
            credential_id=cred.id,
        )  # fmt: skip
    return DeployPlan(
        label=model.label,
        kind=model.kind,
        ticker=candles.instrument.display,
        interval=parsed.code,
        timing=timing,
        instrument=candles.instrument,
        symbol=symbol,
        credential_id=cred.id,
        credential_label=cred.label,
        broker=cred.broker,
        size=size,
        max_position_value=max_position_value,
        stake_amount=stake_amount,
        inputs={**model.declared, **model.inputs, **overrides},
        overrides=overrides,
    )


async def deploy(
    db: Database,
    settings: Settings,
    market: MarketService,
    actor: Actor,
    model_label: str,
    ticker: str,
    interval: str = "1d",
    *,
    credential: str | None = None,
    timing: str = ON_TIME,
    size: float | None = None,
    max_position_value: float | None = None,
    stake_amount: float | None = None,
    inputs: Mapping[str, Any] | None = None,
    confirmed: bool = False,
    now: datetime | None = None,
    plan: DeployPlan | None = None,
) -> DeploymentView:
    """Deploy a saved model. A live credential needs ``confirmed=True`` (Forbidden otherwise).

    ``plan``: one ``plan_deployment`` already made for these arguments (the confirmation shown to
    the user), used instead of planning again. The limit and the duplicate check are repeated
    under the user's lock either way: a double-pressed /deploy creates one deployment.
    """
    if plan is None:
        plan = await plan_deployment(
            db, settings, market, actor, model_label, ticker, interval,
            credential=credential, timing=timing, size=size, max_position_value=max_position_value,
            stake_amount=stake_amount, inputs=inputs,
        )  # fmt: skip
    if not plan.paper and not confirmed:
        raise Forbidden("a live deployment trades real money: confirm it first", hint="add --yes to confirm")
    model = await get_model(db, actor, plan.label)
    limits = await limits_for(db, settings, actor.user_id)
    now = now or utcnow()
    async with db.session() as session:
        await lock_user(session, actor.user_id)  # checked again: two /deploy at once cannot both pass
        await _check_capacity(
            session, actor, limits, label=model.label, ticker=plan.ticker, interval=plan.interval,
            credential_id=plan.credential_id,
        )  # fmt: skip
        row = Deployment(
            user_id=actor.user_id,
            model_id=model.id,
            credential_id=plan.credential_id,
            label=model.label,
            source=model.source,
            inputs=dict(plan.inputs),
            market=plan.instrument.source.value,
            ticker=plan.ticker,
            interval=plan.interval,
            timing=plan.timing,
            status=Status.PENDING,
            size=plan.size,
            stake_amount=plan.stake_amount,
            max_position_value=plan.max_position_value,
            last_bar_at=expected_close(now, parse_interval(plan.interval), plan.timing, settings.late_grace_s),
            notify_chat_id=await _group_chat(session, actor),
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        return await _view(session, row)


async def list_deployments(db: Database, actor: Actor, page: int = 1, page_size: int = 10) -> Page[DeploymentView]:
    """The actor's deployments, running ones first, newest first within each group."""
    offset = check_page(page, page_size)
    async with db.session() as session:
        total = await session.scalar(
            select(func.count()).select_from(Deployment).where(Deployment.user_id == actor.user_id)
        )
        ended = Deployment.status.in_(ENDED)
        rows = await session.execute(
            select(Deployment, Credential.label, Credential.broker)
            .join(Credential, Credential.id == Deployment.credential_id)
            .where(Deployment.user_id == actor.user_id)
            .order_by(ended, Deployment.id.desc())
            .offset(offset)
            .limit(page_size)
        )
        items = [_make_view(d, label, broker) for d, label, broker in rows]
    return Page(items, page, page_size, total or 0)


async def get_deployment(db: Database, actor: Actor, deployment_id: int) -> DeploymentView:
    async with db.session() as session:
        return await _view(session, await _own(session, actor, deployment_id))


async def update_status(
    db: Database, settings: Settings, actor: Actor, deployment_id: int, action: str, *, now: datetime | None = None
) -> DeploymentView:
    """``pause``, ``resume`` or ``stop`` (TaskCanceled: final; any holding stays in the account)."""
    if action not in ("pause", "resume", "stop"):
        raise Invalid(f"a deployment can be paused, resumed or stopped, not '{action}'")
    async with db.session() as session:
        row = await _own(session, actor, deployment_id, lock=True)
        if row.status in ENDED:
            raise Conflict(f"deployment #{row.id} has ended ({row.status}): deploy the model again to restart it")
        if action == "pause":
            if row.status == Status.PAUSED:
                raise Conflict(f"deployment #{row.id} is already paused")
            row.status, row.status_reason = Status.PAUSED, "paused by you"
        elif action == "resume":
            if row.status != Status.PAUSED:
                raise Conflict(f"deployment #{row.id} is not paused ({row.status})")
            if row.credential_id is not None:
                await _check_credential_usable(session, row.credential_id)
            boundary = expected_close(now or utcnow(), parse_interval(row.interval), row.timing, settings.late_grace_s)
            row.last_bar_at = max(row.last_bar_at, boundary) if row.last_bar_at else boundary
            row.status = Status.LONG if row.position_qty > 0 else Status.FLAT
            row.status_reason = ""
        else:
            row.status = Status.CANCELED
            row.status_reason = "stopped by you"
        row.updated_at = utcnow()
        await session.flush()
        return await _view(session, row)


async def stop_all(db: Database, actor: Actor) -> list[int]:
    """Pause every running deployment of the actor at once (``/stopall``); the ids paused."""
    async with db.session() as session:
        rows = await session.execute(
            update(Deployment)
            .where(Deployment.user_id == actor.user_id, Deployment.status.in_(RUNNING))
            .values(status=Status.PAUSED, status_reason="paused by /stopall", updated_at=utcnow())
            .returning(Deployment.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(rows.scalars())


async def delete_deployment(db: Database, actor: Actor, deployment_id: int) -> DeploymentView:
    """Remove a deployment that holds nothing and has no order in flight (its orders and trades stay)."""
    async with db.session() as session:
        row = await _own(session, actor, deployment_id, lock=True)
        if row.position_qty > 0 and row.status not in ENDED:
            raise Conflict(
                f"deployment #{row.id} holds {row.position_qty:g} {row.ticker}: stop it first "
                "(the holding stays in the account) or wait for its exit",
                hint=f"/stop {row.id}",
            )
        in_flight = await session.scalar(
            select(func.count()).select_from(Order).where(
                Order.deployment_id == row.id, Order.status.in_(UNRESOLVED)
            )
        )
        if in_flight:
            raise Conflict(f"deployment #{row.id} has an order in flight: try again in a minute")
        view = await _view(session, row)
        await session.delete(row)
    return view


# --- helpers -------------------------------------------------------------------------------------


def _timing(text: str) -> str:
    lowered = (text or ON_TIME).strip().lower().replace("_", "").replace("-", "")
    if lowered in ("ontime", "now"):
        return ON_TIME
    if lowered in ("late", "delayed"):
        return LATE
    raise Invalid(f"timing is OnTime or Late, not '{text}'")


async def _credential(db: Database, actor: Actor, label: str | None) -> CredentialView:
    """The named credential of the actor (it must be usable), or their paper account."""
    if not label:
        return await paper_credential(db, actor)
    cred = await get_credential(db, actor, label)  # NotFound (hint: /credentials)
    if cred.status != "Active":
        raise Conflict(f"credential '{cred.label}' is {cred.status.lower()}: reconnect it first")
    return cred


async def _check_capacity(
    session: AsyncSession,
    actor: Actor,
    limits: Limits,
    *,
    label: str,
    ticker: str,
    interval: str,
    credential_id: int,
) -> None:
    """LimitExceeded at the plan's deployment limit, Conflict when the same model already runs on
    the same series and account. Run under ``lock_user`` before inserting, so that it holds."""
    active = await session.scalar(
        select(func.count()).select_from(Deployment).where(
            Deployment.user_id == actor.user_id, Deployment.status.in_(ACTIVE)
        )
    )
    if (active or 0) >= limits.max_deployments:
        raise LimitExceeded(
            f"you have {active} deployments, the most your plan ({limits.plan}) allows: stop or delete one first",
            hint="see /deployments",
        )
    twin = await session.scalar(
        select(Deployment.id).where(
            Deployment.user_id == actor.user_id,
            Deployment.status.in_(ACTIVE),
            Deployment.label == label,
            Deployment.ticker == ticker,
            Deployment.interval == interval,
            Deployment.credential_id == credential_id,
        ).limit(1)
    )
    if twin is not None:
        raise Conflict(f"'{label}' already runs on {ticker} {interval} as deployment #{twin}")


async def _check_credential_usable(session: AsyncSession, credential_id: int) -> None:
    cred = await session.get(Credential, credential_id)
    if cred is None or cred.status != "Active":
        raise Conflict("this deployment's credential was disconnected or revoked: deploy again on another one")


async def _group_chat(session: AsyncSession, actor: Actor) -> int | None:
    """The group a deployment was made in: its alerts are posted there too."""
    if not actor.is_group or actor.chat_id is None:
        return None
    return await session.scalar(
        select(Chat.id).where(Chat.platform == actor.platform, Chat.external_id == str(actor.chat_id))
    )


async def _own(session: AsyncSession, actor: Actor, deployment_id: int, *, lock: bool = False) -> Deployment:
    query = select(Deployment).where(Deployment.id == deployment_id, Deployment.user_id == actor.user_id)
    if lock:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        raise NotFound(f"you have no deployment #{deployment_id}", hint="see /deployments")
    return row


async def _view(session: AsyncSession, row: Deployment) -> DeploymentView:
    cred = await session.get(Credential, row.credential_id)
    return _make_view(row, cred.label if cred else "?", cred.broker if cred else "?")


def _make_view(row: Deployment, credential_label: str, broker: str) -> DeploymentView:
    return DeploymentView(
        id=row.id,
        label=row.label,
        ticker=row.ticker,
        interval=row.interval,
        market=row.market,
        timing=row.timing,
        status=row.status,
        status_reason=row.status_reason,
        credential_id=row.credential_id,
        credential_label=credential_label,
        broker=broker,
        size=row.size,
        max_position_value=row.max_position_value,
        position_qty=row.position_qty,
        entry_price=row.entry_price,
        last_bar_at=row.last_bar_at,
        last_signal=row.last_signal,
        created_at=row.created_at,
        stake_amount=row.stake_amount,
        inputs=dict(row.inputs or {}),
        quote_currency=quote_currency(row.ticker, row.market),
    )


__all__ = [
    "DeployPlan",
    "DeploymentView",
    "check_stake",
    "delete_deployment",
    "deploy",
    "get_deployment",
    "list_deployments",
    "plan_deployment",
    "quote_currency",
    "stop_all",
    "update_status",
]
