"""The order core's packages import in: each may import only itself and what is listed before it.

Read top to bottom, every layer builds on the ones above it and never reaches down into one below
(``tests/core/test_layers.py`` enforces it, imports inside functions included). Within a layer the
order is binding too, so no two packages can lean on each other. Where a new package goes is the
first question to ask of it: the lowest layer that holds everything it imports.

Plans and their limits (commerce) sit below deployments because a deployment is gated by its
owner's plan (``core.purchase.limits``); the statistics read deployments and their trades, so they
sit with them, not with commerce.
"""

from __future__ import annotations

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # what every domain stands on: settings, errors, the database, who is asking, CPU work, shared state
    ("foundations", (
        "config", "errors", "redaction", "logging", "text", "labels", "paging", "events", "db", "actor", "compute",
        "state", "message", "notify", "inbound", "outbox",
    )),
    # users, chats and what they chose to receive; the tokens programs act as them with
    ("accounts", ("account", "alerts", "tokens")),
    # prices and how they read (format), what a service needs (services), the script language, drawing
    ("market and script", ("market", "format", "services", "script", "charts")),
    # what a user builds and where it trades: models, strategies, brokers, their backtests and lookups
    ("models and brokers", (
        "broker", "backtest", "strategy", "model", "bandarmology", "simulation", "sharing", "dictionary",
    )),
    # what is sold and what a plan allows; the files and messages a user keeps with us
    ("commerce", ("product", "purchase", "media", "contact")),
    # models running against brokers: the orders and fills they produce, and the figures over them
    ("deployments and trades", ("trade", "deployment", "statistic")),
    # what spans every domain a user touches: linking, merging and deleting an account, its profile;
    # and the wiring of all services together
    ("account lifecycle", ("lifecycle", "app")),
)  # fmt: skip

# Not a domain: this declaration itself.
UNLAYERED = frozenset({"layers"})


def order() -> dict[str, int]:
    """Each package's position in the declared order (lower: imported by more)."""
    names = [name for _, packages in LAYERS for name in packages]
    return {name: i for i, name in enumerate(names)}
