"""Every chat command, declared once for all transports."""

from __future__ import annotations

from bots.registry import Registry

registry = Registry()


def load() -> Registry:
    """Import the command modules (which register themselves) and return the registry."""
    from bots.commands import (  # noqa: F401
        account,
        alerts,
        bandar,
        brokers,
        commerce,
        contact,
        deployments,
        general,
        market,
        media,
        models,
        optimize,
        profile,
        profit,
        sharing,
        strategies,
        tokens,
        trades,
    )

    return registry
