"""A newcomer sees a trade in the first minutes, offline: /start's path on the live sample market.

No configuration but a fresh SQLite file: the sample market continues in real time (here a
simulated clock, minute by minute), the model /start offers is saved and deployed on BTCUSDT 1m
as /start says, and the deployment tick, run each minute, buys on the paper account and later
sells, each alert printed into the console chat with its chart.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bots.console.notifier import ConsoleNotifier
from bots.console.transport import Console
from core.app import Core
from core.config import Settings
from core.trade.models import Order
from jobs.scheduler import DeploymentScheduler

START = datetime(2026, 12, 7, 10, 0, 5, tzinfo=UTC)  # after the last shipped bar: the live sample feed
MINUTES = 120  # the most simulated minutes a newcomer should wait for a buy and then a sell


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def newcomer(tmp_path, monkeypatch):
    clock = Clock(START)
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        market_offline=True,
        sample_live=True,
    )
    core = await Core.start(settings)
    core.market._clock = clock  # the market's "now": the live sample feed serves bars up to it
    monkeypatch.setattr("core.deployment.service.utcnow", clock)
    stream = io.StringIO()
    core.notifiers["console"] = ConsoleNotifier(tmp_path / "alerts", stream)
    try:
        yield await Console.open(core, tmp_path / "out"), clock, stream
    finally:
        await core.close()


def _commands(welcome: str) -> tuple[str, str]:
    """The model script and the /deploy line that /start shows, exactly as shown."""
    lines = welcome.splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip().startswith("/model save"))
    script = [lines[first].strip()]
    for line in lines[first + 1 :]:
        if not line.startswith("    ") or not line.strip():
            break
        script.append(line.strip())
    deploy = next(line.strip() for line in lines if line.strip().startswith("/deploy "))
    return "\n".join(script), deploy.split("  ")[0]


async def test_start_path_buys_then_sells_within_minutes_on_the_sample_market(newcomer):
    console, clock, stream = newcomer
    welcome = await console.handle("/start")
    script, deploy = _commands(welcome.text)
    assert deploy == "/deploy first BTCUSDT 1m"

    saved = await console.handle(script)
    assert not saved.error, saved.text
    deployed = await console.handle(deploy)
    assert not deployed.error, deployed.text
    assert "paper" in deployed.text

    scheduler = DeploymentScheduler(console.core, clock=clock)
    kinds: list[tuple[str, str]] = []
    minutes: list[int] = []
    try:
        for minute in range(1, MINUTES + 1):
            clock.now = START + timedelta(minutes=minute)
            report = await scheduler.tick()
            assert report is not None
            await scheduler.deliver_alerts()
            acted = [(e.kind, e.decision.side) for e in report.events if e.decision is not None]
            kinds += acted
            minutes += [minute] * len(acted)
            errors = [e.outcome.error for e in report.events if e.outcome is not None and e.outcome.error]
            assert not errors, errors
            if ("filled", "sell") in kinds:
                break
    finally:
        await scheduler.stop()

    assert kinds[:2] == [("filled", "buy"), ("filled", "sell")], kinds
    print(f"bought after {minutes[0]} min, sold after {minutes[1]} min")  # shown with -s
    async with console.core.db.session() as session:
        sides = [o.side for o in await session.scalars(select(Order).order_by(Order.id))]
    assert sides == ["buy", "sell"]

    out = stream.getvalue()  # what the newcomer's console chat printed
    alerts = [block for block in out.split("\n[alert for ") if block.strip()]
    assert len(alerts) == 2
    assert "first #1 · BTCUSDT 1m" in alerts[0] and "\nBought " in alerts[0] and "[image]" in alerts[0]
    assert "\nSold " in alerts[1] and "[image]" in alerts[1]


async def test_the_sample_market_moves_every_minute(newcomer):
    console, clock, _ = newcomer
    first = await console.core.market.candles("BTCUSDT", "1m")
    clock.now = START + timedelta(minutes=3)
    later = await console.core.market.candles("BTCUSDT", "1m")
    assert first.sample and later.sample and first.provider == "Sample data"
    assert later.frame.index[-1] - first.frame.index[-1] == timedelta(minutes=3)
    assert later.frame.index[-1] == clock.now.replace(second=0)  # the bar forming now
    shared = first.frame.index[-5:]
    assert later.frame.loc[shared].equals(first.frame.loc[shared])  # bars never change once drawn
