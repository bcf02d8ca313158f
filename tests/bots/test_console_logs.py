"""The console chat's terminal belongs to the conversation: log lines go to a file, and APScheduler's
per-run INFO lines ("Running job ...", "... executed successfully") are never printed at all."""

from __future__ import annotations

import asyncio
import builtins
import logging
from datetime import UTC, datetime

import pytest
import structlog

from bots.console import transport
from core.config import get_settings
from core.logging import configure, get_logger, log_to_stderr


@pytest.fixture
def configured_logging():
    """``stoxlify chat`` configures logging first; put everything back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure("INFO")
    try:
        yield
    finally:
        log_to_stderr()
        structlog.reset_defaults()
        root.handlers[:], level = saved
        root.setLevel(level)


async def test_scheduler_runs_print_nothing(configured_logging, capsys):
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.date import DateTrigger

    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
    scheduler.add_job(job, DateTrigger(run_date=datetime.now(UTC)), id="deployments.tick")
    scheduler.start()
    try:
        await asyncio.wait_for(ran.wait(), 30)
    finally:
        scheduler.shutdown(wait=False)
    get_logger("jobs.scheduler").warning("still_shown_outside_the_console")
    printed = capsys.readouterr()
    assert "Running job" not in printed.err + printed.out
    assert "executed successfully" not in printed.err + printed.out
    assert "still_shown_outside_the_console" in printed.err  # our own warnings still reach the operator


async def test_console_chat_writes_log_lines_to_a_file(configured_logging, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("JOBS_ENABLED", "true")
    get_settings.cache_clear()
    lines = iter(["/start", "/quit"])
    monkeypatch.setattr(builtins, "input", lambda prompt="": next(lines))
    log_file = tmp_path / "var" / "stoxlify.log"
    try:
        assert await transport.chat(tmp_path / "out", log_file) == 0
    finally:
        get_settings.cache_clear()
    printed = capsys.readouterr()
    assert "Welcome to Stoxlify" in printed.out
    assert f"Log lines go to {log_file}" in printed.out
    assert "deployment_scheduler_started" not in printed.out + printed.err  # the scheduler's own line...
    assert "deployment_scheduler_started" in log_file.read_text()  # ... is in the log file
    assert "[info" not in printed.out + printed.err
