"""Structured logging with secrets redacted.

Every record passes through ``redact``: values of keys that name a secret are masked, and any
registered secret value (bot tokens, API keys) is masked wherever it appears in a string, so a
token pasted into an exception message still never reaches a log file.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

_SECRET_KEY = re.compile(r"(token|secret|password|passphrase|api[_-]?key|apikey|authorization|private)", re.I)
# Telegram bot tokens and long key-like strings that may arrive inside URLs or messages.
_TOKEN_SHAPES = [
    re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{16,}"),
]
MASK = "***"
_known_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever it appears in later log records."""
    if value and len(value) >= 6:
        _known_secrets.add(value)


def scrub(text: str) -> str:
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    for shape in _TOKEN_SHAPES:
        text = shape.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    return text


def _scrub_value(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key):
        return MASK
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub_value(key, v) for v in value)
    return value


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        event[key] = _scrub_value(key, event[key])
    return event


class _ScrubFilter(logging.Filter):
    """Scrubs records from third-party loggers (httpx, ccxt, telegram) that bypass structlog."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


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


def configure(level: str = "INFO", fmt: str = "console", secrets: Iterable[str | None] = ()) -> None:
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
        logger_factory=structlog.PrintLoggerFactory(file=_sink),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(_sink)
    handler.addFilter(_ScrubFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Never let libraries that print request headers log at DEBUG (ccxt logs API keys there).
    for noisy in ("ccxt", "urllib3", "yfinance", "peewee", "matplotlib", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLevelName(level)))
    # httpx logs a line per Bot API call (every long poll), alembic a line per migration step.
    # APScheduler logs "Running job ..." and "... executed successfully" for every run, every few seconds.
    for chatty in ("httpx", "httpcore", "alembic", "apscheduler"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
