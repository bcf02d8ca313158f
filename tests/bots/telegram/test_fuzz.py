"""Random command lines through the real Telegram handlers: every answer renders, none is a crash."""

from __future__ import annotations

import random

TOKENS = [
    "BBCA", "BTCUSDT", "1d", "1h", "1y", "x", "0", "99999999999999999999", "save", "show", "rm", "set", "new", "add",
    "--yes", "rsi", "macd", "fast=3", "buy", "sell", "rsi(close, 14) < 30", "<b>", "&amp;", "```", "\n", "*_~",
    "pe<15", "#3", "paper", "on", "off", "week", "list", "10", "Pro", "email", "+62812", "a" * 300, "\u202e", "😀",
]  # fmt: skip


async def test_random_lines_always_get_a_rendered_answer(tg):
    rnd = random.Random(3)
    tg.core.settings = tg.core.settings.model_copy(update={"rate_limit_per_minute": 1_000_000})
    await tg.say("/model save m\nbuy = close > sma(close, 5)\nsell = close < sma(close, 5)")
    names = sorted({c.name for c in __import__("bots.commands", fromlist=["load"]).load()} - {"deleteaccount"})
    for _ in range(80):
        line = f"/{rnd.choice(names)} " + " ".join(rnd.choice(TOKENS) for _ in range(rnd.randint(0, 4)))
        calls = await tg.say(line)
        sent = [c for c in calls if c.method in ("sendMessage", "sendPhoto", "sendMediaGroup")]
        assert sent, f"no answer to {line!r}"
        assert not any("Something went wrong" in c.text for c in sent), line
