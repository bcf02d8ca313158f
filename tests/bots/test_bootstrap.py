"""The composition root: each application gets its own registry over the declared commands."""

from __future__ import annotations

from bots.bootstrap import build
from bots.commands import load
from core.config import Settings


async def test_each_application_counts_commands_against_its_own_state_not_a_shared_global(tmp_path):
    declared = load()
    limiter_before = declared.rate_limiter
    apps = []
    for n in range(2):
        settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / f'{n}.db'}",
                            market_offline=True, rate_limit_per_minute=n + 5)  # fmt: skip
        apps.append(await build(settings))
    try:
        one, two = apps
        assert one.registry is not two.registry and one.registry is not declared
        assert one.registry.rate_limiter is one.core.state.rate_limits
        assert (one.registry.rate_limiter.per_minute, two.registry.rate_limiter.per_minute) == (5, 6)
        assert declared.rate_limiter is limiter_before  # the declarations are never rewired
        assert {c.name for c in one.registry} == {c.name for c in declared} >= {"market", "close"}
    finally:
        for app in apps:
            await app.close()
