"""Discord shows the one "something went wrong" text (``core.message.went_wrong``), whether the
command crashed or answering it did."""

from __future__ import annotations

import pytest

from bots.discord import commands as dc
from core import message
from tests.bots.test_went_wrong import crashing_registry


@pytest.fixture
def marked(monkeypatch) -> str:
    monkeypatch.setattr(message, "went_wrong", lambda ref: f"MARKED-{ref}")
    return "MARKED-"


async def test_a_crashing_command_answers_with_the_one_text(core, fake_discord, dk, marked):
    harness = await dk.make_harness(core, crashing_registry(), fake_discord)
    try:
        (response,) = await harness.slash("boom")
    finally:
        await harness.client.close()
    assert response.embeds[0]["title"].startswith(marked)


async def test_a_failure_around_the_command_answers_with_the_one_text(core, fake_discord, dk, marked, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("database exploded")

    monkeypatch.setattr(dc, "actor_of", broken)
    harness = await dk.make_harness(core, crashing_registry(), fake_discord)
    try:
        (response,) = await harness.slash("boom")
    finally:
        await harness.client.close()
    assert response.embeds[0]["title"].startswith(marked) and "exploded" not in str(response.json)
