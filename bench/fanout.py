"""Benchmark alert fan-out: 10,000 alerts to distinct Telegram chats, some of them answered with 429.

The alerts go the way the monitoring job sends them (``core.alerts.deliver`` to the
``TelegramNotifier`` of an ``Application`` from ``bots.telegram.app.build_application``, with its
``AIORateLimiter``), 32 at a time, into a recording ``BaseRequest`` that answers
``sendMessage``/``sendPhoto`` like Telegram and answers every Nth call with
``429 Too Many Requests`` and a ``retry_after``. Every chat must receive its alert exactly once.

    .venv/bin/python bench/fanout.py            # real time: about 5.5 min at 30 msg/s
    .venv/bin/python bench/fanout.py --fast     # a virtual clock: seconds

The peer is Telegram's own limit, about 30 messages per second overall (FACTS.md), which the
limiter enforces; the achieved rate is reported against it. ``--fast`` runs the event loop on a
virtual clock: whenever the loop would sleep (the limiter waiting for capacity, a ``retry_after``
being waited out) the clock jumps ahead instead, so the rate is still measured in the limiter's
own time, the 429s are still retried by the same code, and the wall time shows the bot's own
cost per alert.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import selectors
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from telegram.request import BaseRequest, RequestData

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TELEGRAM_RATE = 30.0  # messages per second, overall (FACTS.md, Platforms)
FIRST_CHAT = 10_000_000
MIN_STEP_S = 1e-6  # virtual time one turn of the event loop costs at least
BOT = {"id": 999, "is_bot": True, "first_name": "Stoxlify", "username": "StoxlifyBot"}


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps to the next timer instead of sleeping until it.

    Only a wait with nothing to do is skipped: ready callbacks and I/O run as usual (the selector
    is still polled), and a wait with no timer at all (work in another thread) really blocks.
    Each turn of the loop costs at least ``MIN_STEP_S`` of virtual time, so time always moves.
    """

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(selector=_JumpingSelector(self))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        self._virtual_now += seconds


class _JumpingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    def __init__(self, loop: VirtualClockLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None:
            return super().select(None)
        events = super().select(0)
        if not events:
            # At least a microsecond a turn: a timer due "now" by a rounding error (aiolimiter
            # computes such wake-ups) must see time move, or it re-arms itself for ever.
            self._loop.advance(max(timeout, MIN_STEP_S))
        return events


class FloodRequest(BaseRequest):
    """Answers like Telegram, with a 429 on every ``every``-th send; counts what each chat received."""

    def __init__(self, every: int, retry_after: int) -> None:
        self.every = every
        self.retry_after = retry_after
        self.sends = 0
        self.rate_limited = 0
        self.delivered: Counter[int] = Counter()
        self.photos = 0
        self._message_id = 0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        if name == "getMe":
            return 200, json.dumps({"ok": True, "result": BOT}).encode()
        if name not in ("sendMessage", "sendPhoto"):
            return 200, b'{"ok":true,"result":true}'
        self.sends += 1
        if self.every and self.sends % self.every == 0:
            self.rate_limited += 1
            body = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {self.retry_after}",
                "parameters": {"retry_after": self.retry_after},
            }
            return 429, json.dumps(body).encode()
        chat_id = int(params["chat_id"])
        self.delivered[chat_id] += 1
        self._message_id += 1
        message: dict[str, Any] = {
            "message_id": self._message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "User"},
            "from": BOT,
        }
        if name == "sendPhoto":
            self.photos += 1
            message["photo"] = [{"file_id": "AgAD", "file_unique_id": "AQAD", "width": 1200, "height": 800}]
        else:
            message["text"] = params.get("text", "")
        return 200, json.dumps({"ok": True, "result": message}).encode()


async def _chart() -> bytes:
    """One real alert chart (every photo alert carries these bytes)."""
    from core.charts.candles import render_candles
    from core.config import Settings
    from core.market.service import MarketService

    market = MarketService(Settings(_env_file=None, market_offline=True))
    try:
        return render_candles(await market.candles("BBCA", "1d", "6mo"), max_candles=120)
    finally:
        await market.close()


