"""Hostile arguments to every command, on SQLite and PostgreSQL: a reply or an error reply, never
"Something went wrong", never a traceback, and an error reply quotes at most an excerpt of them.

PostgreSQL matters here: it refuses NUL in text and overflows on ids past its integer columns,
where SQLite stores or compares them happily.
"""

from __future__ import annotations

import random
import re

import pytest

from bots.registry import EXCERPT_CHARS, ArgKind

# One of each kind of input that used to reach "Something went wrong" somewhere.
PAYLOADS = {
    "nul": "a\x00b",
    "lone surrogate": "x\ud800y",
    "thousands of digits": "1" * 5000,
    "past int4": "2147483648",
    "superscript digit": "²",
    "other script digits": "٣١",
    "long word": "q" * 5000,
    "huge float": "1e309",
}  # fmt: skip
# More of the same kinds, for the random lines only (the sweep stays a few seconds per database).
VARIANTS = [
    "\ud83d\ude00", "\udfff", "-" + "9" * 5000, "99999999999999999999999", "9" * 400, "𝟗", "1_000", "2147483647",
    "until=9999-12-31", "from=0001-01-01", "uses=" + "9" * 30,
]  # fmt: skip

TOKENS = [
    "BBCA", "BTCUSDT", "1d", "1h", "4h", "1y", "6mo", "x", "0", "-1", "99999999999999999999", "save", "show", "rm",
    "set", "new", "add", "import", "--yes", "rsi", "macd:12:26:9", "fast=3", "a=b", "buy", "sell",
    "rsi(close, 14) < 30", "'", '"', "```", "\n", "técnico", "\x00", "pe<15", "roe>15%", "to=1", "#3", "technical",
    "fundamental", "bandarmology", "paper", "binance", "all", "on", "off", "day", "week", "month",
    "from=2024-13-01", "to=2024-01-01", "2024-06-03", "9999-12-31", "list", "seed", "percent", "fixed", "10", "Pro",
    "Basic", "media:1", "email", "phone", "+62812", "country", "ID", "name", ";", "..", "/", "%s%n{0}",
    "image", "#" + "7" * 30, "media:" + "8" * 30, "to=" + "6" * 30, "uses=²", *PAYLOADS.values(), *VARIANTS,
]  # fmt: skip

# Characters repeated in the long payloads: an error reply showing more than an excerpt of them
# repeats the user's input back. Replies quote at most EXCERPT_CHARS of a value; a script error
# shows up to 80 characters of its source line, to point a caret at the mistake (core.script.errors).
SCRIPT_WINDOW = 80
_LONG_RUN = re.compile(f"(q|1|9|6|7|8)\\1{{{max(EXCERPT_CHARS, SCRIPT_WINDOW)},}}", re.I)


SWEEP_LINES = 1000  # at least, per database: every command meets every payload in a few places
RANDOM_LINES = 150  # per seed and database


async def _prepare(console) -> list[str]:
    """Something to act on (a model, a strategy with a rule, plans) and the command names to try.
    The user is one of the bot's admins, so that admin commands parse their arguments too."""
    core = console.core
    core.settings = core.settings.model_copy(update={"admin_ids": [f"console:{console.actor.platform_user_id}"]})
    console.registry.rate_limiter.per_minute = 1_000_000
    await console.handle("/product seed")
    await console.handle("/model save m\nbuy = close > sma(close, 5)\nsell = close < sma(close, 5)")
    await console.handle("/strategy new s")
    await console.handle("/rule add s buy rsi(close, 14) < 40")
    return [c.name for c in console.registry if c.name != "deleteaccount"]


async def _crashes(console, lines: list[str]) -> list[tuple[str, str]]:
    """The lines whose reply is the generic failure, a traceback or a long echo of the input."""
    bad = []
    for line in lines:
        reply = await console.handle(line)
        text = reply.text
        if "Something went wrong" in text or "Traceback" in text or (reply.error and _LONG_RUN.search(text)):
            bad.append((line[:80], text[:200]))
    return bad


def payload_lines(console) -> list[str]:
    """Every payload in the first argument of every command and after each of its sub-commands
    (``/model show PAYLOAD``), and in place of the last word of each of its examples (deeper:
    ``/profile set name PAYLOAD``, ``/watch BBCA price > PAYLOAD``)."""
    lines = []
    for command in console.registry:
        if command.name == "deleteaccount":
            continue
        first = command.args[0] if command.args else None
        subs = first.choices if first is not None and first.kind is ArgKind.CHOICE else ()
        heads = [f"/{command.name} ", *(f"/{command.name} {s} " for s in subs)]
        heads += [example.rpartition(" ")[0] + " " for example in command.examples if " " in example]
        lines += [head + payload for head in dict.fromkeys(heads) for payload in PAYLOADS.values()]
    return lines


async def test_every_command_meets_every_payload(db_console):
    await _prepare(db_console)
    lines = payload_lines(db_console)
    assert len(lines) >= SWEEP_LINES  # every command, every payload: the sweep did not quietly shrink
    assert await _crashes(db_console, lines) == []


@pytest.mark.parametrize("seed", range(2))
async def test_random_arguments_never_crash_a_command(db_console, seed):
    rnd = random.Random(seed)
    names = await _prepare(db_console)
    lines = [
        f"/{rnd.choice(names)} " + " ".join(rnd.choice(TOKENS) for _ in range(rnd.randint(0, 5)))
        for _ in range(RANDOM_LINES)
    ]
    assert await _crashes(db_console, lines) == []
