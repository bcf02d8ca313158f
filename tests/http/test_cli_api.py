"""``stoxlify api`` as an operator starts it: a process serving the API on its port until SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_stoxlify_api_serves_until_terminated(tmp_path):
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'api.db'}", "MARKET_OFFLINE": "true",
           "API_PORT": str(port), "PYTHONPATH": str(ROOT), "COMPUTE": "inline"}  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "bots.cli", "api"], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, process.stdout.read().decode()[-2000:]
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        assert httpx.post(f"http://127.0.0.1:{port}/v1/market/info", json={"ticker": "BBCA"}).status_code == 401
        spec = httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()
        assert spec["info"]["title"] == "Stoxlify Core API"
        assert {op["summary"] for path in spec["paths"].values() for op in path.values()} >= {
            "Get Market Info", "Search Market Ticker"}  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
