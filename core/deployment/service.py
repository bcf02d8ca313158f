"""The Deployments domain: Deploy Model, Retrieve Deployed Models, Update Status, Delete.

Deploying copies the model's script and inputs into the deployment, so editing the model later
never changes what runs. Deployments trade spot, long only: a model that assigns ``short`` is
refused on every broker, the paper account included, so that a paper result is one the same
deployment could reproduce live. Live (non-paper) deployments need an explicit confirmation and
the user's plan to allow live trading; the per-user limits come from ``core.purchase.limits``.

Every function takes the ``Services`` (database, settings, market) first, then the ``Actor``; a
deployment is described by a ``DeployRequest``, checked once where it is built, so that a chat
command and an HTTP route refuse the same things with the same words.

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
from enum import StrEnum
from typing import Any, Self

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.account.models import Chat
from core.account.service import lock_user
from core.actor import Actor
from core.broker.models import Credential, CredentialStatus
from core.broker.service import CredentialView, get_credential, paper_credential
from core.broker.symbols import is_idx, split_symbol
from core.broker.types import BrokerName, OrderRejected
from core.db import Database, utcnow
from core.deployment.bars import Timing, expected_close
from core.deployment.executor import UNRESOLVED
from core.deployment.models import Deployment
from core.deployment.status import ACTIVE, ENDED, RUNNING, Status
from core.errors import Conflict, Forbidden, Invalid, LimitExceeded, NotFound
from core.market.symbols import IDX_CURRENCY, IDX_SUFFIX, Market, money_decimals, without_idx_suffix
from core.market.types import Instrument, Source, parse_interval
from core.model.service import check_inputs, get_model
from core.paging import Page, fetch_page
from core.purchase.limits import Limits, limits_for
from core.services import Services
from core.trade.models import Order


@dataclass(frozen=True, slots=True)
class DeployRequest:
    """A deployment as ``/deploy``'s words or an HTTP body give it: plain values, checked here.

    ``label``: the model's. ``credential``: a connected credential's label; None for the user's
    paper account. ``size`` or ``stake_amount``: the stake of each entry (at most one; neither is
    the whole free balance). ``inputs``: overrides of the script's inputs, checked against the
    script when planning. Construction normalises the timing (``Timing``) and the interval (its
    code) and refuses what is wrong whatever the model and market: an unknown timing or interval,
    a share outside (0, 100 %], both stakes at once, a cap not above 0. What depends on the
    instrument (an amount in rupiah must be whole) is checked by ``check_stake`` when planning.
    """

    label: str
    ticker: str
    interval: str = "1d"
    credential: str | None = None
    timing: Timing | str = Timing.ON_TIME
    size: float | None = None
    stake_amount: float | None = None
    max_position_value: float | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # frozen: the normalised values replace the given ones once, before anything reads them
        object.__setattr__(self, "timing", Timing.parse(self.timing))
        object.__setattr__(self, "interval", parse_interval(self.interval).code)
        object.__setattr__(self, "credential", self.credential or None)
        object.__setattr__(self, "inputs", dict(self.inputs or {}))
        if self.size is not None:
            check_stake(self.size, self.stake_amount, "")
        if self.max_position_value is not None and self.max_position_value <= 0:
            raise Invalid("the position cap must be above 0")


class Action(StrEnum):
    """What ``update_status`` does to a deployment."""

    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"

    @classmethod
    def parse(cls, text: str) -> Action:
        try:
            return cls(text)
        except ValueError:
            raise Invalid(f"a deployment can be paused, resumed or stopped, not '{text}'") from None

    @classmethod
    def to_reach(cls, status: str) -> Action:
        """The action the API's Update Status means by the status it asks for (``modelTaskStatus``):
        Paused pauses, TaskCanceled stops, NoPosition or OpenPosition resumes (which of the two it
        becomes is the position's). The other statuses are reached only by the deployment itself."""
        if status == Status.PAUSED:
            return cls.PAUSE
        if status == Status.CANCELED:
            return cls.STOP
        if status in (Status.FLAT, Status.LONG):
            return cls.RESUME
        raise Invalid(
            f"a deployment can be set to Paused, NoPosition or OpenPosition (resumed) or TaskCanceled, not '{status}'"
        )


@dataclass(frozen=True, slots=True)
class DeploymentView:
    id: int
    label: str
    ticker: str
    interval: str
    market: str
    timing: str
    status: Status
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

    @classmethod
    def from_row(cls, row: Deployment, credential_label: str, broker: str) -> Self:
        """The row as shown, with its credential's label and broker (read by the caller: one join
        for a whole page)."""
        return cls(
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


@dataclass(frozen=True, slots=True)
class DeployPlan:
    """What ``deploy`` would create: shown to the user before a live deployment is confirmed."""

    label: str
    kind: str
    ticker: str
    interval: str
    timing: Timing
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
        return IDX_CURRENCY
    try:
        return split_symbol(ticker)[1]
    except OrderRejected:
        return IDX_CURRENCY  # a bare IDX ticker (BBCA) from another source: the only other kind deployed


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
        if money_decimals(currency) == 0 and not float(stake_amount).is_integer():
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
    from core.broker.symbols import unified
    from core.broker.types import OrderRejected

    if instrument.market is Market.IDX_STOCK:
        return without_idx_suffix(instrument.symbol) + IDX_SUFFIX
    if instrument.market is Market.IDX_INDEX:
        raise Invalid(f"{instrument.display} is an index: it cannot be traded", hint="deploy on a stock such as BBCA")
    try:
        return unified(instrument.symbol)
    except OrderRejected:
        raise Invalid(
            f"{instrument.display} cannot be traded here: deployments trade IDX stocks and crypto pairs",
            hint="for example BBCA, TLKM, BTCUSDT",
        ) from None


async def plan_deployment(services: Services, actor: Actor, request: DeployRequest) -> DeployPlan:
    """Check everything the requested deployment needs, without creating it.

    The request's ``inputs`` are checked like ``/run`` checks them (unknown names suggest the
    right one); the plan's cap is the smaller of the request's and the user's plan's.
    """
    db, settings, market = services.db, services.settings, services.market
    size, stake_amount, max_position_value = request.size, request.stake_amount, request.max_position_value
    model = await get_model(db, actor, request.label)
    overrides = check_inputs(model.declared, dict(request.inputs))
    if model.is_indicator:
        raise Invalid(f"'{model.label}' is an indicator (no buy/sell): there is nothing to trade")
    if "short" in model.outputs or "cover" in model.outputs:
        raise Invalid(
            f"'{model.label}' is a long/short model (it assigns short): deployments trade spot, long only, "
            "where selling short is not possible",
            hint="deploy a copy without short/cover, or /run it to backtest both sides",
        )
    candles = await market.candles(request.ticker, request.interval)  # NotFound for an unknown ticker
    symbol = broker_symbol(candles.instrument)
    size = check_stake(size, stake_amount, split_symbol(symbol)[1])
    cred = await _credential(db, actor, request.credential)
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
            session, actor, limits, label=model.label, ticker=candles.instrument.display, interval=request.interval,
            credential_id=cred.id,
        )  # fmt: skip
    return DeployPlan(
        label=model.label,
        kind=model.kind,
        ticker=candles.instrument.display,
        interval=request.interval,
        timing=Timing(request.timing),  # a Timing since the request was built: typed as one here
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
    services: Services,
    actor: Actor,
    request: DeployRequest | DeployPlan,
    *,
    confirmed: bool = False,
    now: datetime | None = None,
) -> DeploymentView:
    """Deploy a saved model. A live credential needs ``confirmed=True`` (Forbidden otherwise).

    A ``DeployPlan`` already made (the confirmation shown to the user) is used as it is instead of
    planning the request again. The limit and the duplicate check are repeated under the user's
    lock either way: a double-pressed /deploy creates one deployment.
    """
    db, settings = services.db, services.settings
    plan = request if isinstance(request, DeployPlan) else await plan_deployment(services, actor, request)
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


async def list_deployments(
    services: Services, actor: Actor, page: int = 1, page_size: int = 10, *,
    ticker: str | None = None, market: str | None = None,
) -> Page[DeploymentView]:  # fmt: skip
    """The actor's deployments, running ones first, newest first within each group; only those
    trading ``ticker`` (as deployed) or reading ``market`` (a ``Source`` value) when given."""
    mine = [Deployment.user_id == actor.user_id]
    if ticker:
        mine.append(func.upper(Deployment.ticker) == ticker.strip().upper())
    if market:
        mine.append(Deployment.market == market)
    async with services.db.session() as session:
        ended = Deployment.status.in_(ENDED)
        query = (
            select(Deployment, Credential.label, Credential.broker)
            .join(Credential, Credential.id == Deployment.credential_id)  # every deployment has its credential
            .where(*mine)
            .order_by(ended, Deployment.id.desc())
        )
        rows, total = await fetch_page(session, query, page, page_size)
        items = [DeploymentView.from_row(d, label, broker) for d, label, broker in rows]
    return Page(items, page, page_size, total)


async def get_deployment(services: Services, actor: Actor, deployment_id: int) -> DeploymentView:
    async with services.db.session() as session:
        return await _view(session, await _own(session, actor, deployment_id))


async def update_status(
    services: Services, actor: Actor, deployment_id: int, action: Action | str, *, now: datetime | None = None
) -> DeploymentView:
    """``pause``, ``resume`` or ``stop`` (TaskCanceled: final; any holding stays in the account)."""
    action = Action.parse(action)
    async with services.db.session() as session:
        row = await _own(session, actor, deployment_id, lock=True)
        if row.status in ENDED:
            raise Conflict(f"deployment #{row.id} has ended ({row.status}): deploy the model again to restart it")
        if action is Action.PAUSE:
            if row.status == Status.PAUSED:
                raise Conflict(f"deployment #{row.id} is already paused")
            row.status, row.status_reason = Status.PAUSED, "paused by you"
        elif action is Action.RESUME:
            if row.status != Status.PAUSED:
                raise Conflict(f"deployment #{row.id} is not paused ({row.status})")
            if row.credential_id is not None:
                await _check_credential_usable(session, row.credential_id)
            boundary = expected_close(
                now or utcnow(), parse_interval(row.interval), row.timing, services.settings.late_grace_s
            )
            row.last_bar_at = max(row.last_bar_at, boundary) if row.last_bar_at else boundary
            row.status = Status.LONG if row.position_qty > 0 else Status.FLAT
            row.status_reason = ""
        else:
            row.status = Status.CANCELED
            row.status_reason = "stopped by you"
        row.updated_at = utcnow()
        await session.flush()
        return await _view(session, row)


async def stop_all(services: Services, actor: Actor) -> list[int]:
    """Pause every running deployment of the actor at once (``/stopall``); the ids paused."""
    async with services.db.session() as session:
        rows = await session.execute(
            update(Deployment)
            .where(Deployment.user_id == actor.user_id, Deployment.status.in_(RUNNING))
            .values(status=Status.PAUSED, status_reason="paused by /stopall", updated_at=utcnow())
            .returning(Deployment.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(rows.scalars())


async def delete_deployment(services: Services, actor: Actor, deployment_id: int) -> DeploymentView:
    """Remove a deployment that holds nothing and has no order in flight (its orders and trades stay)."""
    async with services.db.session() as session:
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


async def _credential(db: Database, actor: Actor, label: str | None) -> CredentialView:
    """The named credential of the actor (it must be usable), or their paper account."""
    if not label:
        return await paper_credential(db, actor)
    cred = await get_credential(db, actor, label)  # NotFound (hint: /credentials)
    if cred.status != CredentialStatus.ACTIVE:
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
    if cred is None or cred.status != CredentialStatus.ACTIVE:
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
    return DeploymentView.from_row(row, cred.label if cred else "?", cred.broker if cred else "?")


__all__ = [
    "Action",
    "DeployPlan",
    "DeployRequest",
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
