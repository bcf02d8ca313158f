"""Strategy commands: /strategy new|show|rm, /strategies, /rule add|rm, /simulate."""

from __future__ import annotations

import dataclasses
import math

from bots.commands import registry
from bots.commands.market import INTERVAL, RANGE, TICKER
from bots.commands.results import backtest_lines, heading, rule_lines, share_command
from bots.paging import paged_reply
from bots.registry import Arg, ArgKind, Context, whole
from core import format as fmt
from core.market.fundamentals import METRICS
from core.message import Button, ButtonStyle, Image, Message
from core.simulation.service import Simulation, SimulationRequest, simulate
from core.strategy import service as strategies
from core.strategy.rules import Analytic

PAGE_SIZE = 10
ANALYTICS = tuple(a.value.lower() for a in Analytic)


@registry.command(
    "strategy",
    "Create, show or remove a strategy (rules that decide when to buy and sell)",
    Arg("action", "new, show or rm", kind=ArgKind.CHOICE, choices=("new", "show", "rm")),
    Arg("name", "the strategy's name: letters, digits, _ . -", suggest="strategy"),
    Arg("analytic", "new only: technical (default), fundamental or bandarmology", kind=ArgKind.CHOICE,
        choices=ANALYTICS, required=False, matches=lambda t: t.lower() in ANALYTICS),
    Arg("description", "new only: what it is about", kind=ArgKind.REST, required=False),
    group="Strategies",
    examples=("/strategy new dip technical buy oversold dips", "/strategy show dip", "/strategy rm dip"),
    confirmable=True,
    operations=("Save Strategy", "Remove Strategy", "Retrieve Technical Rules"),
)  # fmt: skip
async def strategy(
    ctx: Context, action: str, name: str, analytic: str | None, description: str | None, confirmed: bool = False
) -> Message:
    db, actor = ctx.core.db, ctx.actor
    if action == "new":
        request = strategies.StrategyRequest(name, Analytic.parse(analytic or "technical"), description)
        view, created = await strategies.save_strategy(db, actor, request)
        verb = "Created" if created else "Updated"
        example = _example(view.analytic, view.label)
        return Message(f"{verb} {view.analytic.value} strategy '{view.label}'. Add rules: {example}")
    if action == "show":
        return _show(await strategies.get_strategy(db, actor, name))
    if not confirmed:
        found = await strategies.get_strategy(db, actor, name)
        return Message(
            f"Remove strategy '{found.label}' and its {len(found.rules)} rule(s)?",
            buttons=[[Button("Yes, remove", f"/strategy rm {found.label} --yes", style=ButtonStyle.DANGER), Button("Keep", "/strategies")]],
        )
    gone = await strategies.remove_strategy(db, actor, name)
    return Message(f"Removed strategy '{gone.label}'.")


def _example(analytic: Analytic, label: str) -> str:
    if analytic is Analytic.TECHNICAL:
        return f"/rule add {label} buy rsi(close, 14) < 30; sell rsi(close, 14) > 70"
    if analytic is Analytic.FUNDAMENTAL:
        return f"/rule add {label} pe < 15; roe > 15%; dividend_yield > 3%"
    return f"/rule add {label} net_value > 0; top3_ratio > 1.5"


def _show(view: strategies.StrategyView) -> Message:
    lines = [f"Strategy '{view.label}' · {view.analytic.value}"]
    if view.description:
        lines.append(view.description)
    if not view.rules:
        lines.append(f"No rules yet. {_example(view.analytic, view.label)}")
    elif view.analytic is Analytic.TECHNICAL:
        lines.append("Enter when all buy rules hold; exit when any sell rule holds.")
    for rule in view.rules:
        lines.append(f"  {rule.number}. {rule.action} {rule.condition}")
    buttons = [[Button("Simulate on BBCA", f"/simulate {view.label} BBCA 1d 1y")]] if view.rules else []
    return Message("\n".join(lines), buttons=buttons)


@registry.command(
    "strategies",
    "Your strategies",
    Arg("page", "page number", kind=ArgKind.INT, required=False, default=1),
    group="Strategies",
    operations=("Retrieve Strategies",),
)
async def strategies_(ctx: Context, page: int) -> Message:
    found = await strategies.list_strategies(ctx.core.db, ctx.actor, page, PAGE_SIZE)
    return paged_reply(
        found, title="Your strategies", command="/strategies",
        line=lambda v: f"• {v.label} ({v.analytic.value}, {len(v.rules)} rule(s))",
        empty="You have no strategies yet. Create one: /strategy new dip technical",
    )  # fmt: skip


