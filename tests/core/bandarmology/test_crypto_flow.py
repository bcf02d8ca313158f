"""Crypto taker flow: the analysis on hand-made trades, and TradeFlowProvider with ccxt's real
binance class whose HTTP ``fetch`` answers recorded-shape ``exchangeInfo`` and ``aggTrades``.

The aggTrades fixture (Binance's documented shape: a, p, q, f, l, T, m, M) holds 20 trades at
90,000 USDT: 18 small ones of 0.01·k BTC (k = 1..18; odd k taker buys, even k taker sells),
one 1 BTC taker buy and one 0.5 BTC taker sell.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt.async_support as ccxt_async
import pytest

from core.bandarmology import crypto
from core.bandarmology.crypto import Trade, TradeFlowProvider, analyse_trades
from core.bandarmology.period import parse_period
from core.bandarmology.service import BandarService
from core.bandarmology.types import Verdict
from core.config import Settings
from core.errors import NotFound, Unavailable

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NOW = datetime(2024, 11, 23, 12, tzinfo=UTC)
HOUR_MS = 3_600_000


def test_percentile_split() -> None:
    trades = [Trade(i, 100.0, float(q), "buy" if i % 2 else "sell") for i, q in enumerate(range(1, 11), 1)]
    flow = analyse_trades(trades)  # values 100..1000; 90th percentile = 910 (linear)
    assert flow.threshold == pytest.approx(910.0) and flow.rule == "the window's 90th percentile"
    assert (flow.large_buy.trades, flow.large_sell.trades) == (0, 1)  # only the 1,000 trade (i = 10, a sell)
    assert flow.large_sell.value == pytest.approx(1000.0) and flow.large_sell.volume == pytest.approx(10.0)
    assert flow.small_buy.value == pytest.approx(100 * (1 + 3 + 5 + 7 + 9))
    assert flow.small_sell.value == pytest.approx(100 * (2 + 4 + 6 + 8))
    assert flow.trades == 10
    fixed = analyse_trades(trades, large_value=500.0)  # at or above 500: 5..10
    assert (fixed.large_buy.trades, fixed.large_sell.trades, fixed.rule) == (
        3,
        3,
        "set in BANDAR_LARGE_TRADE_VALUE",
    )
    assert fixed.large_buy.avg_price == pytest.approx(100.0)


def test_no_trades() -> None:
    with pytest.raises(NotFound):
        analyse_trades([])


class FakeBinance:
    def __init__(self) -> None:
        self.exchange_info = json.loads((FIXTURES / "binance" / "exchangeInfo_spot.json").read_text())
        self.trades = json.loads((FIXTURES / "bandar" / "aggTrades_BTCUSDT.json").read_text())
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.status = 200

    async def fetch(self, exchange: Any, url: str, method: str = "GET") -> Any:
        parts = urlsplit(url)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.calls.append((parts.path, params))
        if parts.path == "/api/v3/exchangeInfo":
            return self._answer(exchange, url, method, 200, self.exchange_info)
        if parts.path == "/api/v3/aggTrades":
            if self.status != 200:
                return self._answer(
                    exchange, url, method, self.status, {"code": -1003, "msg": "Too many requests."}
                )
            start, end = int(params["startTime"]), int(params["endTime"])
            rows = [t for t in self.trades if start <= t["T"] <= end][: int(params.get("limit", 500))]
            return self._answer(exchange, url, method, 200, rows)
        return self._answer(exchange, url, method, 404, {"code": -1, "msg": "Not found"})

    def trade_calls(self) -> list[dict[str, str]]:
        return [params for path, params in self.calls if path == "/api/v3/aggTrades"]

    @staticmethod
    def _answer(exchange: Any, url: str, method: str, status: int, payload: Any) -> Any:
        body = json.dumps(payload)
        reason = "OK" if status < 400 else "Error"
        exchange.handle_errors(status, reason, url, method, {}, body, payload, {}, None)
        exchange.handle_http_status_code(status, reason, url, method, body)
        return payload


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeBinance:
    server = FakeBinance()

    async def fetch(self: Any, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        return await server.fetch(self, url, method)

    monkeypatch.setattr(ccxt_async.binance, "fetch", fetch)
    monkeypatch.setattr(TradeFlowProvider, "_markets", None)  # the process-wide market list cache
    return server


def _provider(**settings: Any) -> TradeFlowProvider:
    return TradeFlowProvider(Settings(_env_file=None, **settings))


async def test_one_hour_from_recorded_trades(fake: FakeBinance) -> None:
    summary = await _provider(bandar_crypto_max_trades=1000).summary("btcusdt", parse_period("1h"), NOW)

    [call] = fake.trade_calls()
    start_ms = int(NOW.timestamp() * 1000) - HOUR_MS
    assert call == {"symbol": "BTCUSDT", "startTime": str(start_ms), "endTime": str(start_ms + HOUR_MS - 1),
                    "limit": "1000"}  # fmt: skip
    assert summary.market == "crypto" and summary.ticker == "BTCUSDT" and summary.provider == "Binance trades"
    assert (summary.currency, summary.volume_unit) == ("USDT", "BTC")
    # values 900·k for the small ones, 90,000 and 45,000: the 90th percentile is 16,200 + 0.1 x 28,800
    large_buy, small_buy = summary.buyers
    large_sell, small_sell = summary.sellers
    assert large_buy.code == "LARGE" and "19,080.00 USDT or more" in large_buy.label
    assert (large_buy.lots, large_buy.value, large_buy.trades) == (
        pytest.approx(1.0),
        pytest.approx(90_000),
        1,
    )
    assert (large_sell.lots, large_sell.value, large_sell.trades) == (
        pytest.approx(0.5),
        pytest.approx(45_000),
        1,
    )
    assert small_buy.value == pytest.approx(900 * 81) and small_buy.trades == 9  # k = 1, 3, ..., 17
    assert small_sell.value == pytest.approx(900 * 90) and small_sell.trades == 9  # k = 2, 4, ..., 18
    assert large_buy.avg_price == pytest.approx(90_000)
    assert summary.top3_ratio == pytest.approx(2.0) and summary.verdict is Verdict.BIG_ACC
    assert summary.net_value == pytest.approx(45_000) and summary.net_volume == pytest.approx(0.5)
    assert summary.foreign_net is None and summary.notes == ()
    assert "large takers stand in for the top brokers" in summary.basis


async def test_a_long_window_is_sampled_evenly_and_says_so(
    fake: FakeBinance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(crypto, "PAGE", 5)  # five trades a page, so the busy hour fills a page
    from core.compute import InlineCompute, Task

    compute = InlineCompute(Settings(_env_file=None))  # the aggregation as the pool runs it: its own call
    summary = await _provider(bandar_crypto_max_trades=10).summary("BTC/USDT", parse_period("2h"), NOW,
                                                                   compute=compute, task=Task(7))  # fmt: skip
    assert compute.ledger.used(7, time.monotonic()) > 0  # on the user's share

    calls = fake.trade_calls()
    start_ms = int(NOW.timestamp() * 1000) - 2 * HOUR_MS
    assert [(int(c["startTime"]) - start_ms, int(c["endTime"]) - start_ms, c["limit"]) for c in calls] == [
        (0, HOUR_MS - 1, "5"),
        (HOUR_MS, 2 * HOUR_MS - 1, "5"),
    ]
    assert sum(p.trades or 0 for p in summary.buyers + summary.sellers) == 5
    [note] = summary.notes
    # the first hour is empty (covered whole); the second fills its page 12.5 min in
    assert note.startswith(
        "sampled: 5 trades read in evenly spaced stretches covering 73 min of the 2.0 h window"
    )


async def test_unknown_pair_and_refusals(fake: FakeBinance) -> None:
    with pytest.raises(NotFound, match="no spot pair NOPEUSDT"):
        await _provider().summary("NOPEUSDT", parse_period("1h"), NOW)
    fake.status = 429
    with pytest.raises(Unavailable, match="limiting requests"):
        await _provider().summary("BTCUSDT", parse_period("1h"), NOW)
    assert (
        len([c for c in fake.calls if c[0] == "/api/v3/exchangeInfo"]) == 1
    )  # the market list is loaded once


async def test_the_service_routes_pairs_to_trades(fake: FakeBinance, sqlite_db: Any) -> None:
    from core.actor import Actor

    settings = Settings(_env_file=None, market_offline=False, bandar_crypto_max_trades=1000)
    service = BandarService(settings, sqlite_db, clock=lambda: NOW)
    summary = await service.summary(Actor(user_id=1), "BTCUSDT")  # 1h by default for crypto
    assert summary.market == "crypto" and summary.verdict is Verdict.BIG_ACC
    offline = BandarService(Settings(_env_file=None, market_offline=True), sqlite_db, clock=lambda: NOW)
    with pytest.raises(Unavailable, match="runs offline"):
        await offline.summary(Actor(user_id=1), "BTCUSDT")