async def run(alerts: int, every: int, retry_after: int, photo_every: int, workdir: Path) -> dict[str, Any]:
    os.environ["DATABASE_URL"] = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    from bots.commands import load
    from bots.telegram.app import build_application
    from core import alerts as routing
    from core.app import Core
    from core.message import Image, Message
    from core.notify import ChatTarget
    from jobs.monitoring import MAX_CONCURRENT_SENDS

    chart = await _chart() if photo_every else b""
    core = await Core.start()
    request = FloodRequest(every, retry_after)
    app = build_application(
        core, load(), token="123456:BENCH-token", request=request, get_updates_request=FloodRequest(0, 0)
    )
    await app.initialize()
    text = "🔔 BBCA: rsi:14<30 is met\nrsi:14 now 28.41 (vs 30.00)\nPrice 6,875 IDR (-1.23%)"
    chart_button = (("Chart", "/market BBCA"),)
    with_chart = Message.with_commands(text, images=(Image(chart, "BBCA_alert.png"),), commands=chart_button)
    plain = Message.with_commands(text, commands=chart_button)
    gate = asyncio.Semaphore(MAX_CONCURRENT_SENDS)

    async def one(i: int) -> int:
        notice = with_chart if photo_every and i % photo_every == 0 else plain
        async with gate:
            return await routing.deliver(core.notifiers, [ChatTarget("telegram", str(FIRST_CHAT + i))], notice)

    loop = asyncio.get_running_loop()
    wall0, clock0 = time.perf_counter(), loop.time()
    results = await asyncio.gather(*(one(i) for i in range(alerts)))
    clock, wall = loop.time() - clock0, time.perf_counter() - wall0
    await app.shutdown()
    await core.close()
    received = request.delivered
    return {
        "alerts": alerts,
        "delivered": sum(results),
        "chats": len(received),
        "missing": sum(1 for i in range(alerts) if received[FIRST_CHAT + i] == 0),
        "duplicated": sum(1 for n in received.values() if n > 1),
        "rate_limited": request.rate_limited,
        "calls": request.sends,
        "photos": request.photos,
        "clock_s": clock,
        "wall_s": wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=50, help="answer every Nth send with 429 (0: never)")
    parser.add_argument("--retry-after", type=int, default=1, help="the 429's retry_after, seconds")
    parser.add_argument("--photo-every", type=int, default=2, help="every Nth alert carries a chart (0: none)")
    parser.add_argument("--fast", action="store_true", help="virtual clock: skip the waits, keep the pacing")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        job = run(args.alerts, args.every, args.retry_after, args.photo_every, Path(tmp))
        r = asyncio.run(job, loop_factory=VirtualClockLoop) if args.fast else asyncio.run(job)

    rate = r["delivered"] / r["clock_s"] if r["clock_s"] else float("inf")
    ideal = r["alerts"] / TELEGRAM_RATE
    print(
        f"fan-out: {r['alerts']:,} alerts to distinct Telegram chats ({r['photos']:,} with a chart), "
        f"429 retry_after={args.retry_after}s on every {args.every}th send"
    )
    print(
        f"delivered {r['delivered']:,} / {r['alerts']:,} · chats reached {r['chats']:,} · missing {r['missing']} "
        f"· duplicated {r['duplicated']} · 429s {r['rate_limited']:,} (all retried) · sends {r['calls']:,}"
    )
    clock = "simulated (virtual clock)" if args.fast else "real"
    print(
        f"{clock} time {r['clock_s']:,.1f} s -> {rate:.2f} msg/s = {rate / TELEGRAM_RATE:.1%} of Telegram's "
        f"{TELEGRAM_RATE:.0f} msg/s (ideal {ideal:,.1f} s with no 429)"
    )
    own = f" ({r['wall_s'] / r['alerts'] * 1000:.2f} ms of our own work per alert)" if args.fast else ""
    print(f"wall time {r['wall_s']:,.1f} s{own}")
    ok = r["delivered"] == r["alerts"] and r["missing"] == 0 and r["duplicated"] == 0
    print("OK: none lost on 429s, none sent twice" if ok else "FAILED: alerts lost or doubled")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