@registry.command(
    "rule",
    "Add rules to a strategy (several at once, separated by ; or new lines), or remove them by number",
    Arg("action", "add or rm", kind=ArgKind.CHOICE, choices=("add", "rm")),
    Arg("strategy", "the strategy's name", suggest="strategy"),
    Arg("rules", "add: buy rsi(close, 14) < 30; sell rsi(close, 14) > 70 · rm: rule numbers, e.g. 2 3",
        kind=ArgKind.REST),
    group="Strategies",
    examples=("/rule add dip buy rsi(close, 14) < 30; sell rsi(close, 14) > 70", "/rule add value pe < 15; roe > 15%",
              "/rule rm dip 2"),
    operations=("Add Technical Rules", "Remove Technical Rule"),
)  # fmt: skip
async def rule(ctx: Context, action: str, strategy: str, rules: str) -> Message:
    db, actor = ctx.core.db, ctx.actor
    if action == "add":
        view, added = await strategies.add_rules(db, actor, strategy, rules, compute=ctx.core.compute)
        if not added:
            return Message(f"'{view.label}' already has those rules.")
        lines = [f"Added {len(added)} rule(s) to '{view.label}':"]
        lines += [f"  {r.number}. {r.action} {r.condition}" for r in view.rules[-len(added):]]
        return Message("\n".join(lines), buttons=[[Button("Simulate on BBCA", f"/simulate {view.label} BBCA 1d 1y")]])
    numbers = []
    for word in rules.replace(",", " ").split():
        if not word.isdigit():
            return Message.fail(f"'{word}' is not a rule number", "/rule rm STRATEGY NUMBER...")
        numbers.append(whole(word, "rule number"))
    view, gone = await strategies.remove_rules(db, actor, strategy, numbers)
    lines = [f"Removed {len(gone)} rule(s) from '{view.label}'. Remaining:"]
    lines += [f"  {r.number}. {r.action} {r.condition}" for r in view.rules] or ["  none"]
    return Message("\n".join(lines))


@registry.command(
    "simulate",
    "Backtest a strategy on a ticker (or screen it, for fundamental strategies)",
    Arg("strategy", "the strategy's name (see /strategies)", suggest="strategy"),
    TICKER,
    INTERVAL,
    RANGE,
    group="Strategies",
    examples=("/simulate dip BBCA", "/simulate dip BTCUSDT 4h 6mo", "/simulate value TLKM"),
    expensive=True,
)
async def simulate_(ctx: Context, strategy: str, ticker: str, interval: str, range: str | None) -> Message:
    result = await simulate(ctx.core, ctx.actor, SimulationRequest(strategy, ticker, interval, range))
    reply = render_simulation(result, range)
    if result.backtest is not None:
        line = share_command(result.strategy.label, ticker, interval, range)
        reply = dataclasses.replace(reply, buttons=[*reply.buttons, [Button("Share to a group", line)]])
    return reply


def render_simulation(result: Simulation, range_: str | None) -> Message:
    view = result.strategy
    if result.screen:
        verdict = {True: "PASSES", False: "FAILS", None: "INCOMPLETE (some data missing)"}[result.passed]
        provider = result.fundamentals.provider if result.fundamentals else ""
        lines = [f"{view.label} · {result.ticker} · fundamentals from {provider}: {verdict}"]
        if result.bandar is not None:
            from bots.commands.bandar import bandar_screen_heading

            lines = [f"{view.label} · {result.ticker} · {bandar_screen_heading(result.bandar)}: {verdict}"]
        for line in result.screen:
            metric = line.condition.split()[0]
            shown = _metric_value(metric, line.value)
            mark = {True: "✓", False: "✗", None: "?"}[line.passed]
            lines.append(f"  {mark} {line.condition} (now {shown})")
        if result.fundamentals is not None and result.fundamentals.sample:
            lines.append("SAMPLE DATA: illustrative fundamentals, not real figures.")
        if result.bandar is not None and result.bandar.sample:
            from bots.commands.bandar import SAMPLE_NOTE as BANDAR_SAMPLE_NOTE

            lines.append(BANDAR_SAMPLE_NOTE)
        return Message("\n".join(lines))
    candles, backtest = result.candles, result.backtest
    assert candles is not None and backtest is not None
    lines = [heading(view.label, candles, range_), *rule_lines(view)]
    lines += backtest_lines(backtest, candles, result.stats, result.config)
    if candles.sample:
        lines.append(fmt.SAMPLE_NOTE)
    images = []
    if result.chart:
        images.append(Image(result.chart, f"{view.label}_{candles.instrument.display}.png",
                            f"{view.label} on {candles.instrument.display} {candles.interval}"))  # fmt: skip
    return Message("\n".join(lines), images=images)


def _metric_value(metric: str, value: float | None) -> str:
    if value is None:
        return "no data"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    percent = METRICS.get(metric, ("", "", False))[2]
    if percent:
        return f"{value * 100:.2f} %"
    return fmt.compact(value) if abs(value) >= 1e6 else f"{value:,.2f}"
