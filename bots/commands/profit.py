"""The freqtrade day: /status, /profit, /performance, /balance, /daily, /weekly, /monthly.

Each reads its figures from ``core.statistic.performance`` (or ``core.deployment.history`` for open
positions, the same as /positions) and renders them in a pure function. They show a person's money,
so they answer in private chats only. Amounts stay in their own quote currency (IDR and USDT side by
side, never summed).
"""

from __future__ import annotations

from datetime import datetime

from bots.commands import registry
from bots.commands.trades import position_line
from bots.registry import Arg, ArgKind, Context, UsageError
from core import format as fmt
from core.db import utcnow
from core.deployment import history as trades
from core.deployment.history import PositionView
from core.message import Button, Message
from core.statistic import balance as worth
from core.statistic import performance as perf

# -- /status -------------------------------------------------------------------------------------


@registry.command(
    "status",
    "Open positions with live P&L and how long each is held (as /positions, plus the hold time)",
    group="Trading",
    private_only=True,
)
async def status(ctx: Context) -> Message:
    held = await trades.positions(ctx.core.db, ctx.actor, ctx.core.market)
    return Message(render_status(held, utcnow()))


def render_status(held: list[PositionView], now: datetime) -> str:
    if not held:
        return "No open positions. Your deployed models hold nothing right now."
    lines = ["Your open positions:"]
    for p in held:
        line = position_line(p)
        if p.opened_at is not None:
            line += f" · held {fmt.duration(max((now - p.opened_at).total_seconds(), 0.0))}"
        lines.append(line)
    if any(p.sample for p in held):
        lines.append(fmt.SAMPLE_NOTE)
    return "\n".join(lines)


# -- /profit -------------------------------------------------------------------------------------


@registry.command(
    "profit",
    "Realised and unrealised P&L, win rate, average hold, best and worst ticker, drawdown",
    group="Trading",
    private_only=True,
)
async def profit(ctx: Context) -> Message:
    figures = await perf.profit(ctx.core.db, ctx.actor, ctx.core.market)
    return Message(render_profit(figures), buttons=[[Button("Per ticker", "/performance"), Button("Daily", "/daily")]])


