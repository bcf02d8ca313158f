"""Bandarmology commands: /bandar TICKER [DATE|RANGE], /bandar import [TICKER] (+ CSV)."""

from __future__ import annotations

import math

from bots.attachments import given_or_attached
from bots.commands import registry
from bots.registry import Arg, ArgKind, Context, UsageError
from core import format as fmt
from core.bandarmology import chart as bandar_chart
from core.bandarmology.chart import window_text
from core.bandarmology.csvio import FORMAT_HINT, HEADER, normalize_ticker
from core.bandarmology.service import DEFAULT_CRYPTO, DEFAULT_IDX, BandarService
from core.bandarmology.store import ImportResult, remove_activity
from core.bandarmology.types import BrokerSummary, Player
from core.compute import Task
from core.message import Button, ButtonStyle, Image, Message

SAMPLE_NOTE = "SAMPLE DATA: synthetic broker activity for trying the bot, not real trades."
IMPORT_HELP = (
    "Send the CSV with the command, e.g.\n"
    "/bandar import BBCA\n"
    f"{HEADER}\n"
    "2024-06-03,YP,D,12500,118750000000,9800,93100000000\n"
    "or reply /bandar import BBCA to a message or .csv file holding it.\n" + FORMAT_HINT
)
IDX_PERIODS = ("1d", "5d", "1mo", "3mo")
CRYPTO_PERIODS = ("15m", "1h", "4h", "1d")


def _asks_for_csv(raw: dict) -> bool:
    return str(raw.get("ticker") or "").lower() == "import"


@registry.command(
    "bandar",
    "Broker summary: who bought and sold, and the accumulation verdict",
    Arg("ticker", "BBCA or BTCUSDT; 'import' to import your broker CSV, 'rm' to delete it", kind=ArgKind.TICKER),
    Arg("when", "a date (2024-06-03) or range (1d 5d 1mo; 15m 1h 4h for crypto) · import: [TICKER] and the CSV",
        kind=ArgKind.REST, required=False, ask=_asks_for_csv),
    group="Market",
    examples=("/bandar BBCA", "/bandar BBCA 5d", "/bandar BBCA 2024-06-03", "/bandar BTCUSDT 1h",
              "/bandar import BBCA <csv>", "/bandar rm BBCA"),
    expensive=True,
    confirmable=True,
    reads_file=True,
    operations=("Get Broker Summary",),
)  # fmt: skip
async def bandar(ctx: Context, ticker: str, when: str | None, confirmed: bool = False) -> Message:
    service = BandarService(ctx.core.settings, ctx.core.db, compute=ctx.core.compute)
    if ticker.lower() == "import":
        return await _import(ctx, service, when)
    if ticker.lower() == "rm":
        return await _remove(ctx, when, confirmed)
    words = (when or "").split()
    if len(words) > 1:
        raise UsageError(f"unexpected '{' '.join(words[1:])}'")
    summary = await service.summary(ctx.actor, ticker, words[0] if words else None)
    chart = await ctx.core.compute.run(bandar_chart.render_summary, summary,
                                       task=Task(ctx.actor.user_id, label="the chart"))  # fmt: skip
    name = f"bandar_{summary.ticker.replace('/', '')}.png"
    caption = f"{summary.ticker} · {summary.verdict.value} · {window_text(summary)}"
    if summary.sample:
        caption += " · SAMPLE DATA"
    periods = CRYPTO_PERIODS if summary.market == "crypto" else IDX_PERIODS
    chosen = words[0].lower() if words else (DEFAULT_CRYPTO if summary.market == "crypto" else DEFAULT_IDX)
    buttons = [Button(p, f"/bandar {ticker} {p}") for p in periods if p != chosen]
    return Message(render_summary(summary), images=[Image(chart, name, caption)], buttons=[buttons])


async def _import(ctx: Context, service: BandarService, rest: str | None) -> Message:
    text = (rest or "").strip()
    ticker: str | None = None
    first, _, tail = text.partition("\n")
    head = first.strip()
    if head and not head.startswith("`") and "," not in head and ";" not in head and " " not in head:
        ticker, text = head, tail  # "/bandar import BBCA" then the CSV on the next lines
    data = await given_or_attached(ctx, text.strip(), decode=False)  # a file's bytes: import_csv decodes
    if not data:
        return Message.fail("no CSV given", IMPORT_HELP)
    result = await service.import_csv(ctx.actor, data, ticker)
    return _imported(result)


