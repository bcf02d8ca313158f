"""Spot exchange keys, bot tokens and access tokens pasted into group chats, so the bot can delete them."""

from __future__ import annotations

import re

from core.redaction import ACCESS_TOKEN

_SHAPES = [
    ACCESS_TOKEN,  # a Stoxlify personal access token (/token new)
    re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{34,}\b"),  # Telegram bot token
    re.compile(r"\b[A-Za-z0-9]{64}\b"),  # Binance / Tokocrypto API key or secret
    re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),  # OKX API key
    re.compile(r"\b[MNO][A-Za-z\d_-]{23,25}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,}\b"),  # Discord bot token
    re.compile(r"-----BEGIN (EC |RSA )?PRIVATE KEY-----"),  # Coinbase CDP key
    re.compile(r"(?i)\b(api[_ -]?key|secret|passphrase)\s*[:=]\s*\S{12,}"),
    # /connect with a key in a group: refused there, and whatever its shape the key must not stay visible
    re.compile(r"(?i)^\s*/connect(@\w+)?\s+\S+\s+\S+\s+\S+"),
]


def looks_like_secret(text: str) -> bool:
    return any(shape.search(text) for shape in _SHAPES)
