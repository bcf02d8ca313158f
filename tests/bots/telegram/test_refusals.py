"""Who may run what, where, is the registry's answer (``Registry.refusal``): Telegram asks it
rather than deciding itself, and a refused command never runs."""

from __future__ import annotations

from bots.registry import Registry
from core.message import Message


def group_registry() -> tuple[Registry, list[str]]:
    registry, ran = Registry(), []

    @registry.command("keys", "Private", private_only=True)
    async def keys(ctx) -> Message:
        ran.append("keys")
        return Message("your keys")

    @registry.command("quote", "Anyone")
    async def quote(ctx) -> Message:
        ran.append("quote")
        return Message("a quote")

    return registry, ran


async def test_telegram_sends_the_registry_refusal_and_does_not_run_the_command(make_tg, monkeypatch):
    registry, ran = group_registry()
    asked = []

    def refusal(command, actor):
        asked.append((command.name, actor.is_group))
        return Message.fail("refused by the registry") if command.name == "quote" else None

    monkeypatch.setattr(registry, "refusal", refusal)
    tg = await make_tg(registry)
    (sent,) = await tg.say("/quote", chat=tg.GROUP)
    assert sent.text == "refused by the registry" and ran == []
    (sent,) = await tg.say("/keys", chat=tg.GROUP)  # allowed by this registry, whatever the flag says
    assert sent.text == "your keys" and ran == ["keys"]
    assert asked[:1] == [("quote", True)] and ("keys", True) in asked

