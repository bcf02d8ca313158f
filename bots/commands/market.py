"""Market commands: /market, /search, /watch, /unwatch, /watchlist."""

from __future__ import annotations

from bots.commands import registry
from bots.paging import paged_reply
from bots.registry import Arg, ArgKind, Context, excerpt
from core import format as fmt
from core.db import utcnow
from core.market import watchlist
from core.market.service import MarketInfo
from core.market.symbols import money_decimals
from core.market.types import INTERVALS, interval_code, looks_like_interval, looks_like_range
from core.message import Button, ButtonStyle, Image, Message
from core.paging import Page, check_page
from core.script.watch import parse_watch_condition

QUICK_INTERVALS = ("15m", "1h", "4h", "1d", "1w", "1mo")


def _is_interval(token: str) -> bool:
    # "6mo" has an interval's shape but is a range; "1mo" is both and reads as monthly candles, as
    # "1d" and "1w" read as daily and weekly in any case ("1D", "1W"). A capital M is months: "3M" is a range.
    if interval_code(token) is None:
        return looks_like_interval(token) and not looks_like_range(token)
    return (token.lower() in INTERVALS and not token.endswith("M")) or not looks_like_range(token)


TICKER = Arg("ticker", "a ticker: BBCA, BBCA.JK, ^JKSE, AAPL.US, BTCUSDT or BTC/USDT", kind=ArgKind.TICKER)
INTERVAL = Arg(
    "interval", "candle width: 15m 1h 4h 1d 1w 1mo", kind=ArgKind.INTERVAL, required=False,
    matches=_is_interval, default="1d",
)
RANGE = Arg(
    "range", "how far back: 1mo 3mo 6mo 1y 5y max", kind=ArgKind.RANGE, required=False, matches=looks_like_range,
)
INDICATORS = Arg(
    "indicators", "indicators by name with parameters: rsi rsi:21 macd bbands:20:2 ema:50 (see /dict indicator)",
    kind=ArgKind.INDICATOR, required=False, many=True, default=[],
)


@registry.command(
    "market",
    "Quote and candlestick chart with indicators",
    TICKER, INTERVAL, RANGE, INDICATORS,
    group="Market",
    examples=("/market BBCA", "/market BBCA 1d 1y rsi macd", "/market BTCUSDT 4h 3mo ema:50 bbands:20:2"),
    expensive=True,
    operations=("Get Market Info",),
)
async def market(ctx: Context, ticker: str, interval: str, range: str | None, indicators: list[str]) -> Message:
    info = await ctx.core.market.market_info(ticker, interval, range, indicators, user_id=ctx.actor.user_id)
    chart = await ctx.core.charts.candles(info.candles, info.indicators, ctx.actor.user_id)
    images = [Image(chart, f"{ticker.replace('/', '')}_{interval}.png", _caption(info))]
    served = ctx.core.market.served_intervals(ticker)
    buttons = _interval_buttons(ticker, interval, indicators, served)
    return Message(text=render_market(info), images=images, buttons=[buttons] if buttons else [])


def render_market(info: MarketInfo) -> str:
    candles, quote = info.candles, info.quote
    currency = candles.instrument.currency
    title = candles.instrument.display
    if candles.name:
        title += f" · {candles.name}"
    lines = [
        title,
        f"{candles.provider} · {candles.interval} · {quote.as_of:%Y-%m-%d %H:%M} UTC",
        f"Price   {fmt.price(quote.price, instrument=candles.instrument)} {currency or ''}".rstrip(),
        f"Change  {fmt.arrow(quote.change)} {fmt.signed(quote.change, money_decimals(currency))} "
        f"({fmt.signed(quote.change_pct, 2, '%')})",
        f"{quote.range_label.capitalize():<7} {fmt.price(quote.range_low, instrument=candles.instrument)} – {fmt.price(quote.range_high, instrument=candles.instrument)}",
        f"Volume  {fmt.compact(quote.volume)}",
    ]
    for result in info.indicators:
        values = {k: v for k, v in result.last().items() if v is not None}
        if not values:
            shown = "n/a (not enough bars)"
        elif len(values) == 1:
            shown = fmt.number(next(iter(values.values())))
        else:
            shown = " · ".join(f"{k} {fmt.number(v)}" for k, v in values.items())
        lines.append(f"{result.spec.label}  {shown}")
    if candles.sample:
        lines.append(fmt.SAMPLE_NOTE)
    return "\n".join(lines)


