"""What the app's logging writes, in both formats and through both paths (structlog events and the
standard library's records): never a key, whatever shape it is in or wherever it sits."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import pytest

from core.logging import get_logger
from tests.logcapture import app_logging

BINANCE = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
OKX = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
BOT_TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
DISCORD_TOKEN = "MTAxNTk4NjU0MzIxMDk4NzY1NA.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
PEM = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBYr3kF0pLAIN9pemBody4x\nAoGCCqGSM49\n-----END EC PRIVATE KEY-----"
PLAIN = "plainKey-9f3a-client"  # no known shape


@dataclass
class Incoming:
    """An object whose repr carries what a user typed, as library objects (Update, Message) do."""

    text: str


def _assert_clean(text: str) -> None:
    for secret in (BINANCE, OKX, BOT_TOKEN, DISCORD_TOKEN, "MHcCAQEEIBYr3kF0pLAIN9pemBody4x", PLAIN):
        assert secret not in text, f"{secret!r} logged:\n{text}"


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_structlog_events_keep_no_key(tmp_path, fmt):
    log = get_logger("bots.registry")
    with app_logging(tmp_path / "bot.log", "DEBUG", fmt) as out:
        log.debug("command_line", line=f"/connect binance main {PLAIN} {BINANCE}", user=1)
        log.info("incoming", update=Incoming(f"/connect okx main {OKX} s3cret pass"))
        log.warning("exchange_said", detail=f"apiKey={PLAIN} rejected; headers {{'X-MBX-APIKEY': '{BINANCE}'}}")
        log.info("pasted", text=f"{BOT_TOKEN} {DISCORD_TOKEN} {PEM}", nested={"keys": [OKX], "api_key": "anything"})
        try:
            raise RuntimeError(f"signature check failed for secret={PLAIN}")
        except RuntimeError:
            log.exception("tick_failed")
        text = out.text()
    _assert_clean(text)
    assert "/connect ***" in text and "command_line" in text and "tick_failed" in text
    assert "RuntimeError: signature check failed for secret=***" in text
    if fmt == "json":
        events = [json.loads(line) for line in text.splitlines()]
        assert [e["event"] for e in events] == ["command_line", "incoming", "exchange_said", "pasted", "tick_failed"]
        assert events[0]["line"] == "/connect ***" and events[0]["user"] == 1


def test_standard_library_records_keep_no_key_in_message_args_or_traceback(tmp_path):
    with app_logging(tmp_path / "bot.log", "DEBUG") as out:
        library = logging.getLogger("some.library")
        library.debug("got %r", {"text": f"/connect binance main {PLAIN} {BINANCE}", "chat": 5})
        library.info("POST https://api.telegram.org/bot%s/sendMessage", BOT_TOKEN)
        library.error("cannot connect to postgresql+asyncpg://stox:Pg-pass-w0rd@db:5432/stox or redis://:r3dis-pw@cache:6379/0")
        try:
            raise ValueError(f"bad key {OKX} with {PEM}")
        except ValueError:
            library.exception("request failed")
        library.warning("stack here", stack_info=True, extra={"ignored": PLAIN})
        text = out.text()
    _assert_clean(text)
    assert "'text': '/connect ***', 'chat': 5" in text  # the command masked, the rest of the record kept
    assert "ValueError: bad key *** with ***" in text and "request failed" in text
    assert "postgresql+asyncpg://stox:***@db:5432/stox or redis://:***@cache:6379/0" in text


def test_a_connect_line_without_quotes_is_masked_to_its_end(tmp_path):
    with app_logging(tmp_path / "bot.log", "DEBUG") as out:
        logging.getLogger("console").info("typed: /connect coinbase cb1 organizations/x/apiKeys/y %s", PEM)
        logging.getLogger("console").info("help mentions /connections and /connectivity")
        text = out.text()
    _assert_clean(text)
    assert "typed: /connect ***" in text and "apiKeys" not in text
    assert "help mentions /connections and /connectivity" in text  # other words are left alone
