"""HttpProvider against a local stub HTTP server answering the recorded response shape.

The stub is a real HTTP server on 127.0.0.1 (a thread), so httpx's whole stack runs: query
parameters, headers, status codes, timeouts and refused connections are the real thing.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from core.bandarmology.http import HttpProvider
from core.bandarmology.period import parse_period
from core.bandarmology.types import Verdict
from core.config import Settings
from core.errors import NotFound, Unavailable

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bandar"
NOW = datetime(2024, 6, 8, 3, tzinfo=UTC)  # Saturday 10:00 in Jakarta


class Stub:
    """What the server answers, and what it was asked."""

    def __init__(self) -> None:
        self.answers = {inv: (FIXTURES / f"broker_summary_BBCA_{inv}.json").read_text() for inv in ("f", "d")}
        self.status = 200
        self.body: str | None = None  # replaces the fixture answer
        self.delay = 0.0
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []


@pytest.fixture
def stub() -> Iterator[tuple[Stub, str]]:
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            state.requests.append((parts.path, query, {k.lower(): v for k, v in self.headers.items()}))
            if state.delay:
                time.sleep(state.delay)
            body = (
                state.body if state.body is not None else state.answers.get(query.get("investor", ""), "{}")
            )
            payload = body.encode()
            try:
                self.send_response(state.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)  # shutdown waits one poll
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/v1/"
    finally:
        server.shutdown()
        server.server_close()


def _provider(url: str, **settings: Any) -> HttpProvider:
    return HttpProvider(Settings(_env_file=None, bandar_api_url=url, **settings))


async def test_requests_and_summary(stub: tuple[Stub, str]) -> None:
    state, url = stub
    provider = _provider(url, bandar_api_key=SecretStr("k3y-abc"))
    summary = await provider.summary("bbca.jk", parse_period("5d"), NOW)

    assert sorted(q["investor"] for _, q, _ in state.requests) == ["d", "f"]
    for path, query, headers in state.requests:
        assert path == "/v1/stocks/broker-summary"
        assert {k: v for k, v in query.items() if k != "investor"} == {
            "ticker": "BBCA", "from": "2024-06-03", "to": "2024-06-07",
        }  # fmt: skip
        assert headers["authorization"] == "Bearer k3y-abc"
        assert headers["accept"] == "application/json"

    assert (summary.start, summary.end, summary.provider) == (date(2024, 6, 3), date(2024, 6, 7), "127.0.0.1")
    assert [p.code for p in summary.buyers] == ["AK", "CC"]
    assert [p.code for p in summary.sellers] == ["YP", "ZP", "PD", "BK"]
    ak = summary.buyers[0]
    assert (ak.lots, ak.value, ak.investor, ak.trades) == (16_000, 15.175e9, "", 422)  # F and D rows added up
    assert ak.avg_price == pytest.approx(9_500)
    assert summary.top_buy_value == pytest.approx(20.875e9)
    assert summary.top_sell_value == pytest.approx(8.55e9 + 7.64e9 + 5.7e9)
    assert summary.verdict is Verdict.NEUTRAL  # r = 0.954
    assert summary.foreign_net == pytest.approx(28.45e9 - 23.815e9)
    assert summary.domestic_net == pytest.approx(23.75e9 - 31.35e9)


async def test_a_custom_key_header_gets_the_raw_key(stub: tuple[Stub, str]) -> None:
    state, url = stub
    provider = _provider(url, bandar_api_key=SecretStr("raw"), bandar_api_key_header="X-API-KEY")
    await provider.summary("BBCA", parse_period("2024-06-05"), NOW)
    headers = state.requests[0][2]
    assert headers["x-api-key"] == "raw" and "authorization" not in headers
    assert state.requests[0][1]["from"] == state.requests[0][1]["to"] == "2024-06-05"


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (401, Unavailable, "refused the API key (HTTP 401)"),
        (403, Unavailable, "refused the API key (HTTP 403)"),
        (404, NotFound, "has no broker data for BBCA"),
        (429, Unavailable, "limiting requests"),
        (503, Unavailable, "not available right now (HTTP 503)"),
        (422, Unavailable, "refused the request for BBCA (HTTP 422)"),
    ],
)
async def test_http_errors(stub: tuple[Stub, str], status: int, error: type, message: str) -> None:
    state, url = stub
    state.status, state.body = status, '{"message": "nope"}'
    with pytest.raises(error, match=re.escape(message)) as caught:
        await _provider(url, bandar_api_key=SecretStr("s3cret")).summary("BBCA", parse_period(None), NOW)
    assert "s3cret" not in str(caught.value) and "s3cret" not in (caught.value.hint or "")


async def test_unreadable_and_empty_answers(stub: tuple[Stub, str]) -> None:
    state, url = stub
    state.body = "<html>maintenance</html>"
    with pytest.raises(Unavailable, match="could not be read"):
        await _provider(url).summary("BBCA", parse_period(None), NOW)
    state.body = json.dumps({"data": [{"buy_value": 1}]})  # no broker code
    with pytest.raises(Unavailable, match="could not be read"):
        await _provider(url).summary("BBCA", parse_period(None), NOW)
    state.body = json.dumps({"data": []})
    with pytest.raises(NotFound, match="no broker activity for BBCA from 2024-06-07 to 2024-06-07"):
        await _provider(url).summary("BBCA", parse_period(None), NOW)


async def test_timeout(stub: tuple[Stub, str]) -> None:
    state, url = stub
    state.delay = 0.5
    with pytest.raises(Unavailable, match=r"did not answer within 0\.1 s"):
        await _provider(url, bandar_timeout_s=0.1).summary("BBCA", parse_period(None), NOW)


async def test_unreachable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(Unavailable, match=re.escape("could not reach 127.0.0.1")):
        await _provider(f"http://127.0.0.1:{port}").summary("BBCA", parse_period(None), NOW)