def render_profit(figures: list[perf.Profit]) -> str:
    if not figures:
        return "No trades yet. Your profit shows here once your deployed models trade."
    blocks = []
    for f in figures:
        cur = f.currency
        rate = "n/a" if f.win_rate is None else f"{f.win_rate:.1f}%"
        trades_word = "trade" if f.closed == 1 else "trades"
        lines = [
            f"Profit in {cur or 'unknown currency'}:",
            f"Realised {fmt.money(f.realised, cur, signed=True)} · {f.closed} closed {trades_word} · win rate {rate}",
        ]
        if f.open_positions:
            positions_word = "position" if f.open_positions == 1 else "positions"
            lines.append(
                f"Unrealised {fmt.money(f.unrealised, cur, signed=True)} on {f.open_positions} open {positions_word}"
            )
        held = "n/a" if f.average_held is None else fmt.duration(f.average_held.total_seconds())
        lines.append(f"Average hold {held} · max drawdown {fmt.money(f.max_drawdown, cur)}")
        if f.best is not None:
            best = f"Best {_ticker(f.best)}"
            lines.append(best if f.worst is None else f"{best} · worst {_ticker(f.worst)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _ticker(t: perf.TickerTotals) -> str:
    return f"{t.symbol} {fmt.money(t.pnl, t.currency, signed=True)} ({fmt.signed(t.return_pct, 2, '%')})"


# -- /performance --------------------------------------------------------------------------------


@registry.command(
    "performance",
    "Realised P&L per ticker, best first",
    group="Trading",
    private_only=True,
)
async def performance(ctx: Context) -> Message:
    return Message(render_performance(await perf.performance(ctx.core.db, ctx.actor)))


def render_performance(tickers: list[perf.TickerTotals]) -> str:
    if not tickers:
        return "No closed trades yet. Performance per ticker shows here once a position is closed."
    lines = ["Performance per ticker (realised, best first):"]
    for i, t in enumerate(tickers, 1):
        word = "trade" if t.trades == 1 else "trades"
        lines.append(
            f"{i}. {t.symbol} · {t.trades} {word} · {fmt.money(t.pnl, t.currency, signed=True)} "
            f"({fmt.signed(t.return_pct, 2, '%')})"
        )
    return "\n".join(lines)


# -- /daily /weekly /monthly ---------------------------------------------------------------------

_TITLES = {perf.Unit.DAY: "Daily", perf.Unit.WEEK: "Weekly", perf.Unit.MONTH: "Monthly"}
_SPANS = {perf.Unit.DAY: "UTC days", perf.Unit.WEEK: "weeks from Monday, UTC", perf.Unit.MONTH: "months, UTC"}


def _period_command(name: str, unit: perf.Unit) -> None:
    default, most = perf.DEFAULT_PERIODS[unit], perf.MAX_PERIODS[unit]

    @registry.command(
        name,
        f"Realised P&L and closed trades per {unit.value}, the last N {unit.value}s (default {default})",
        Arg("n", f"how many {unit.value}s, 1 to {most}", kind=ArgKind.INT, required=False, default=default),
        group="Trading",
        examples=(f"/{name}", f"/{name} {default * 2}"),
        private_only=True,
    )
    async def handler(ctx: Context, n: int) -> Message:
        if not 1 <= n <= most:
            raise UsageError(f"N must be 1 to {most} {unit.value}s, not {n}")
        return Message(render_periods(await perf.periods(ctx.core.db, ctx.actor, unit, n)))


def render_periods(table: perf.PeriodTable) -> str:
    unit = table.unit
    count = len(table.rows)
    heading = f"{_TITLES[unit]} realised P&L, last {count} {unit.value}{'s' * (count != 1)} ({_SPANS[unit]}):"
    if not table.currencies:
        return f"{heading}\nNo closed trades in that time."
    lines = [heading]
    for row in table.rows:
        cells = []
        for cur in table.currencies:
            n = row.trades.get(cur, 0)
            cells.append(f"{fmt.money(row.pnl.get(cur, 0.0), cur, signed=True)} ({n} trade{'s' * (n != 1)})")
        lines.append(f"{_period_label(row.start, unit)} · {' · '.join(cells)}")
    return "\n".join(lines)


def _period_label(start, unit: perf.Unit) -> str:
    if unit is perf.Unit.DAY:
        return f"{start:%Y-%m-%d %a}"
    if unit is perf.Unit.WEEK:
        return f"week of {start:%Y-%m-%d}"
    return f"{start:%b %Y}"


_period_command("daily", perf.Unit.DAY)
_period_command("weekly", perf.Unit.WEEK)
_period_command("monthly", perf.Unit.MONTH)


# -- /balance ------------------------------------------------------------------------------------


@registry.command(
    "balance",
    "Balances valued at the last price, with the total per currency (/paper lists them unvalued)",
    Arg("label", "a broker key's label (see /credentials); the paper account when left out", required=False),
    group="Trading",
    examples=("/balance", "/balance main"),
    private_only=True,
)  # fmt: skip
async def balance_(ctx: Context, label: str | None) -> Message:
    core = ctx.core
    found = await worth.balance(core.db, core.settings, ctx.actor, core.market, label)
    return Message(render_balance(found), ephemeral=True)


def render_balance(b: worth.Balance) -> str:
    name = "Your paper account" if b.paper else f"Your account '{b.label}'"
    if not b.holdings:
        return f"{name} is empty."
    lines = [f"{name}:"]
    for h in b.holdings:
        line = f"• {h.asset} {_amount(h.amount, h.currency if h.asset == h.currency else None)}"
        if h.price is not None:
            line += f" @ {fmt.price(h.price, h.currency, symbol=h.asset)} = {fmt.money(h.value, h.currency)}"
        elif h.error:
            line += f" · price: {h.error}"
        lines.append(line)
    totals = " · ".join(fmt.money(total, currency) for currency, total in b.totals.items())
    lines.append(f"Estimated total: {totals or 'n/a'}")
    if b.unpriced:
        lines.append(f"Not counted (no price): {', '.join(b.unpriced)}")
    if b.sample:
        lines.append(fmt.SAMPLE_NOTE)
    return "\n".join(lines)


def _amount(amount: float, cash: str | None) -> str:
    """Cash at its currency's precision (``100,000,000``, ``10,000.00``); holdings to their last unit."""
    return fmt.price(amount, cash) if cash else fmt.quantity(amount)
