"""One broker instance per credential for the life of the scheduler.

ccxt exchanges load their markets on first use; building one per tick would repeat that for
every order. The pool builds brokers through ``core.broker.service.get_broker`` (or any factory
given, such as a test's fake) and forgets one whose key was refused, so a reconnected key is
picked up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from core.broker.service import get_broker
from core.broker.types import Broker
from core.config import Settings
from core.db import Database

BrokerFactory = Callable[[int], Awaitable[Broker]]


class BrokerPool:
    def __init__(self, db: Database, settings: Settings, factory: BrokerFactory | None = None) -> None:
        self._db = db
        self._settings = settings
        self._factory = factory
        self._brokers: dict[int, Broker] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def get(self, credential_id: int) -> Broker:
        lock = self._locks.setdefault(credential_id, asyncio.Lock())
        async with lock:
            broker = self._brokers.get(credential_id)
            if broker is None:
                broker = await self._build(credential_id)
                self._brokers[credential_id] = broker
            return broker

    async def _build(self, credential_id: int) -> Broker:
        if self._factory is not None:
            return await self._factory(credential_id)
        return await get_broker(self._db, self._settings, credential_id)

    async def forget(self, credential_id: int) -> None:
        broker = self._brokers.pop(credential_id, None)
        if broker is not None:
            await broker.close()

    async def close(self) -> None:
        brokers, self._brokers = list(self._brokers.values()), {}
        for broker in brokers:
            await broker.close()
