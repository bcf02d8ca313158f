"""Model commands: /model save|show|rm, /models, /run."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from bots.attachments import given_or_attached
from bots.commands import registry
from bots.commands.market import INTERVAL, RANGE, TICKER
from bots.commands.results import backtest_lines, heading, share_command
from bots.paging import paged_reply
from bots.registry import Arg, ArgKind, Context, UsageError, split_words
from core import format as fmt
from core.backtest.report import BACKTEST_CSV_COLUMNS, trades_csv, trades_csv_name
from core.message import Button, ButtonStyle, Document, Image, Message
from core.model import service as models
from core.model.execute import Execution, ScriptRun, execute_script

PAGE_SIZE = 10
_INPUT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.+)$")

SAVE_HELP = (
    "Send the script with the command, e.g.\n"
    "/model save ema_cross\n"
    "fast = ema(close, input(\"fast\", 12))\n"
    "slow = ema(close, input(\"slow\", 26))\n"
    "buy = crossover(fast, slow)\n"
    "sell = crossunder(fast, slow)\n"
    "(a ``` code block works too), or reply /model save NAME to a message or .txt file holding it."
)


async def _script_from(ctx: Context, script: str | None) -> str | bytes | None:
    return await given_or_attached(ctx, script)  # undecodable bytes pass on: the parser names the bad byte


@registry.command(
    "model",
    "Save, show, change or remove a trading model (a script in the model language)",
    Arg("action", "save, show, set or rm", kind=ArgKind.CHOICE, choices=("save", "show", "set", "rm")),
    Arg("name", "the model's name: letters, digits, _ . -", suggest="model"),
    Arg("script", "save: the script, on the next lines or in a code block · set: fast=10 overlay=false "
        "description=\"...\"", kind=ArgKind.REST, required=False,
        ask=lambda raw: str(raw.get("action") or "").lower() == "save"),
    group="Models",
    examples=("/model save ema_cross <script>", "/model show ema_cross", "/model set ema_cross fast=10 overlay=false",
              "/model rm ema_cross"),
    confirmable=True,
    reads_file=True,
    operations=("Save Model", "Load Model", "Remove Model"),
)
async def model(ctx: Context, action: str, name: str, script: str | None, confirmed: bool = False) -> Message:
    if action == "show":
        return _show(await models.get_model(ctx.core.db, ctx.actor, name))
    if action == "set":
        return await _set(ctx, name, script or "")
    if action == "rm":
        if script:
            return Message.fail(f"unexpected '{script[:40]}' after the name", "/model rm NAME")
        if not confirmed:
            found = await models.get_model(ctx.core.db, ctx.actor, name)
            return Message(
                f"Remove model '{found.label}'? Its script is deleted for good.",
                buttons=[[Button("Yes, remove", f"/model rm {found.label} --yes", style=ButtonStyle.DANGER), Button("Keep", "/models")]],
            )
        gone = await models.remove_model(ctx.core.db, ctx.actor, name)
        return Message(f"Removed model '{gone.label}'.")
    source = await _script_from(ctx, script)
    if source is None:
        return Message.fail("no script given", SAVE_HELP)
    description = _description(source) if isinstance(source, str) else None
    request = models.ModelRequest(name, source, description=description)
    saved = await models.save_model(ctx.core.db, ctx.actor, request)
    view = saved.model
    verb = "Saved" if saved.created else "Updated"
    lines = [f"{verb} model '{view.label}' ({view.kind})."]
    if view.declared:
        lines.append("Inputs: " + ", ".join(f"{k}={_value(v)}" for k, v in view.declared.items()))
    lines.append(f"Try it: /run {view.label} BBCA 1d 1y")
    return Message("\n".join(lines), buttons=[[Button("Run on BBCA", f"/run {view.label} BBCA 1d 1y")]])


async def _set(ctx: Context, name: str, text: str) -> Message:
    words = split_words(text)
    if not words:
        return Message.fail("nothing to set", '/model set NAME fast=10 overlay=false description="what it does"')
    description: str | None = None
    overlay: bool | None = None
    inputs: list[str] = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq:
            return Message.fail(f"'{word}' is not a setting: write name=value", "/model set NAME fast=10 overlay=false")
        if key == "description":
            description = value
        elif key == "overlay":
            if value.lower() not in ("true", "false"):
                return Message.fail(f"overlay is true or false, not '{value}'")
            overlay = value.lower() == "true"
        else:
            inputs.append(word)
    view = await models.update_model(
        ctx.core.db, ctx.actor, name, description=description, overlay=overlay, inputs=parse_inputs(inputs)
    )
    return _show(view)


def _description(source: str) -> str | None:
    """The script's first comment line, as the model's description."""
    for line in source.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        for mark in ("#", "//"):
            if stripped.startswith(mark):
                return stripped[len(mark):].strip()[:500] or None
        return None
    return None


def _show(view: models.ModelView) -> Message:
    panel = "on the price chart" if view.overlay else "in their own panel"
    lines = [f"Model '{view.label}' · {view.kind} · plots {panel}"]
    if view.description:
        lines.append(view.description)
    if view.declared:
        values = {**view.declared, **view.inputs}
        lines.append("Inputs: " + ", ".join(f"{k}={_value(v)}" for k, v in values.items()))
    lines.append(f"Updated {view.updated_at:%Y-%m-%d %H:%M} UTC")
    lines.append("")
    lines += view.source.splitlines()
    return Message("\n".join(lines), buttons=[[Button("Run on BBCA", f"/run {view.label} BBCA 1d 1y")]])


@registry.command(
    "models",
    "Your saved models",
    Arg("page", "page number", kind=ArgKind.INT, required=False, default=1),
    group="Models",
    operations=("Retrieve Models",),
)
async def models_(ctx: Context, page: int) -> Message:
    found = await models.list_models(ctx.core.db, ctx.actor, page, PAGE_SIZE)
    return paged_reply(
        found, title="Your models", command="/models", line=_model_line,
        empty="You have no models yet. Save one with /model save NAME and the script.\n" + SAVE_HELP,
    )  # fmt: skip


def _model_line(view: models.ModelView) -> str:
    about = f" · {view.description}" if view.description else ""
    return f"• {view.label} ({view.kind}){about}"


def parse_inputs(words: list[str]) -> dict[str, Any]:
    """``fast=10 slow=30 filter=true`` into typed values; UsageError names a malformed one."""
    out: dict[str, Any] = {}
    for word in words:
        match = _INPUT.match(word)
        if match is None:
            raise UsageError(f"'{word}' is not an input: write name=value, e.g. fast=10")
        name, raw = match.groups()
        lowered = raw.lower()
        if lowered in ("true", "false"):
            out[name] = lowered == "true"
            continue
        try:
            number = float(raw)
        except ValueError:
            raise UsageError(f"input {name} needs a number or true/false, not '{raw}'") from None
        out[name] = int(number) if number.is_integer() and "." not in raw and "e" not in lowered else number
    return out


@registry.command(
    "run",
    "Run a model on a ticker: backtest, signals and chart",
    Arg("name", "the model's name (see /models)", suggest="model"),
    TICKER,
    INTERVAL,
    RANGE,
    Arg("inputs", "input overrides: fast=10 slow=30; 'export' adds the full trade list as a CSV file",
        required=False, many=True, default=[]),
    group="Models",
    examples=("/run ema_cross BBCA", "/run ema_cross BTCUSDT 4h 3mo fast=8 slow=21", "/run ema_cross BBCA 1d 1y export"),
    expensive=True,
    operations=("Execute Script",),
)
async def run(ctx: Context, name: str, ticker: str, interval: str, range: str | None, inputs: list[str]) -> Message:
    view = await models.get_model(ctx.core.db, ctx.actor, name)
    export = any(word.lower() == "export" for word in inputs)
    inputs = [word for word in inputs if word.lower() != "export"]
    overrides = parse_inputs(inputs)  # checked once, by the script run itself
    execution = await execute_script(ctx.core, ctx.actor, ScriptRun.of_model(view, ticker, interval, range, overrides))
    reply = render_execution(execution, range)
    share = [Button("Share to a group", share_command(view.label, ticker, interval, range))]
    files = [*reply.files, export_document(execution)] if export else reply.files
    return dataclasses.replace(reply, files=files, buttons=[*reply.buttons, share])


def export_document(execution: Execution) -> Document:
    """The backtest's every trade as a CSV file (an indicator model has none: a header only)."""
    candles = execution.candles
    name = trades_csv_name(execution.label, candles)
    result = execution.backtest
    if result is None:
        return Document(",".join(BACKTEST_CSV_COLUMNS).encode() + b"\n", name, "no trades: an indicator model")
    count = len(result.trades) + (result.open_trade is not None)
    return Document(trades_csv(result, candles), name, f"{count} trade(s) of {execution.label} on "
                    f"{candles.instrument.display} {candles.interval}")  # fmt: skip


def render_execution(execution: Execution, range_: str | None) -> Message:
    candles = execution.candles
    lines = [heading(execution.label, candles, range_)]
    if execution.inputs:
        lines.append("Inputs: " + ", ".join(f"{k}={_value(v)}" for k, v in execution.inputs.items()))
    result = execution.backtest
    if result is None:
        lines.append(f"Indicator model: {len(execution.plots)} plot(s), no trades.")
        for plot in execution.plots:
            valid = plot.values.dropna()
            lines.append(f"  {plot.title}: {fmt.number(float(valid.iloc[-1])) if len(valid) else 'n/a'}")
    else:
        lines += backtest_lines(result, candles, execution.stats, execution.config, execution.last_signal())
    if candles.sample:
        lines.append(fmt.SAMPLE_NOTE)
    images = []
    if execution.chart:
        caption = f"{execution.label} on {candles.instrument.display} {candles.interval}"
        images.append(Image(execution.chart, f"{execution.label}_{candles.instrument.display}.png", caption))
    return Message("\n".join(lines), images=images)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)
