"""LOG_CHAT_PAYLOADS reaches the logging set-up: the chat libraries' DEBUG payload lines are off
unless the operator turns them on, whatever LOG_LEVEL says."""

from __future__ import annotations

import logging

import pytest

from core.logging import CHAT_PAYLOAD_LOGGERS
from tests.logcapture import app_logging


@pytest.mark.parametrize(("asked", "level"), [(False, logging.INFO), (True, logging.DEBUG)])
def test_stoxlify_passes_log_chat_payloads_to_the_logging_set_up(monkeypatch, tmp_path, asked, level):
    from bots import cli
    from bots.console import transport
    from core import config
    from core import logging as core_logging

    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("LOG_CHAT_PAYLOADS", "true" if asked else "false")
    monkeypatch.chdir(tmp_path)  # no .env here
    config.get_settings.cache_clear()
    seen: dict[str, object] = {}
    real_configure = core_logging.configure

    def configure(level_name, fmt, secrets=(), **options):
        seen.update(level=level_name, **options)

    async def fake_say(_line, _out):
        return 0

    monkeypatch.setattr(core_logging, "configure", configure)
    monkeypatch.setattr(transport, "say", fake_say)
    try:
        assert cli.main(["say", "/help"]) == 0
    finally:
        config.get_settings.cache_clear()
    assert seen == {"level": "DEBUG", "chat_payloads": asked}

    monkeypatch.setattr(core_logging, "configure", real_configure)
    with app_logging(tmp_path / "bot.log", "DEBUG", chat_payloads=asked):
        assert {logging.getLogger(name).getEffectiveLevel() for name in CHAT_PAYLOAD_LOGGERS} == {level}
        assert logging.getLogger("telegram.ext.Application").isEnabledFor(logging.DEBUG) is asked
        assert logging.getLogger("discord.gateway").isEnabledFor(logging.DEBUG) is asked
