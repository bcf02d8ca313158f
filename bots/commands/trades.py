"""Trade commands: /trades, /positions, /dashboard.

All three show a person's money, so they answer in private chats only (``private_only``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from bots.commands import registry
from bots.registry import Arg, ArgKind, Context, UsageError, whole
from core import format as fmt
from core.deployment import history as trades
from core.deployment.history import PositionView, TradeView
from core.message import Button, Document, Image, Message
from core.statistic import dashboard as dash
from core.statistic.equity import EquityCurve

PAGE_SIZE = 10
_FILTER = re.compile(r"^(from|to)=(.*)$", re.I)
LAST_DAY = date(9998, 12, 31)
DATES_HELP = "from=YYYY-MM-DD to=YYYY-MM-DD (either or both; 'to' includes that whole day, UTC)"


# -- /trades -------------------------------------------------------------------------------------


def parse_dates(words: list[str]) -> tuple[date | None, date | None, int | None]:
    """``from=2026-01-01 to=2026-01-31`` (and a page number, should it come after them)."""
    since: date | None = None
    until: date | None = None
    page: int | None = None
    for word in words:
        if word.isdigit():
            page = whole(word, "PAGE")
            continue
        match = _FILTER.match(word)
        if match is None:
            raise UsageError(f"'{word}' is not a filter: write {DATES_HELP}")
        key, raw = match.group(1).lower(), match.group(2)
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise UsageError(f"'{raw}' is not a date: write YYYY-MM-DD, e.g. {key}=2026-01-31") from None
        if day > LAST_DAY:  # 'to' counts its whole day: the day after 9999-12-31 does not exist
            raise UsageError(f"{key}={raw} is too far ahead: the last date is {LAST_DAY}")
        if key == "from":
            since = day
        else:
            until = day
    if since is not None and until is not None and since > until:
        raise UsageError(f"from={since} is after to={until}")
    return since, until, page


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _query(since: date | None, until: date | None) -> trades.TradeQuery:
    """The days as typed, both included: from ``since``'s midnight to the midnight after ``until``."""
    return trades.TradeQuery(
        since=_midnight(since) if since else None, until=_midnight(until) + timedelta(days=1) if until else None
    )


@registry.command(
    "trades",
    "Your deployed models' trades, newest first, with fees and P&L",
    Arg("page", "page number", kind=ArgKind.INT, required=False, default=1, matches=str.isdigit),
    Arg("dates", f"{DATES_HELP}; 'export' sends them all as a CSV file", required=False, many=True, default=[]),
    group="Trading",
    examples=("/trades", "/trades 2", "/trades from=2026-01-01 to=2026-01-31", "/trades export from=2026-01-01"),
    private_only=True,
    operations=("Retrieve Trades",),
)
async def trades_(ctx: Context, page: int, dates: list[str]) -> Message:
    export = any(w.lower() == "export" for w in dates)
    since, until, late_page = parse_dates([w for w in dates if w.lower() != "export"])
    if export:
        return await _export(ctx, since, until)
    page = late_page or page
    found = await trades.list_trades(ctx.core.db, ctx.actor, _query(since, until), page=page, page_size=PAGE_SIZE)
    span = _span(since, until)
    if not found.total:
        if span:
            return Message(f"No trades {span}.")
        return Message("No trades yet. They appear here once your deployed models trade.")
    if page > found.pages:
        pages = "is only 1 page" if found.pages == 1 else f"are {found.pages} pages"
        return Message.fail(f"there {pages} of trades, not {page}")
    heading = f"Your trades{' ' + span if span else ''}"
    heading += f" ({found.total} in all):" if found.pages == 1 else f" (page {page} of {found.pages}, {found.total} in all):"
    lines = [heading, *(_trade_line(t) for t in found.items)]
    filters = " ".join(w for w in (f"from={since}" if since else "", f"to={until}" if until else "") if w)
    nav = [Button("◀ Prev", f"/trades {page - 1} {filters}".rstrip())] if page > 1 else []
    nav += [Button("Next ▶", f"/trades {page + 1} {filters}".rstrip())] if found.has_next else []
    return Message("\n".join(lines), buttons=[nav] if nav else [])


async def _export(ctx: Context, since: date | None, until: date | None) -> Message:
    """Every fill in the span (all pages) as one CSV file."""
    fills = await trades.all_trades(ctx.core.db, ctx.actor, _query(since, until))
    span = _span(since, until)
    if not fills:
        return Message(f"No trades {span} to export." if span else "No trades to export yet.")
    name = "trades" + (f"_from_{since}" if since else "") + (f"_to_{until}" if until else "") + ".csv"
    count = f"{len(fills)} trade{'s' if len(fills) != 1 else ''}"
    text = f"Your trades{' ' + span if span else ''}: {count} in {name} (times in UTC)."
    return Message(text, files=[Document(trades.fills_csv(fills), name, f"{count}{' ' + span if span else ''}")])


def _span(since: date | None, until: date | None) -> str:
    if since and until:
        return f"from {since} to {until}"
    if since:
        return f"since {since}"
    return f"up to {until}" if until else ""


def _trade_line(t: TradeView) -> str:
    line = (
        f"• {t.time:%Y-%m-%d %H:%M} · {t.label or '-'} · {t.side.upper()} {fmt.quantity(t.qty)} {t.symbol} "
        f"@ {fmt.price(t.price, t.quote_currency, symbol=t.symbol)} · fee {fmt.money(t.fee, t.quote_currency)}"
    )
    if t.pnl is not None:
        line += f" · P&L {fmt.money(t.pnl, t.quote_currency, signed=True)}"
    if t.exit_reason:
        line += f" · exit: {t.exit_reason}"
    return line


