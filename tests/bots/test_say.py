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
