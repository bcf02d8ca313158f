"""The app's own logging set-up (``core.logging.configure``) writing to a file a test reads back."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

from core import logging as core_logging


class LogFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def text(self) -> str:
        for handler in logging.getLogger().handlers:
            handler.flush()
        return self.path.read_text(encoding="utf-8") if self.path.exists() else ""


@contextmanager
def app_logging(path: Path, level: str = "DEBUG", fmt: str = "console", *, chat_payloads: bool = False) -> Iterator[LogFile]:
    """``configure`` as ``stoxlify`` runs it, lines going to ``path``; everything put back after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    touched = [*core_logging.CHAT_PAYLOAD_LOGGERS, "ccxt", "urllib3", "yfinance", "peewee", "matplotlib",
               "asyncio", "httpx", "httpcore", "alembic", "apscheduler"]  # fmt: skip
    levels = {name: logging.getLogger(name).level for name in touched}
    core_logging.configure(level, fmt, chat_payloads=chat_payloads)
    core_logging.log_to_file(path)
    try:
        yield LogFile(path)
    finally:
        core_logging.log_to_stderr()
        structlog.reset_defaults()
        root.handlers[:], level_before = saved
        root.setLevel(level_before)
        for name, value in levels.items():
            logging.getLogger(name).setLevel(value)