# -- /positions ----------------------------------------------------------------------------------


@registry.command(
    "positions",
    "Your open positions with their unrealised P&L (/status adds how long each is held)",
    group="Trading",
    private_only=True,
)
async def positions_(ctx: Context) -> Message:
    held = await trades.positions(ctx.core.db, ctx.actor, ctx.core.market)
    if not held:
        return Message("No open positions. Your deployed models hold nothing right now.")
    lines = ["Your open positions:", *(position_line(p) for p in held)]
    if any(p.sample for p in held):
        lines.append(fmt.SAMPLE_NOTE)
    return Message("\n".join(lines))


def position_line(p: PositionView) -> str:
    side = "long" if p.qty > 0 else "short"
    entry = fmt.price(p.entry_price, p.quote_currency, symbol=p.symbol) if p.entry_price is not None else "n/a"
    line = f"• {p.label} · {p.symbol} {p.interval} · {side} {fmt.quantity(abs(p.qty))} @ {entry}"
    if p.last_price is not None:
        line += f" → {fmt.price(p.last_price, p.quote_currency, symbol=p.symbol)}"
        if p.unrealised_pnl is not None:
            line += f" · unrealised {fmt.money(p.unrealised_pnl, p.quote_currency, signed=True)}"
            if p.unrealised_pct is not None:
                line += f" ({fmt.signed(p.unrealised_pct, 2, '%')})"
    elif p.price_error:
        line += f" · price: {p.price_error}"
    return line


# -- /dashboard ----------------------------------------------------------------------------------


@registry.command(
    "dashboard",
    "P&L, win rate, best and worst model, and equity with unrealised P&L and drawdown: day, week or month",
    Arg("period", "day, week or month (the last 24 h, 7 or 30 days)", kind=ArgKind.CHOICE,
        choices=tuple(p.value for p in dash.Period), required=False, default="week"),
    group="Trading",
    examples=("/dashboard", "/dashboard day", "/dashboard month"),
    private_only=True,
    operations=("Dashboard Monitoring",),
)  # fmt: skip
async def dashboard_(ctx: Context, period: str) -> Message:
    figures = await dash.dashboard(ctx.core.db, ctx.actor, period, prices=ctx.core.market, compute=ctx.core.compute)
    settings = ctx.core.settings
    chart = await dash.dashboard_chart(figures, width_px=settings.chart_width_px, height_px=settings.chart_height_px,
                                       compute=ctx.core.compute, user_id=ctx.actor.user_id)  # fmt: skip
    caption = " · ".join([f"Equity with unrealised P&L · last {figures.period.value}",
                          *(_drawdown(curve) for curve in figures.equity.values())])  # fmt: skip
    images = [Image(chart, f"dashboard_{figures.period.value}.png", caption)] if chart else []
    buttons = [
        Button(p.value.capitalize(), f"/dashboard {p.value}") for p in dash.Period if p is not figures.period
    ]
    return Message(render_dashboard(figures), images=images, buttons=[buttons])


def render_dashboard(d: dash.Dashboard) -> str:
    lines = [f"Dashboard · last {d.period.value} ({d.start:%d %b %H:%M} – {d.end:%d %b %H:%M} UTC)"]
    if d.empty:
        lines.append(f"No trades in the last {d.period.value}.")
    else:
        for totals in d.currencies or ():
            lines.append(
                f"P&L {fmt.money(totals.pnl, totals.currency, signed=True)} · "
                f"return {fmt.signed(totals.return_pct, 2, '%')}"
            )
        if not d.currencies:
            lines.append("P&L n/a: no position was closed")
        rate = "n/a" if d.win_rate is None else f"{d.win_rate:.1f}%"
        lines.append(f"Win rate {rate} ({d.wins} of {d.closed} closed) · Trades {d.trade_count}")
    lines.append(f"Open positions {d.open_positions} · Active deployments {d.active_deployments}")
    lines.extend(_equity_line(curve) for curve in d.equity.values())
    if d.best is not None:
        lines.append(f"Best model: {_model(d.best)}")
    if d.worst is not None:
        lines.append(f"Worst model: {_model(d.worst)}")
    return "\n".join(lines)


def _equity_line(curve: EquityCurve) -> str:
    """Unrealised P&L now, equity at the end of the window and its max drawdown (``core.statistic.equity``)."""
    c = curve.currency
    line = (
        f"Unrealised now {fmt.money(curve.unrealised_now, c, signed=True)} · "
        f"equity {fmt.money(float(curve.equity[-1]), c, signed=True)} · {_drawdown(curve)}"
    )
    if curve.unpriced:
        line += f" ({curve.unpriced} position{'s' * (curve.unpriced != 1)} without a price, valued at entry)"
    return line


def _drawdown(curve: EquityCurve) -> str:
    money = fmt.money(curve.max_drawdown, curve.currency, signed=True)
    pct = curve.max_drawdown_pct
    return f"max drawdown {money}" if pct is None else f"max drawdown {pct + 0.0:,.2f}% ({money})"  # never "-0.00"


def _model(m: dash.ModelTotals) -> str:
    return f"{m.label} {fmt.money(m.pnl, m.currency, signed=True)} ({fmt.signed(m.return_pct, 2, '%')})"