def _caption(info: MarketInfo) -> str:
    candles = info.candles
    caption = f"{candles.instrument.display} {candles.interval} · {fmt.price(info.quote.price, instrument=candles.instrument)}"
    return caption + (" · SAMPLE DATA" if candles.sample else "")


def _interval_buttons(ticker: str, interval: str, indicators: list[str], served: list[str]) -> list[Button]:
    """One button per common interval the ticker's source serves, keeping the indicators."""
    tail = " ".join(indicators)
    return [
        Button(code, " ".join(part for part in (f"/market {ticker} {code}", tail) if part))
        for code in QUICK_INTERVALS
        if code != interval and code in served
    ]


@registry.command(
    "search",
    "Find tickers by symbol or name",
    Arg("query", "part of a symbol or company name", kind=ArgKind.REST),
    group="Market",
    examples=("/search bank central", "/search BTC"),
    operations=("Search Market Ticker",),
)
async def search(ctx: Context, query: str) -> Message:
    hits = await ctx.core.market.search(query)
    if not hits:
        return Message(f"No ticker matches '{excerpt(query)}'. Try a shorter part of the name or the symbol.")
    lines = [f"Results for '{excerpt(query)}':"]
    lines += [f"{i}. {h.symbol} · {h.name} ({h.exchange})" for i, h in enumerate(hits, 1)]
    buttons = [[Button(h.symbol, f"/market {h.symbol}") for h in hits[:5]]]
    return Message("\n".join(lines), buttons=buttons)


WATCH_INTERVAL = Arg(
    "interval", "candle width the condition is judged on at each close: 15m 1h 4h 1d 1w 1mo (default 1d)",
    kind=ArgKind.INTERVAL, required=False, matches=_is_interval, default=None,
)
# Words for a watch's candle width (the code stays in the data and the HTTP API).
INTERVAL_WORDS = {"1m": "1-minute", "3m": "3-minute", "5m": "5-minute", "15m": "15-minute", "30m": "30-minute",
                  "1h": "hourly", "2h": "2-hour", "4h": "4-hour", "1d": "daily", "1w": "weekly", "1mo": "monthly"}  # fmt: skip


@registry.command(
    "watch",
    "Watch a ticker, optionally with a condition checked at each candle close, optionally until a time",
    TICKER,
    WATCH_INTERVAL,
    Arg(
        "condition",
        "rsi<30, price>9500, close>=ema:50, change>5, or a script expression such as "
        "crossover(ema(close, 9), ema(close, 21)); end with 'for 7d' (12h, 2w, 3mo) or 'until 2026-12-31' to expire",
        kind=ArgKind.REST, required=False,
    ),
    group="Monitoring",
    examples=(
        "/watch BBCA", "/watch BBCA price>9500", "/watch BTCUSDT 1h rsi<30",
        "/watch BTCUSDT 4h crossover(ema(close, 9), ema(close, 21)) for 7d", "/watch BBCA rsi<30 until 2026-12-31",
    ),
)
async def watch(ctx: Context, ticker: str, interval: str | None, condition: str | None) -> Message:
    now = utcnow()
    text, expiry = watchlist.split_expiry(condition)
    expires_at = watchlist.parse_expiry(expiry, now) if expiry else None
    view = await watchlist.add_watch(
        ctx.core.db, ctx.actor, ctx.core.market, ticker, text or None,
        interval=interval, expires_at=expires_at, rules=parse_watch_condition, now=now, compute=ctx.core.compute,
    )  # fmt: skip
    return Message(render_watch_added(view))


