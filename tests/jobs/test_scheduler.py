"""The scheduler in the bot process: ticks push alerts with a chart, start-up reconciles, jobs are scheduled."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image

from core.account.models import Chat
from core.app import Core
from core.broker.types import AuthFailed, BrokerName
from core.deployment.executor import Intent, record_intent
from core.deployment.models import Deployment
from core.message import Message
from core.notify import ChatTarget
from core.trade.models import Order
from jobs.scheduler import DeploymentScheduler
from tests.core.deployment.kit import (
    T0,
    Clock,
    FakeBroker,
    StubSource,
    frame,
    load,
    make_credential,
    make_deployment,
    make_market,
    make_settings,
    make_user,
)


class RecordingNotifier:
    platform = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[ChatTarget, Message]] = []

    async def send(self, target: ChatTarget, notice: Message) -> bool:
        self.sent.append((target, notice))
        return True


async def _core(db, clock, frames, **settings):
    values = {"tick_every_s": 3600, "reconcile_every_s": 3600, **settings}
    config = make_settings(**values)
    notifier = RecordingNotifier()
    core = Core(settings=config, db=db, market=make_market(config, StubSource(frames), clock), notifiers={"telegram": notifier})
    return core, notifier


async def _until(done, timeout_s: float = 5.0) -> None:
    import asyncio

    for _ in range(int(timeout_s / 0.01)):
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


def _factory(broker):
    async def factory(_credential_id: int):
        return broker

    return factory


async def test_a_fill_is_pushed_to_the_owner_and_the_group_with_a_chart_of_the_signal_bar(sqlite_db):
    clock = Clock(T0 + 3 * timedelta(hours=1) + timedelta(seconds=20))
    core, notifier = await _core(sqlite_db, clock, {"BTCUSDT": frame("rrg.")})
    actor = await make_user(sqlite_db)
    credential = await make_credential(sqlite_db, actor.user_id)
    dep = await make_deployment(sqlite_db, actor.user_id, credential, last_bar_at=T0 + timedelta(hours=2), label="ema")
    async with sqlite_db.session() as session:
        group = Chat(platform="telegram", external_id="-100200", title="traders", is_group=True)
        session.add(group)
        await session.flush()
        (await session.get(Deployment, dep)).notify_chat_id = group.id
    scheduler = DeploymentScheduler(core, _factory(FakeBroker()), clock)
    report = await scheduler.tick()
    assert report is not None and report.orders == 1
    await scheduler.deliver_alerts()  # the tick queued them; its delivery task may still be sending
    chats = sorted(target.chat_id for target, _ in notifier.sent)
    assert chats == sorted([actor.platform_user_id, "-100200"])
    notice = notifier.sent[0][1]
    assert notice.text.startswith(f"ema #{dep} · BTCUSDT 1h\nBought ") and "fee" in notice.text
    [image] = notice.images
    assert Image.open(io.BytesIO(image.data)).format == "PNG"
    assert notifier.sent[1][1].images[0].data == image.data  # rendered once for both chats
    await scheduler.stop()


async def test_a_refused_key_alert_offers_resume(sqlite_db):
    clock = Clock(T0 + 2 * timedelta(hours=1))
    core, notifier = await _core(sqlite_db, clock, {"BTCUSDT": frame("gg")})
    actor = await make_user(sqlite_db)
    credential = await make_credential(sqlite_db, actor.user_id, "Binance", "bin")
    dep = await make_deployment(sqlite_db, actor.user_id, credential, last_bar_at=T0 + timedelta(hours=1))
    scheduler = DeploymentScheduler(
        core, _factory(FakeBroker(create_errors=[AuthFailed("key revoked")], name=BrokerName.BINANCE, paper=False)), clock
    )
    await scheduler.tick()
    await scheduler.deliver_alerts()
    [(_, notice)] = notifier.sent
    assert "Paused" in notice.text and "key revoked" in notice.text
    assert ("Resume", f"/resume {dep}") in notice.commands
    await scheduler.stop()


async def test_start_reconciles_orders_left_by_a_crash_and_schedules_the_jobs(sqlite_db):
    clock = Clock(T0 + 5 * timedelta(hours=1))
    core, notifier = await _core(sqlite_db, clock, {"BTCUSDT": frame("ggggg")})
    actor = await make_user(sqlite_db)
    credential = await make_credential(sqlite_db, actor.user_id)
    dep = await make_deployment(sqlite_db, actor.user_id, credential, last_bar_at=T0)
    bar = T0 + timedelta(hours=1)
    intent = Intent(dep, actor.user_id, credential, "Paper", "BTC/USDT", "buy", 1.0, 100.0, bar, "signal", "buy")
    await record_intent(sqlite_db, intent)  # recorded, then the process died before sending
    broker = FakeBroker()
    scheduler = DeploymentScheduler(core, _factory(broker), first_reconcile_after_s=0.05)
    await scheduler.start()
    try:
        assert broker.sent == []  # start does not wait on the exchange: the reconciliation is a job
        await _until(lambda: any("Bought 1" in n.text for _, n in notifier.sent))
        assert broker.sent == [intent.client_order_id]
        assert [o.status for o in await load(sqlite_db, Order)] == ["Filled"]
        jobs = {job.id for job in scheduler._scheduler.get_jobs()}
        assert jobs == {"deployments.tick", "deployments.reconcile", "watches", "payments", "alerts"}
        assert any("Bought 1" in n.text for _, n in notifier.sent)
    finally:
        await scheduler.stop()
    assert scheduler._scheduler is None


def test_alerts_show_amounts_as_their_currency_does():
    from core.deployment.executor import Outcome
    from core.deployment.tick import Event, SeriesKey
    from jobs.ticks import event_text

    idr = Outcome(1, 2, 3, "Filled", "sell", "BBCA.JK", 100.0, 7125.0, fee=21.375, pnl=12500.0)
    text = event_text(Event("filled", 2, 3, "ema", SeriesKey("yfinance", "BBCA", "1d"), None, outcome=idr))
    assert "Sold 100 BBCA.JK at 7,125, fee 21\nP&L +12,500" in text
    usdt = Outcome(1, 2, 3, "Filled", "buy", "BTC/USDT", 0.01, 91002.49, fee=0.91)
    text = event_text(Event("filled", 2, 3, "ema", SeriesKey("binance", "BTCUSDT", "1h"), None, outcome=usdt))
    assert "Bought 0.01 BTC/USDT at 91,002.49, fee 0.91" in text


async def test_reconcile_outcomes_use_the_ticks_event_kinds(sqlite_db):
    from core.deployment.executor import Outcome
    from jobs.ticks import outcome_events

    clock = Clock(T0)
    core, _ = await _core(sqlite_db, clock, {})
    actor = await make_user(sqlite_db)
    credential = await make_credential(sqlite_db, actor.user_id)
    dep = await make_deployment(sqlite_db, actor.user_id, credential)
    outcomes = [
        Outcome(1, dep, actor.user_id, "Filled", "buy", "BTC/USDT", 1.0),
        Outcome(2, dep, actor.user_id, "Sent", "buy", "BTC/USDT", 1.0),  # not settled: no alert yet
        Outcome(3, dep, actor.user_id, "Failed", "buy", "BTC/USDT", 1.0, paused=(dep,)),
        Outcome(4, dep, actor.user_id, "Canceled", "buy", "BTC/USDT", 1.0),
    ]
    assert [e.kind for e in await outcome_events(core, outcomes)] == ["filled", "paused", "failed"]
