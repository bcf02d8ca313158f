"""The token lookup behind every request: many connections of one client missing together read once."""

from __future__ import annotations

import asyncio

import api.auth
from api.auth import Grants
from core.account.service import actor_for
from core.app import Core
from core.config import Settings
from core.market.service import MarketService
from core.tokens.service import Scope, create_token, revoke_token


async def test_concurrent_requests_with_one_token_read_it_once(db, monkeypatch):
    settings = Settings(_env_file=None, market_offline=True)
    core = Core(settings=settings, db=db, market=MarketService(settings))
    actor = await actor_for(db, platform="console", external_id="g1", display_name="Gina")
    token = await create_token(db, settings, actor, "dash", Scope.READ)
    reads = 0
    real = api.auth.authenticate

    async def counted(database, secret):
        nonlocal reads
        reads += 1
        return await real(database, secret)

    monkeypatch.setattr(api.auth, "authenticate", counted)
    grants = Grants()
    callers = await asyncio.gather(*(grants.caller(core, token.secret) for _ in range(50)))
    assert reads == 1
    assert {c.actor.user_id for c in callers} == {actor.user_id} and callers[0].actor.display_name == "Gina"

    await revoke_token(db, actor, "dash")  # a revocation empties the cache: the next request reads again
    assert await asyncio.gather(*(grants.caller(core, token.secret) for _ in range(5))) == [None] * 5
    assert reads == 2
    await core.market.close()
