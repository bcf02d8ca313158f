"""The answer to an unexpected failure is written once (``core.message.went_wrong``) and every
transport shows that one text; the Telegram and Discord halves live beside their harnesses
(tests/bots/telegram/test_went_wrong.py, tests/bots/discord/test_went_wrong.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.console.transport import Console
from bots.registry import Registry
from core import message
from core.actor import Actor
from core.message import Message

ROOT = Path(__file__).resolve().parents[2]
TEXT = "Something went wrong (ref "


def test_the_text_is_written_in_one_place():
    found = {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8").count(TEXT)
        for package in ("bots", "core", "jobs")
        for path in (ROOT / package).rglob("*.py")
    }
    assert {path: count for path, count in found.items() if count} == {"core/message.py": 1}
    assert message.went_wrong("abc123") == TEXT + "abc123). It has been logged; please try again later."


@pytest.fixture
def marked(monkeypatch) -> str:
    """``went_wrong`` replaced by a marker: whatever shows it reads the one place."""
    monkeypatch.setattr(message, "went_wrong", lambda ref: f"MARKED-{ref}")
    return "MARKED-"


def crashing_registry() -> Registry:
    registry = Registry()

    @registry.command("boom", "Fails")
    async def boom(ctx) -> Message:
        raise RuntimeError("secret internals")

    return registry


async def test_the_console_shows_the_one_text(marked, tmp_path):
    console = Console(None, Actor(user_id=1), tmp_path, crashing_registry())  # type: ignore[arg-type]
    reply = await console.handle("/boom")
    assert reply.error and reply.text.startswith(marked) and len(reply.text) == len(marked) + 6
    assert "secret" not in reply.text
