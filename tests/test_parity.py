"""Chat and HTTP cover the same specification: every operation of the Stoxlify Core API
(``docs/spec/stoxlify-core-api.txt``) is exactly one HTTP route, named with the operation's own
summary, and exactly one chat command, which declares it (``operations=`` in the registry).

A new operation in the specification, a route renamed, or a command dropped fails here first,
before a user finds one transport missing what the other offers.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from api.app import create_app
from bots.commands import load
from core.app import Core
from core.config import Settings
from core.db import Database
from core.market.service import MarketService

SPEC = Path(__file__).resolve().parents[1] / "docs" / "spec" / "stoxlify-core-api.txt"
# What an operation's block holds after its title (and description), up to its last part, Responses.
_PARTS = ("Request Body schema", "query Parameters", "path Parameters", "Responses")
# One operation, one value per command in chat: /pause (Paused), /resume (NoPosition or OpenPosition) and
# /stop (TaskCanceled, behind its confirmation) are each Update Status Deployment with one status.
SPLIT = {"Update Status Deployment": {"pause", "resume", "stop"}}


def _is_title(line: str) -> bool:
    """An operation's or a domain's heading: every word capitalised (descriptions are sentences)."""
    words = line.split()
    return 0 < len(line) < 60 and all(w[0].isupper() for w in words) and not line.isupper()


def spec_operations(text: str) -> list[str]:
    """The operations' summaries, in the specification's order.

    The specification is the text of its rendered reference: per domain a heading, then per
    operation its title, a description, its parameters or body, ``Responses`` and, for a body,
    ``Request samples`` closed by a ``}`` at the start of a line. The title is the last heading
    before the operation's first part (a domain heading may come before it).
    """
    found: list[str] = []
    before: list[str] = []
    state = "heading"
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if state == "heading":
            if line.startswith(_PARTS):
                found.append([c for c in before if _is_title(c)][-1])
                state = "after" if line == "Responses" else "operation"
            else:
                before.append(line)
        elif state == "operation":
            state = "after" if line == "Responses" else state
        elif state == "after":
            before, state = ([], "sample") if line == "Request samples" else ([line], "heading")
        elif raw.rstrip() == "}":  # the end of a request sample
            state = "heading"
    return found


OPERATIONS = spec_operations(SPEC.read_text(encoding="utf-8"))


def test_the_specification_is_read_whole():
    assert len(OPERATIONS) == len(set(OPERATIONS)) == 38
    assert OPERATIONS[:3] == ["Retrieve User Account", "Delete User Account", "Edit User Account"]
    assert {"Purchase", "Market Monitoring Status", "Retrieve Trades"} <= set(OPERATIONS)


@cache
def _routes() -> Counter[str]:
    """How many routes carry each summary in the app's own OpenAPI document."""
    settings = Settings(_env_file=None, database_url="sqlite+aiosqlite://", market_offline=True)
    app = create_app(Core(settings=settings, db=Database(settings.database_url), market=MarketService(settings)))
    paths = app.openapi()["paths"]
    return Counter(op.get("summary") for ops in paths.values() for op in ops.values())


@pytest.mark.parametrize("operation", OPERATIONS)
def test_each_operation_is_one_http_route(operation):
    assert _routes()[operation] == 1, f"{operation!r}: {_routes()[operation]} routes carry this summary"


@pytest.mark.parametrize("operation", OPERATIONS)
def test_each_operation_is_one_chat_command(operation):
    commands = {c.name for c in load() if operation in c.operations}
    if operation in SPLIT:
        assert commands == SPLIT[operation]
    else:
        assert len(commands) == 1, f"{operation!r} is declared by {sorted(commands) or 'no command'}"


def test_commands_declare_only_operations_the_specification_has():
    declared = {op for c in load() for op in c.operations}
    assert declared <= set(OPERATIONS), declared - set(OPERATIONS)