async def _remove(ctx: Context, rest: str | None, confirmed: bool) -> Message:
    words = (rest or "").split()
    if len(words) != 1:
        return Message.fail("name the ticker whose imported data to delete", "/bandar rm BBCA")
    code = normalize_ticker(words[0])
    if not confirmed:
        return Message(
            f"Delete all your imported broker data for {code}?",
            buttons=[[Button("Yes, delete", f"/bandar rm {code} --yes", style=ButtonStyle.DANGER), Button("Keep", f"/bandar {code}")]],
        )
    removed = await remove_activity(ctx.core.db, ctx.actor, code)
    if not removed:
        return Message(f"You had no imported broker data for {code}.")
    return Message(f"Deleted {removed:,} imported row(s) for {code}.")


def _imported(result: ImportResult) -> Message:
    tickers = ", ".join(result.tickers)
    span = str(result.first) if result.first == result.last else f"{result.first} to {result.last}"
    lines = [
        f"Imported {result.rows:,} row(s) for {tickers} ({span}, {result.days} day(s)): "
        f"{result.inserted:,} new, {result.updated:,} updated."
    ]
    first = result.tickers[0]
    lines.append(f"See the summary: /bandar {first} {result.last}")
    return Message(
        "\n".join(lines), buttons=[[Button(f"Summary of {first}", f"/bandar {first} {result.last}")]]
    )


def render_summary(s: BrokerSummary) -> str:
    """The summary as plain text: verdict first, then the numbers behind it."""
    crypto = s.market == "crypto"
    title = "taker flow" if crypto else "broker summary"
    lines = [f"{s.ticker} · {title} · {window_text(s)}"]
    ratio = s.top3_ratio
    shown_ratio = "n/a" if ratio is None else ("∞" if math.isinf(ratio) else f"{ratio:.2f}")
    who = ("large takers bought", "sold") if crypto else ("top 3 buyers", "top 3 sellers")
    lines.append(
        f"Verdict: {s.verdict.value} ({s.verdict.meaning}) · {who[0]} {fmt.compact(s.top_buy_value)} vs "
        f"{who[1]} {fmt.compact(s.top_sell_value)} {s.currency} (ratio {shown_ratio})"
    )
    lines.append(
        f"Net flow{' (large takers)' if crypto else ' (top 3)'}: {fmt.net(s.net_value)} {s.currency} · "
        f"{fmt.net(s.net_volume, 4 if crypto else 0)} {s.volume_unit}"
    )
    if s.foreign_net is not None or s.domestic_net is not None:
        lines.append(
            f"Foreign net {fmt.net(s.foreign_net)} · domestic net {fmt.net(s.domestic_net)} {s.currency}"
        )
    lines.append(f"Value traded: {fmt.compact(s.total_value)} {s.currency}")
    if crypto:
        all_net = sum(p.value for p in s.buyers) - sum(p.value for p in s.sellers)
        lines.append(f"All takers net: {fmt.net(all_net)} {s.currency}")
    for heading, players in (("Buyers" if crypto else "Top buyers (net)", s.buyers),
                             ("Sellers" if crypto else "Top sellers (net)", s.sellers)):  # fmt: skip
        lines.append(f"{heading}:")
        lines += [_row(i, p, s) for i, p in enumerate(players, 1)] or ["  none"]
    lines.append(f"Basis: {s.basis}. Source: {s.provider}.")
    lines += [f"Note: {note}" for note in s.notes]
    if s.sample:
        lines.append(SAMPLE_NOTE)
    return "\n".join(lines)


def bandar_screen_heading(s: BrokerSummary) -> str:
    """How a Bandarmology strategy screen names what it read: verdict, window and source."""
    heading = f"broker summary {window_text(s)} from {s.provider}, {s.verdict.value}"
    return heading + (" (SAMPLE DATA)" if s.sample else "")


def _row(rank: int, p: Player, s: BrokerSummary) -> str:
    if s.market == "crypto":
        name = "Large takers" if p.code == "LARGE" else "Small takers"
        volume = f"{p.lots:,.4f} {s.volume_unit}"
        avg = f" avg {fmt.price(p.avg_price, s.currency)}" if p.avg_price is not None else ""
        return f"  {name}: {volume} · {fmt.compact(p.value)} {s.currency}{avg} · {p.trades or 0:,} trade(s)"
    investor = f" ({p.investor})" if p.investor else ""
    avg = f" · avg {fmt.price(p.avg_price, 'IDR')}" if p.avg_price is not None else ""
    return f"  {rank}. {p.code}{investor} {p.lots:,.0f} lots · {fmt.compact(p.value)}{avg}"
