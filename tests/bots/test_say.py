"""`stoxlify say` as a user runs it: a fresh process, offline sample data, a PNG written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).with_name("stoxlify")


def say(line: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'say.db'}",
        "MARKET_OFFLINE": "true",
        "TELEGRAM_TOKEN": "",
        "DISCORD_TOKEN": "",
    }
    env.pop("MARKET_DATA_DIR", None)
    return subprocess.run(
        [str(EXE), "say", line, "--out", str(tmp_path / "out")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.fixture(scope="module", autouse=True)
def _console_script_installed():
    if not EXE.exists():
        pytest.fail(f"console script missing at {EXE}: install the project with `pip install -e .`")


def test_market_offline_writes_a_png(tmp_path):
    done = say("/market BBCA 1d", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.startswith("BBCA")
    assert "Price" in out and "Change" in out and "Volume" in out and "Day" in out
    assert "SAMPLE DATA" in out
    pngs = list((tmp_path / "out").glob("*.png"))
    assert len(pngs) == 1 and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"[image] {pngs[0]}" in out
    assert (tmp_path / "say.db").exists()  # migrations ran on start


def test_argument_error_exits_non_zero_with_usage(tmp_path):
    done = say("/market", tmp_path)
    assert done.returncode == 1
    assert "missing TICKER" in done.stdout
    assert "Usage: /market TICKER [INTERVAL] [RANGE] [INDICATORS...]" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_unknown_ticker_is_a_clear_reply(tmp_path):
    done = say("/market NOSUCH 1d", tmp_path)
    assert done.returncode == 1
    assert "NOSUCH" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "out").exists()


def test_console_chat_takes_a_multi_line_script_in_a_code_block(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
        "MARKET_OFFLINE": "true",
        "JOBS_ENABLED": "false",
    }
    typed = "/model save cross ```\nbuy = close > sma(close, 5)\nsell = close < sma(close, 5)\n```\n/models\n/quit\n"
    done = subprocess.run(
        [str(EXE), "chat", "--out", str(tmp_path / "out")],
        cwd=tmp_path, env=env, input=typed, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Saved model 'cross' (long-only)." in done.stdout
    assert "• cross (long-only)" in done.stdout


MAYAR_KEY = "mayar-live-key-0123456789abcdef"


def test_every_secret_setting_is_registered_with_the_log_scrubber(monkeypatch):
    import io
    import logging

    from bots import cli
    from bots.console import transport
    from core import config, redaction
    from core import logging as core_logging
    from core.config import Settings

    settings = Settings(
        _env_file=None,
        mayar_api_key=MAYAR_KEY,
        media_s3_secret_key="s3-secret-key-value",
        broker_master_keys="first-master-key-aaaa,second-master-key-bbbb",
    )
    registered: list[str] = []
    monkeypatch.setattr(config, "get_settings", lambda: settings)
    monkeypatch.setattr(
        core_logging, "configure", lambda _lvl, _fmt, secrets=(), **_: registered.extend(secrets)
    )

    async def fake_say(_line, _out):
        return 0

    monkeypatch.setattr(transport, "say", fake_say)
    monkeypatch.setattr(redaction, "registry", redaction.SecretRegistry())
    assert cli.main(["say", "/help"]) == 0
    assert {MAYAR_KEY, "s3-secret-key-value", "first-master-key-aaaa", "second-master-key-bbbb"} <= set(registered)

    for secret in registered:  # what the real configure does with them
        core_logging.register_secret(secret)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(core_logging.ScrubFilter())
    logger = logging.getLogger("test.secrets")
    logger.addHandler(handler)
    try:
        logger.warning("mayar said no to %s", MAYAR_KEY)
    finally:
        logger.removeHandler(handler)
    assert MAYAR_KEY not in stream.getvalue()
    assert core_logging.MASK in stream.getvalue()
    assert MAYAR_KEY not in core_logging.scrub(f"GET /invoice?key={MAYAR_KEY}")
