"""``stoxlify run`` and ``chat`` as an operator starts them: a database that can't be reached is one clear line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "hunter2-Sup3rSecret"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


def _stoxlify(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DISCORD_", "MAYAR_", "DATABASE_"))}
    clean.update(PYTHONPATH=str(ROOT), LOG_LEVEL="INFO", **env)
    return subprocess.run([sys.executable, "-m", "bots.cli", *args], cwd=tmp_path, env=clean, input="",
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.mark.parametrize("command", ["run", "chat"])
def test_an_unreachable_database_is_one_clear_line(tmp_path, command):
    port = _closed_port()
    done = _stoxlify(tmp_path, command, DATABASE_URL=f"postgresql+asyncpg://stox:{PASSWORD}@127.0.0.1:{port}/stoxdb")
    assert done.returncode != 0
    assert PASSWORD not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 4
    assert f"postgresql+asyncpg://stox:***@127.0.0.1:{port}/stoxdb" in done.stderr
    assert f"accepts connections on 127.0.0.1:{port}, that database 'stoxdb' exists" in done.stderr


def test_an_open_mayar_webhook_refuses_to_start(tmp_path):
    done = _stoxlify(tmp_path, "run", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 't.db'}",
                     TELEGRAM_TOKEN="123456:abc", MAYAR_WEBHOOK_ENABLED="true")  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "MAYAR_WEBHOOK_ENABLED=true needs MAYAR_WEBHOOK_TOKEN" in done.stderr
