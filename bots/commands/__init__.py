"""Every chat command, declared once for all transports."""

from __future__ import annotations

from bots.registry import Registry

registry = Registry()


def load() -> Registry:
    """Import the command modules (which register themselves) and return the registry."""
    from bots.commands import account, general, market, models, sharing, strategies  # noqa: F401

    return registry
