"""Two replicas of the bot tick at once, their scripts evaluated by two queue workers
(``COMPUTE=queue`` over the real Redis): every order is still placed exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.broker.pool import BrokerPool
from core.broker.types import BrokerName
from core.compute import open_compute
from core.compute.queue import QueueCompute
from core.deployment.models import Deployment
from core.deployment.tick import Tick
from core.market.service import MarketService
from core.market.types import Source
from core.trade.models import Order, Trade
from tests.core.deployment.kit import (
    LONG_ONLY,
    T0,
    Clock,
    FakeBroker,
    StubSource,
    frame,
    load,
    make_credential,
    make_deployment,
    make_settings,
    make_user,
)

HOUR = timedelta(hours=1)


async def test_two_replicas_on_the_queue_place_each_order_once(db, queue_workers):
    settings = make_settings(compute="queue", compute_cpu_s_per_minute=0, **queue_workers)
    source = StubSource({ticker: frame("gg.") for ticker in ("BTCUSDT", "ETHUSDT", "SOLUSDT")})
    clock = Clock(T0 + 2 * HOUR + timedelta(seconds=3))
    exchange = FakeBroker(name=BrokerName.BINANCE, paper=False)  # one account, shared by both replicas
    deployments = []
    for name in ("alice", "bob"):
        owner = await make_user(db, name)
        credential = await make_credential(db, owner.user_id, broker="Binance", label="main")
        for n, ticker in enumerate(("BTCUSDT", "ETHUSDT", "SOLUSDT")):
            source_text = LONG_ONLY + f"# variant {n}\n"  # distinct scripts: each evaluated on a worker
            deployments.append(await make_deployment(db, owner.user_id, credential, ticker=ticker, source=source_text,
                                                     label=f"m{n}", last_bar_at=T0, size=0.1))  # fmt: skip

    async def factory(_credential_id: int) -> FakeBroker:
        return exchange

    def replica() -> Tick:
        compute = open_compute(settings)  # each replica its own QueueCompute
        assert isinstance(compute, QueueCompute)
        market = MarketService(settings, sources={Source.BINANCE: source}, clock=clock, compute=compute)
        return Tick(db, settings, market, BrokerPool(db, settings, factory))

    first, second = replica(), replica()
    try:
        reports = await asyncio.gather(first.run(clock.now), second.run(clock.now))
    finally:
        await first.market.compute.close()
        await second.market.compute.close()
    assert sum(r.evaluated for r in reports) >= len(deployments)  # both evaluated; the claims decided
    assert sorted(exchange.sent) == sorted(set(exchange.sent)) and len(exchange.sent) == len(deployments)
    orders = await load(db, Order)
    assert sorted(o.deployment_id for o in orders) == sorted(deployments)
    assert {o.status for o in orders} == {"Filled"} and len(await load(db, Trade)) == len(deployments)
    assert {row.status for row in await load(db, Deployment)} == {"OpenPosition"}
    assert sum(r.claimed for r in reports) == len(deployments)  # each bar claimed by one replica

