"""General commands: /start, /help, /dict."""

from __future__ import annotations

from bots.commands import registry
from bots.registry import Arg, ArgKind, Context
from core.dictionary import service as dictionary
from core.message import Button, Message

WELCOME = """Welcome to Stoxlify: quotes, charts, trading models and alerts, right in this chat.

Try these first:
  /market BBCA 1d rsi macd   a quote and a candlestick chart with indicators
  /search bank central       find a ticker by name
  /watch BBCA price>9500     watch a ticker; you get an alert when it crosses
  /run NAME BBCA             backtest a saved model

See a trade{soon}, on your paper account:
1. Save this model (send it as one message, or press the button):
    {model}
2. Deploy it:
    {deploy}  (every closed {interval} candle)
3. Wait: a buy alert with its chart comes when the fast average crosses above the slow one,
   and a sell when it crosses back. /deployments shows it, /trades its fills.

/help lists every command."""

SAMPLE_MODEL = "first"
SAMPLE_SCRIPT = """/model save first
fast = ema(close, 5)
slow = ema(close, 13)
plot(fast, "EMA 5")
plot(slow, "EMA 13")
buy = crossover(fast, slow)
sell = crossunder(fast, slow)"""


def _deploy_interval(ctx: Context) -> str:
    """1m where the market serves it (the live sample market does, as do the exchanges), else 1h."""
    try:
        served = ctx.core.market.served_intervals("BTCUSDT")
    except Exception:  # a market that cannot say: the safe choice
        return "1h"
    return "1m" if "1m" in served else "1h"


@registry.command("start", "What this bot does and the first commands to try")
async def start(ctx: Context) -> Message:
    interval = _deploy_interval(ctx)
    deploy = f"/deploy {SAMPLE_MODEL} BTCUSDT {interval}"
    soon = " in the next few minutes" if interval == "1m" else ""
    text = WELCOME.format(soon=soon, model=SAMPLE_SCRIPT.replace("\n", "\n    "), deploy=deploy, interval=interval)
    buttons = [
        [Button("BBCA chart", "/market BBCA 1d rsi"), Button("Help", "/help")],
        [Button("Save the model", SAMPLE_SCRIPT), Button(f"Deploy it ({interval})", deploy)],
    ]
    return Message(text, buttons=buttons)


@registry.command(
    "help",
    "Every command, or one command's usage",
    Arg("command", "a command name (market) or a group (models)", kind=ArgKind.REST, required=False),
    examples=("/help", "/help market", "/help models"),
)
async def help_(ctx: Context, command: str | None) -> Message:
    if command is None:
        return Message(registry.help_text())
    found = registry.get(command.lstrip("/").lower())
    if found is None:
        group = registry.group_help(command)
        if group is not None:
            return Message(group)
        groups = ", ".join(g.lower() for g in registry.groups())
        return Message.fail(f"no command or group '{command.lstrip('/')}': see /help", f"groups: {groups}")
    lines = [found.usage, found.summary]
    lines += [f"  {arg.name.upper()}: {arg.help}" for arg in found.args]
    if found.examples:
        lines += ["Examples:", *(f"  {e}" for e in found.examples)]
    siblings = [f"/{c.name}" for c in registry.groups().get(found.group, []) if c is not found]
    if siblings:
        lines.append(f"Also in {found.group}: {' '.join(siblings)}")
    return Message("\n".join(lines))


@registry.command(
    "dict",
    "What the bot understands: indicators, intervals, ranges, sources, script, fundamentals, brokers, glossary",
    Arg("category", "indicator, interval, range, source, script, fundamental, broker or glossary", required=False),
    Arg("label", "one entry, such as rsi, OKX or stop loss", kind=ArgKind.REST, required=False),
    examples=("/dict", "/dict indicator", "/dict indicator macd", "/dict script", "/dict interval", "/dict broker",
              "/dict glossary", "/dict glossary stop loss", "/dict glossary bandar"),
    operations=("Fetch Dictionaries",),
)
async def dict_(ctx: Context, category: str | None, label: str | None) -> Message:
    if category is None:
        lines = ["Dictionary categories:"]
        lines += [f"  {name}: {summary}" for name, summary in dictionary.categories().items()]
        lines.append("Open one with /dict CATEGORY [LABEL], for example /dict indicator rsi")
        return Message("\n".join(lines))
    served = ctx.core.market.intervals_by_source()
    label = " ".join((label or "").split()) or None
    more = dictionary.reference(category)
    if label is not None:
        item = dictionary.entry(category, label, served)
        return Message("\n".join(filter(None, [f"{item.label}: {item.summary}", item.detail, more])))
    items = dictionary.entries(category, served)
    kind = category.lower()
    if kind.startswith("indicator"):
        names = ", ".join(item.label for item in items)
        return Message(f"{len(items)} indicators: {names}\nDetails: /dict indicator NAME")
    if kind.startswith("glossar"):
        lines = [f"{len(items)} trading terms, English: Indonesian (look up either: /dict glossary TERM):"]
        lines += [f"  {item.label}: {item.summary.removeprefix('ID: ')}" for item in items]
        return Message("\n".join(lines))
    lines = [f"{item.label}: {item.summary}" + (f" ({item.detail})" if item.detail else "") for item in items]
    return Message("\n".join(filter(None, [*lines, more])))