def render_watch_added(view: watchlist.WatchView) -> str:
    what = f"{view.ticker} when {view.condition}" if view.condition else view.ticker
    if view.condition:
        what += f", checked at each {interval_words(view.interval)} close" if view.interval != watchlist.INTERVAL else ""
    elif view.interval != watchlist.INTERVAL:
        what += f" on {interval_words(view.interval)} candles"
    if view.expires_at is not None:
        what += f", until {view.expires_at:%d %b %Y %H:%M} UTC"
    return f"Watching {what}. See /watchlist for the latest status."


def interval_words(code: str) -> str:
    return INTERVAL_WORDS.get(code, code)


@registry.command(
    "unwatch",
    "Stop watching a ticker (all its conditions, or one)",
    TICKER,
    Arg("interval", "only the watches on this candle width", kind=ArgKind.INTERVAL, required=False,
        matches=_is_interval, default=None),
    Arg("condition", "the condition to remove; all of the ticker's when left out", kind=ArgKind.REST, required=False),
    group="Monitoring",
    examples=("/unwatch BBCA", "/unwatch BBCA price>9500", "/unwatch BTCUSDT 1h rsi<30"),
    confirmable=True,
)
async def unwatch(
    ctx: Context, ticker: str, interval: str | None, condition: str | None, confirmed: bool = False
) -> Message:
    if not condition and not confirmed:
        count = await watchlist.count_watches(ctx.core.db, ctx.actor, ticker, interval)
        if count > 1:
            which = f"{ticker} {interval}" if interval else ticker
            return Message(
                f"This removes all {count} watches on {which}. Remove them?",
                buttons=[[Button(f"Yes, remove {count}", f"/unwatch {which} --yes", style=ButtonStyle.DANGER), Button("Keep", "/watchlist")]],
            )
    removed = await watchlist.remove_watch(
        ctx.core.db, ctx.actor, ticker, condition or None, interval=interval, rules=parse_watch_condition
    )
    plural = "watch" if removed == 1 else "watches"
    return Message(f"Removed {removed} {plural} on {ticker}.")


PAGE_SIZE = 10


@registry.command(
    "watchlist",
    "Your watched tickers and their latest status",
    Arg("page", "page number", kind=ArgKind.INT, required=False, default=1),
    group="Monitoring",
    operations=("Market Monitoring Status",),
)
async def watchlist_(ctx: Context, page: int) -> Message:
    check_page(page, PAGE_SIZE)
    views = await watchlist.list_watches(
        ctx.core.db, ctx.actor, ctx.core.market, compute=ctx.core.compute, rules=parse_watch_condition
    )
    found = Page(views[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], page, PAGE_SIZE, len(views))
    return paged_reply(
        found,
        title="Your watchlist",
        command="/watchlist",
        line=_watch_line,
        empty="Your watchlist is empty. Add a ticker with /watch BBCA or /watch BBCA rsi<30.",
        footer=fmt.SAMPLE_NOTE if any(v.sample for v in found.items) else None,
    )


def _watch_line(view: watchlist.WatchView) -> str:
    if view.error:
        return f"• {view.ticker}: {view.error}"
    line = f"• {view.ticker} {fmt.price(view.price, view.currency, symbol=view.ticker)} ({fmt.signed(view.change_pct, 2, '%')})"
    width = interval_words(view.interval)
    if view.condition:
        line += f" · {width} {view.condition}: {_watch_state(view)}"
        if view.lhs_value is not None and not view.expired:
            line += f" (now {fmt.number(view.lhs_value)})"
    elif view.interval != watchlist.INTERVAL:
        line += f" · {width}"
    if view.expired and view.expires_at is not None:
        line += f" · expired {view.expires_at:%d %b %Y}, no longer checked"
    elif view.expires_at is not None:
        line += f" · until {view.expires_at:%d %b %Y %H:%M} UTC"
    return line


def _watch_state(view: watchlist.WatchView) -> str:
    """The condition's state in words: as of which closed candle, or why there is no verdict."""
    if view.expired:
        return f"last {('MET' if view.met else 'not met') if view.met is not None else 'not decided'}"
    if view.met is None:
        return "waiting for enough closed candles" if view.bar_at is None else "not decided yet (too few candles)"
    return "MET" if view.met else "not met"
