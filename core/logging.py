"""Structured logging with secrets redacted.

Every line passes through ``core.redaction.scrub`` before anything writes it: structlog events
in ``redact`` (values of keys that name a secret are masked outright), and the standard library's
records (httpx, ccxt, python-telegram-bot, discord.py) in a filter on every handler of the root
logger. See ``core.redaction`` for what is masked: /connect's arguments and Discord's typed values,
key and token shapes, and registered values.

The chat libraries log whole updates and gateway events at DEBUG (a user's /connect key among
them): their loggers stay at INFO even when ``LOG_LEVEL=DEBUG`` unless ``LOG_CHAT_PAYLOADS`` asks
for them, and what they log then is scrubbed like everything else.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from datetime import date, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, TextIO, cast

import structlog

from core import redaction
from core.redaction import MASK, masking, scrub

__all__ = ["MASK", "configure", "get_logger", "masking", "register_secret", "remember_secret", "scrub"]

_SECRET_KEY = re.compile(r"(token|secret|password|passphrase|api[_-]?key|apikey|authorization|private)", re.I)
# Loggers that write what users send at DEBUG: python-telegram-bot ("Processing update", "Webhook
# received data", each Bot API call's parameters and return value: getUpdates returns whole updates)
# and discord.py (discord.gateway's "WebSocket Event" with interactions and modal values,
# discord.http's request bodies and responses).
CHAT_PAYLOAD_LOGGERS = ("telegram", "discord")


def register_secret(value: str | None) -> None:
    """Mask ``value`` in every later line, for the life of the process: the operator's own secrets."""
    redaction.registry.pin(value)


def remember_secret(value: str | None) -> None:
    """Mask a user's verified secret in later lines (bounded and expiring: see ``core.redaction``)."""
    redaction.registry.remember(value)


# Values whose repr holds nothing a user typed: rendered as they are.
_PLAIN_TYPES = (bool, int, float, Decimal, date, time, timedelta, Enum)


def _scrub_value(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key):
        return MASK
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub_value(key, v) for v in value)
    if value is None or isinstance(value, _PLAIN_TYPES):
        return value
    return scrub(repr(value))  # an object's repr (an Update, an exception) may carry what it was given


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        event[key] = _scrub_value(key, event[key])
    return event


class ScrubFilter(logging.Filter):
    """Scrubs the message, traceback and stack of every record before its handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_scrubbed", False):  # already seen by the filter of another handler
            return True
        record._scrubbed = True
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatter.format would render the traceback after filters ran: render it here, scrubbed.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def install_scrub_filter(logger: logging.Logger | None = None) -> None:
    """Put a ``ScrubFilter`` on each handler of ``logger`` (the root logger) that lacks one."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(ScrubFilter())


class _Sink:
    """Where log lines go: standard error, or a file once ``log_to_file`` is called (the console
    chat, whose terminal belongs to the conversation). structlog and the standard library write here."""

    def __init__(self) -> None:
        self.stream: TextIO | None = None  # None: the current sys.stderr (pytest swaps it per test)

    def write(self, text: str) -> int:
        return (self.stream or sys.stderr).write(text)

    def flush(self) -> None:
        (self.stream or sys.stderr).flush()


_sink = _Sink()


def log_to_file(path: Path) -> Path:
    """Send every later log line (ours and the libraries') to ``path`` instead of the terminal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if _sink.stream is not None and _sink.stream is not sys.stderr:
        _sink.stream.close()
    _sink.stream = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - lives as long as the process
    return path


def log_to_stderr() -> None:
    if _sink.stream is not None:
        _sink.stream.close()
    _sink.stream = None


def configure(
    level: str = "INFO", fmt: str = "console", secrets: Iterable[str | None] = (), *, chat_payloads: bool = False
) -> None:
    """Send structlog and the standard library to one sink, scrubbed; ``chat_payloads`` lets the chat
    libraries log what users send at DEBUG (still scrubbed)."""
    for secret in secrets:
        register_secret(secret)
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _sink)),  # it writes and flushes
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(_sink)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    install_scrub_filter(root)
    root.setLevel(level)
    numeric = logging.getLevelName(level)
    # Never let libraries that print request headers log at DEBUG (ccxt logs API keys there).
    for noisy in ("ccxt", "urllib3", "yfinance", "peewee", "matplotlib", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, numeric))
    # httpx logs a line per Bot API call (every long poll), alembic a line per migration step.
    # APScheduler logs "Running job ..." and "... executed successfully" for every run, every few seconds.
    for chatty in ("httpx", "httpcore", "alembic", "apscheduler"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, numeric))
    for payloads in CHAT_PAYLOAD_LOGGERS:
        logging.getLogger(payloads).setLevel(numeric if chat_payloads else max(logging.INFO, numeric))


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
