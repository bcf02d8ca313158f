"""The Strategy domain: strategies (label, description, analytic) and the rules they hold.

Technical strategies trade: every ``buy`` rule must hold to enter, any ``sell`` rule exits
(``core.simulation`` backtests them). Fundamental strategies screen a ticker's fundamentals;
bandarmology ones read broker-summary metrics.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Self

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.actor import Actor
from core.compute import Compute, Task
from core.db import Database, parse_id, utcnow
from core.errors import Conflict, Invalid, LimitExceeded, NotFound
from core.labels import check_label, did_you_mean, label_key
from core.paging import Page, fetch_page
from core.script.limits import TIME_LIMIT
from core.strategy.models import Rule, Strategy
from core.strategy.rules import MAX_RULES, Analytic, RuleSpec, split_rules

MAX_STRATEGIES = 100
MAX_DESCRIPTION = 500


@dataclass(frozen=True, slots=True)
class StrategyRequest:
    """A strategy to save, as ``/strategy new`` or the API's Save Strategy body gives it.

    ``analytic``: an ``Analytic`` or its name in any case (``technical``); ``description`` None
    keeps an existing strategy's. Construction checks the label's form, the analytic and the
    description's length; whether the analytic may change is the service's (it reads the rules).
    """

    label: str
    analytic: Analytic | str = Analytic.TECHNICAL
    description: str | None = None

    def __post_init__(self) -> None:
        # frozen: the normalised values replace the given ones once, before anything reads them
        object.__setattr__(self, "label", check_label(self.label, "strategy name"))
        if not isinstance(self.analytic, Analytic):
            object.__setattr__(self, "analytic", Analytic.parse(self.analytic))
        if self.description is not None and len(self.description) > MAX_DESCRIPTION:
            raise Invalid(f"a description has at most {MAX_DESCRIPTION} characters")


@dataclass(frozen=True, slots=True)
class RuleView:
    id: int
    number: int  # 1-based position in the strategy, what users type to remove one
    action: str
    condition: str


@dataclass(frozen=True, slots=True)
class StrategyView:
    id: int
    label: str
    description: str
    analytic: Analytic
    rules: tuple[RuleView, ...]
    created_at: datetime
    updated_at: datetime

    def of(self, action: str) -> list[RuleView]:
        return [r for r in self.rules if r.action == action]

    @classmethod
    def from_row(cls, row: Strategy, rules: list[Rule]) -> Self:
        """The strategy with its rules in the order they were added (numbered from 1)."""
        return cls(
            id=row.id,
            label=row.label,
            description=row.description,
            analytic=Analytic(row.analytic),
            rules=tuple(RuleView(r.id, i, r.action, r.condition) for i, r in enumerate(rules, 1)),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


async def save_strategy(
    db: Database, actor: Actor, request: StrategyRequest, *, create_only: bool = False
) -> tuple[StrategyView, bool]:
    """Create a strategy, or update the description of one with that label. Returns (view, created).

    Changing an existing strategy's analytic is refused while it has rules: they would not read.
    """
    label, analytic, description = request.label, Analytic(request.analytic), request.description
    now = utcnow()
    async with db.session() as session:
        row = await _find(session, actor, label)
        created = row is None
        if row is not None and create_only:
            raise Conflict(f"you already have a strategy '{row.label}'", hint="give the copy another name")
        if row is None:
            count = await session.scalar(
                select(func.count()).select_from(Strategy).where(Strategy.user_id == actor.user_id)
            )
            if (count or 0) >= MAX_STRATEGIES:
                raise LimitExceeded(f"you have {MAX_STRATEGIES} strategies, the most one account keeps")
            row = Strategy(
                user_id=actor.user_id, label=label, label_key=label_key(label), description=description or "",
                analytic=analytic.value, created_at=now, updated_at=now,
            )  # fmt: skip
            session.add(row)
            await session.flush()
        else:
            if row.analytic != analytic.value and await _rules(session, row.id):
                raise Conflict(
                    f"'{row.label}' is a {row.analytic} strategy with rules; remove them before changing its analytic"
                )
            row.analytic = analytic.value
            if description is not None:
                row.description = description
            row.updated_at = now
        return await _view(session, row), created


async def list_strategies(db: Database, actor: Actor, page: int = 1, page_size: int = 10) -> Page[StrategyView]:
    mine = select(Strategy).where(Strategy.user_id == actor.user_id).order_by(Strategy.label_key)
    async with db.session() as session:
        found, total = await fetch_page(session, mine, page, page_size)
        items = [await _view(session, r) for r in list(found.scalars())]
    return Page(items, page, page_size, total)


async def get_strategy(db: Database, actor: Actor, label: str) -> StrategyView:
    async with db.session() as session:
        return await _view(session, await _get(session, actor, label))


async def strategy_by_ref(db: Database, actor: Actor, ref: str) -> StrategyView:
    """The actor's strategy whose id or name ``ref`` is (the API's ``strategy_id``): an id first,
    as lists show them, then a name."""
    strategy_id = parse_id(ref)
    if strategy_id is not None:
        async with db.session() as session:
            row = await session.scalar(
                select(Strategy).where(Strategy.user_id == actor.user_id, Strategy.id == strategy_id)
            )
            if row is not None:
                return await _view(session, row)
    return await get_strategy(db, actor, ref.strip())


async def remove_rule(db: Database, actor: Actor, rule_id: int) -> tuple[StrategyView, RuleView]:
    """Remove one rule by its id (the API's ``rule_id``); another user's is not found, as a missing one."""
    async with db.session() as session:
        row = await session.scalar(
            select(Strategy).join(Rule, Rule.strategy_id == Strategy.id)
            .where(Rule.id == rule_id, Strategy.user_id == actor.user_id)
        )  # fmt: skip
        if row is None:
            raise NotFound(f"you have no rule #{rule_id}")
        label = row.label
        number = next(r.number for r in (await _view(session, row)).rules if r.id == rule_id)
    view, [gone] = await remove_rules(db, actor, label, [number])
    return view, gone


async def remove_strategy(db: Database, actor: Actor, label: str) -> StrategyView:
    async with db.session() as session:
        row = await _get(session, actor, label)
        view = await _view(session, row)
        await session.execute(delete(Rule).where(Rule.strategy_id == row.id))
        await session.delete(row)
    return view


async def add_rules(
    db: Database, actor: Actor, label: str, text: str, *, compute: Compute | None = None
) -> tuple[StrategyView, list[RuleSpec]]:
    """Add every rule in ``text`` (one per line or ``;``-separated); all or none are added."""
    async with db.session() as session:
        analytic = Analytic((await _get(session, actor, label)).analytic)
    # The dry run of technical rules is CPU work: on the compute plane (threads when none is given),
    # outside any session.
    if compute is None:
        specs = await asyncio.to_thread(split_rules, text, analytic)
    else:
        specs = await compute.run(split_rules, text, analytic,
                                  task=Task(actor.user_id, limit_s=TIME_LIMIT + 1, label="checking the rules"))  # fmt: skip
    async with db.session() as session:
        row = await _get(session, actor, label)  # it may have gone, or changed analytic, meanwhile
        if row.analytic != analytic.value:
            raise Conflict(f"'{row.label}' changed its analytic meanwhile; add the rules again")
        existing = await _rules(session, row.id)
        if len(existing) + len(specs) > MAX_RULES:
            raise LimitExceeded(
                f"a strategy holds at most {MAX_RULES} rules; '{row.label}' has {len(existing)}, adding {len(specs)}"
            )
        have = {(r.action, r.condition) for r in existing}
        now = utcnow()
        added = [s for s in specs if (s.action, s.condition) not in have]
        for spec in added:
            session.add(Rule(strategy_id=row.id, action=spec.action, condition=spec.condition, created_at=now))
        row.updated_at = now
        await session.flush()
        return await _view(session, row), added


async def remove_rules(db: Database, actor: Actor, label: str, numbers: list[int]) -> tuple[StrategyView, list[RuleView]]:
    """Remove rules by their number in ``/strategy show`` (1-based)."""
    if not numbers:
        raise Invalid("which rule? give its number from /strategy show")
    async with db.session() as session:
        row = await _get(session, actor, label)
        view = await _view(session, row)
        by_number = {r.number: r for r in view.rules}
        missing = [n for n in numbers if n not in by_number]
        if missing:
            have = f"1..{len(view.rules)}" if view.rules else "none"
            raise NotFound(f"'{view.label}' has no rule {missing[0]} (rules: {have})")
        gone = [by_number[n] for n in sorted(set(numbers))]
        await session.execute(delete(Rule).where(Rule.id.in_([r.id for r in gone])))
        row.updated_at = utcnow()
        await session.flush()
        return await _view(session, row), gone


async def strategy_labels(db: Database, actor: Actor) -> list[str]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(Strategy.label).where(Strategy.user_id == actor.user_id).order_by(Strategy.label_key)
            )
        )


async def _rules(session: AsyncSession, strategy_id: int) -> list[Rule]:
    return list(await session.scalars(select(Rule).where(Rule.strategy_id == strategy_id).order_by(Rule.id)))


async def _view(session: AsyncSession, row: Strategy) -> StrategyView:
    return StrategyView.from_row(row, await _rules(session, row.id))


async def _find(session: AsyncSession, actor: Actor, label: str) -> Strategy | None:
    return await session.scalar(
        select(Strategy).where(Strategy.user_id == actor.user_id, Strategy.label_key == label_key(label))
    )


async def _get(session: AsyncSession, actor: Actor, label: str) -> Strategy:
    row = await _find(session, actor, label)
    if row is None:
        labels = await session.scalars(select(Strategy.label).where(Strategy.user_id == actor.user_id))
        raise NotFound(f"you have no strategy '{label}'{did_you_mean(label, labels)}", hint="see /strategies")
    return row
