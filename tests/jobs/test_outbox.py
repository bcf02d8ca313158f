"""Alerts are queued durably and sent by their own task: a slow chat never holds up the next tick's
orders, a restart loses none, a failing send is retried, and two replicas send each alert once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.app import Core
from core.message import Message
from core.notify import ChatTarget
from core.outbox import OutboxMessage, deliver_due, enqueue, pending
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

HOUR = timedelta(hours=1)


class Chat:
    """A notifier that records, and can hang (a chat that does not answer) or fail."""

    platform = "telegram"

    def __init__(self, *, hang: bool = False, failures: int = 0) -> None:
        self.sent: list[tuple[ChatTarget, Message]] = []
        self.release = asyncio.Event()
        self.hang = hang
        self.failures = failures

    async def send(self, target: ChatTarget, notice: Message) -> bool:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("chat unreachable")
        if self.hang:
            await self.release.wait()
        self.sent.append((target, notice))
        return True


async def _setup(db, notifiers: dict):
    settings = make_settings(tick_every_s=3600, reconcile_every_s=3600)
    clock = Clock(T0 + 2 * HOUR + timedelta(seconds=3))
    source = StubSource({"BTCUSDT": frame("rgrgrg.")})
    core = Core(settings=settings, db=db, market=make_market(settings, source, clock), notifiers=notifiers)
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    await make_deployment(db, actor.user_id, credential, last_bar_at=T0 + HOUR)

    async def factory(_credential_id: int):
        return FakeBroker()

    return core, clock, factory


async def test_a_slow_chat_does_not_hold_up_the_next_ticks_orders(sqlite_db):
    chat = Chat(hang=True)
    core, clock, factory = await _setup(sqlite_db, {"telegram": chat})
    scheduler = DeploymentScheduler(core, factory, clock)
    try:
        first = await scheduler.tick()  # bought; its alert is being sent to a chat that hangs
        assert first is not None and first.orders == 1
        clock.now += HOUR
        second = await scheduler.tick()  # the next candle's sell goes out regardless
        assert second is not None and second.orders == 1
        assert [o.side for o in await load(sqlite_db, Order)] == ["buy", "sell"]
        assert chat.sent == [] and await pending(sqlite_db) == 2
        chat.release.set()
        await scheduler.deliver_alerts()
        assert [n.text.splitlines()[1].split()[0] for _, n in chat.sent] == ["Bought", "Sold"]
        assert await pending(sqlite_db) == 0
    finally:
        chat.release.set()
        await scheduler.stop()


async def test_alerts_queued_before_a_restart_are_sent_after_it(sqlite_db):
    core, clock, factory = await _setup(sqlite_db, {})  # no transport up: nothing can be sent yet
    before = DeploymentScheduler(core, factory, clock)
    await before.tick()
    await before.deliver_alerts()
    await before.stop()
    assert await pending(sqlite_db) == 1

    chat = Chat()
    core.notifiers["telegram"] = chat  # the process came back with its transport
    after = DeploymentScheduler(core, factory, clock)
    assert await after.deliver_alerts() == 1
    [(_, notice)] = chat.sent
    assert "Bought" in notice.text and notice.images and notice.commands == (("Deployments", "/deployments"),)
    await after.stop()


async def test_a_failed_send_is_retried_later_and_a_refused_one_is_not_repeated(db):
    chat = Chat(failures=1)
    target = ChatTarget("telegram", "42")
    await enqueue(db, [target], Message.with_commands("hello"))
    assert await deliver_due(db, {"telegram": chat}) == 0
    [row] = await load(db, OutboxMessage)
    assert row.attempts == 1 and row.sent_at is None and "ConnectionError" in row.error
    assert await deliver_due(db, {"telegram": chat}) == 0  # not due yet: backing off
    assert await deliver_due(db, {"telegram": chat}, now=row.due_at + timedelta(seconds=1)) == 1
    assert [n.text for _, n in chat.sent] == ["hello"]

    class Blocked:
        async def send(self, target, notice) -> bool:
            return False  # the user blocked the bot: the platform refuses for good

    await enqueue(db, [target], Message.with_commands("again"))
    assert await deliver_due(db, {"telegram": Blocked()}) == 0
    assert await pending(db) == 0  # kept as undeliverable, never sent again
    assert await deliver_due(db, {"telegram": chat}) == 0


async def test_two_replicas_send_each_alert_once(db, db_backend):
    from core.db import Database

    targets = [ChatTarget("telegram", str(n)) for n in range(30)]
    await enqueue(db, targets, Message.with_commands("signal"))
    url, options = db_backend
    other = Database(url, engine_options=options)
    one, two = Chat(), Chat()
    try:
        counts = await asyncio.gather(deliver_due(db, {"telegram": one}), deliver_due(other, {"telegram": two}))
    finally:
        await other.dispose()
    assert sum(counts) == 30
    assert sorted(t.chat_id for t, _ in one.sent + two.sent) == sorted(t.chat_id for t in targets)
