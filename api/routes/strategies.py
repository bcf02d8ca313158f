"""Strategy: Retrieve Strategies, Save Strategy, Remove Strategy; Simulation: Retrieve Technical
Rules, Add Technical Rules, Remove Technical Rule, and the simulation itself; Trade: Retrieve
Trades; Statistic: Dashboard Monitoring.

``strategy_id`` is a strategy's id or its name, ``rule_id`` a rule's id (as the lists show them).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.common import PNG, Limit, Paged, PageNumber, Reader, Trader, core_of, wants_png
from api.problems import PROBLEMS
from core.deployment.history import TradeQuery, TradeView, list_trades
from core.market.types import Source
from core.simulation.service import SimulationRequest, simulate
from core.statistic.dashboard import Dashboard, Period, dashboard
from core.strategy import service as strategies
from core.strategy.rules import Analytic
from core.strategy.service import StrategyRequest, StrategyView

router = APIRouter(prefix="/v1", responses=PROBLEMS)


class AnalyticOption(StrEnum):
    """The specification's ``strategyAnalyticOptions``; UnknownAnalytic means Technical."""

    UNKNOWN = "UnknownAnalytic"
    TECHNICAL = "Technical"
    FUNDAMENTAL = "Fundamental"
    BANDARMOLOGY = "Bandarmology"


class TimeRange(StrEnum):
    """The specification's dashboard ``range``; UnknownTimeRange means a week."""

    UNKNOWN = "UnknownTimeRange"
    DAY = "Day"
    WEEK = "Week"
    MONTH = "Month"


class Rule(BaseModel):
    rule_id: int
    number: int = Field(description="its place in the strategy, from 1")
    action: str = Field(description="buy or sell (technical); pass (screens)")
    condition: str


class StrategyOut(BaseModel):
    strategy_id: int
    label: str
    description: str
    analytic: Analytic
    rules: list[Rule]
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def of(view: StrategyView) -> StrategyOut:
        return StrategyOut(strategy_id=view.id, label=view.label, description=view.description, analytic=view.analytic,
                           rules=[Rule(rule_id=r.id, number=r.number, action=r.action, condition=r.condition)
                                  for r in view.rules],
                           created_at=view.created_at, updated_at=view.updated_at)  # fmt: skip


class SaveStrategy(BaseModel):
    label: str = Field(min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=500)
    analytic: AnalyticOption = AnalyticOption.UNKNOWN


class NewRule(BaseModel):
    action: str = Field(default="", max_length=8, description="buy or sell for a technical strategy")
    condition: str = Field(min_length=1, max_length=500, examples=["rsi(close, 14) < 30"])


class AddRules(BaseModel):
    strategy_id: str = Field(min_length=1, max_length=64)
    rules: list[NewRule] = Field(min_length=1, max_length=20)


class Simulate(BaseModel):
    strategy_id: str = Field(min_length=1, max_length=64)
    ticker: str = Field(min_length=1, max_length=32)
    interval: str = Field(default="1d", max_length=4)
    range: str | None = Field(default=None, max_length=8)
    source: Source = Source.UNKNOWN


class ScreenLineOut(BaseModel):
    condition: str
    value: float | None
    passed: bool | None


class SimulationOut(BaseModel):
    strategy: str
    analytic: Analytic
    ticker: str
    stats: dict[str, float | int | None] = Field(description="a technical strategy's backtest figures")
    screen: list[ScreenLineOut] = Field(description="a fundamental or bandarmology screen, rule by rule")
    passed: bool | None


@router.get("/strategies", summary="Retrieve Strategies", tags=["Strategy"], response_model=Paged[StrategyOut])
async def retrieve_strategies(request: Request, caller: Reader, page: PageNumber = 1, limit: Limit = 10) -> Paged[StrategyOut]:
    found = await strategies.list_strategies(core_of(request).db, caller.actor, page, limit)
    return Paged[StrategyOut].of(found, StrategyOut.of)


@router.post("/strategies", summary="Save Strategy", tags=["Strategy"], response_model=StrategyOut)
async def save_strategy(body: SaveStrategy, request: Request, caller: Trader) -> StrategyOut:
    analytic = Analytic.TECHNICAL if body.analytic is AnalyticOption.UNKNOWN else Analytic(body.analytic.value)
    saved, _created = await strategies.save_strategy(core_of(request).db, caller.actor,
                                                     StrategyRequest(body.label, analytic, body.description))  # fmt: skip
    return StrategyOut.of(saved)


@router.delete("/strategies", summary="Remove Strategy", tags=["Strategy"], response_model=StrategyOut)
async def remove_strategy(
    request: Request, caller: Trader, strategy_id: Annotated[str, Query(min_length=1, max_length=64)]
) -> StrategyOut:
    core = core_of(request)
    found = await strategies.strategy_by_ref(core.db, caller.actor, strategy_id)
    return StrategyOut.of(await strategies.remove_strategy(core.db, caller.actor, found.label))


