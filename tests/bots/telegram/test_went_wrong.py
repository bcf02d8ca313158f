"""Telegram shows the one "something went wrong" text (``core.message.went_wrong``), whether the
command crashed or the update failed before it ran."""

from __future__ import annotations

import pytest

from bots.telegram import app as tg_app
from core import message
from tests.bots.test_went_wrong import crashing_registry


@pytest.fixture
def marked(monkeypatch) -> str:
    monkeypatch.setattr(message, "went_wrong", lambda ref: f"MARKED-{ref}")
    return "MARKED-"


async def test_a_crashing_command_answers_with_the_one_text(make_tg, marked):
    tg = await make_tg(crashing_registry())
    (sent,) = await tg.say("/boom")
    assert sent.text.startswith(marked) and len(sent.text) == len(marked) + 6


async def test_a_failing_update_answers_with_the_one_text(make_tg, marked, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("database exploded")

    monkeypatch.setattr(tg_app, "actor_for", broken)
    tg = await make_tg(crashing_registry())
    (sent,) = await tg.say("/boom")
    assert sent.text.startswith(marked) and "exploded" not in sent.text
