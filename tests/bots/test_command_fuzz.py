"""Random arguments to every command: a reply, an error reply, never "Something went wrong"."""

from __future__ import annotations

import random

import pytest

TOKENS = [
    "BBCA", "BTCUSDT", "1d", "1h", "4h", "1y", "6mo", "x", "0", "-1", "99999999999999999999", "save", "show", "rm",
    "set", "new", "add", "import", "--yes", "rsi", "macd:12:26:9", "fast=3", "a=b", "buy", "sell",
    "rsi(close, 14) < 30", "'", '"', "```", "\n", "técnico", "\x00", "pe<15", "roe>15%", "to=1", "#3", "technical",
    "fundamental", "bandarmology", "paper", "binance", "all", "on", "off", "day", "week", "month",
    "from=2024-13-01", "to=2024-01-01", "2024-06-03", "list", "seed", "percent", "fixed", "10", "Pro", "Basic",
    "media:1", "email", "phone", "+62812", "country", "ID", "name", ";", "..", "/", "%s%n{0}", "9" * 400,
]  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
async def test_random_arguments_never_crash_a_command(console, seed):
    rnd = random.Random(seed)
    console.registry.rate_limiter.per_minute = 1_000_000
    await console.handle("/model save m\nbuy = close > sma(close, 5)\nsell = close < sma(close, 5)")
    await console.handle("/strategy new s")
    await console.handle("/rule add s buy rsi(close, 14) < 40")
    names = [c.name for c in console.registry if c.name != "deleteaccount"]
    crashed = []
    for _ in range(120):
        line = f"/{rnd.choice(names)} " + " ".join(rnd.choice(TOKENS) for _ in range(rnd.randint(0, 5)))
        reply = await console.handle(line)
        if "Something went wrong" in reply.text or "Traceback" in reply.text:
            crashed.append(line)
    assert crashed == []