@router.get("/strategies/rules", summary="Retrieve Technical Rules", tags=["Simulation"], response_model=Paged[Rule])
async def retrieve_rules(
    request: Request, caller: Reader, strategy_id: Annotated[str, Query(min_length=1, max_length=64)],
    page: PageNumber = 1, limit: Limit = 10,
) -> Paged[Rule]:  # fmt: skip
    found = await strategies.strategy_by_ref(core_of(request).db, caller.actor, strategy_id)
    rules = [Rule(rule_id=r.id, number=r.number, action=r.action, condition=r.condition) for r in found.rules]
    start = (page - 1) * limit
    return Paged[Rule](items=rules[start : start + limit], page=page, limit=limit, total=len(rules))


@router.post("/strategies/rules", summary="Add Technical Rules", tags=["Simulation"], response_model=StrategyOut)
async def add_rules(body: AddRules, request: Request, caller: Trader) -> StrategyOut:
    """All the rules or none: each is checked (a dry run for technical ones) before any is saved."""
    core = core_of(request)
    found = await strategies.strategy_by_ref(core.db, caller.actor, body.strategy_id)
    text = "\n".join(" ".join(filter(None, (r.action.strip(), r.condition.strip()))) for r in body.rules)
    view, _added = await strategies.add_rules(core.db, caller.actor, found.label, text, compute=core.compute)
    return StrategyOut.of(view)


@router.delete("/strategies/rules", summary="Remove Technical Rule", tags=["Simulation"], response_model=StrategyOut)
async def remove_rule(
    request: Request, caller: Trader, rule_id: Annotated[int, Query(ge=1, le=2_147_483_647)]
) -> StrategyOut:
    view, _gone = await strategies.remove_rule(core_of(request).db, caller.actor, rule_id)
    return StrategyOut.of(view)


@router.post("/simulations", summary="Simulation", tags=["Simulation"], response_model=SimulationOut,
             responses={200: PNG})  # fmt: skip
async def simulation(body: Simulate, request: Request, caller: Reader) -> SimulationOut | Response:
    """A technical strategy's backtest (the chart with ``Accept: image/png``), or a screen's verdict, as ``/simulate``."""
    core = core_of(request)
    png = wants_png(request)
    found = await strategies.strategy_by_ref(core.db, caller.actor, body.strategy_id)
    done = await simulate(core, caller.actor, SimulationRequest(found.label, body.ticker, body.interval, body.range,
                                                               body.source, chart=png))  # fmt: skip
    if png and done.chart is not None:
        return Response(done.chart, media_type="image/png")
    return SimulationOut(strategy=done.strategy.label, analytic=done.strategy.analytic, ticker=done.ticker,
                         stats=done.stats, passed=done.passed,
                         screen=[ScreenLineOut(condition=line.condition, value=line.value, passed=line.passed)
                                 for line in done.screen])  # fmt: skip


@router.get("/trades", summary="Retrieve Trades", tags=["Trade"], response_model=Paged[TradeView])
async def retrieve_trades(
    request: Request, caller: Reader, page: PageNumber = 1, limit: Limit = 10,
    since: Annotated[datetime | None, Query(alias="from", description="the first instant (with a time zone)")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="the instant after the last (exclusive)")] = None,
) -> Paged[TradeView]:  # fmt: skip
    found = await list_trades(core_of(request).db, caller.actor, TradeQuery(since, until), page, limit)
    return Paged[TradeView].of(found, lambda view: view)


@router.get("/dashboard", summary="Dashboard Monitoring", tags=["Statistic"])
async def dashboard_monitoring(request: Request, caller: Reader, range: TimeRange = TimeRange.UNKNOWN) -> dict[str, Any]:
    """Realised P&L by currency and by model, win rate, open positions and running deployments, and per
    currency the equity now (realised + open positions marked to market), its unrealised part and max
    drawdown, as ``/dashboard``."""
    period = Period.WEEK if range is TimeRange.UNKNOWN else Period(range.value.lower())
    core = core_of(request)
    found: Dashboard = await dashboard(core.db, caller.actor, period, prices=core.market, compute=core.compute)
    return {
        "range": range.value if range is not TimeRange.UNKNOWN else TimeRange.WEEK.value,
        "start": found.start, "end": found.end, "trade_count": found.trade_count, "closed": found.closed,
        "wins": found.wins, "win_rate": found.win_rate, "open_positions": found.open_positions,
        "active_deployments": found.active_deployments,
        "currencies": [{"currency": t.currency, "pnl": t.pnl, "return_pct": t.return_pct, "closed": t.closed,
                        "wins": t.wins} for t in found.currencies],
        "models": [{"label": m.label, "currency": m.currency, "pnl": m.pnl, "return_pct": m.return_pct,
                    "closed": m.closed, "wins": m.wins} for m in found.models],
        "equity": [{"currency": c.currency, "equity": float(c.equity[-1]), "unrealised": c.unrealised_now,
                    "max_drawdown": c.max_drawdown, "max_drawdown_pct": c.max_drawdown_pct,
                    "unpriced_positions": c.unpriced} for c in found.equity.values()],
    }  # fmt: skip


