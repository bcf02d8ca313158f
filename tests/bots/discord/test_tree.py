"""Every registry command is a slash command with options typed from its arguments."""

from __future__ import annotations

import re

from discord import AppCommandOptionType

from bots.commands import load
from bots.registry import Arg, ArgKind, Registry
from core.market.types import INTERVALS, RANGE_CODES
from core.message import Message

NAME = re.compile(r"^[-_a-z0-9]{1,32}$")


def _payloads(harness) -> dict[str, dict]:
    return {c.name: c.to_dict(harness.client.tree) for c in harness.client.tree.get_commands()}


async def test_every_registry_command_is_in_the_tree_with_its_options(bot):
    registry = load()
    payloads = _payloads(bot)
    assert set(payloads) == {c.name for c in registry}
    for command in registry:
        payload = payloads[command.name]
        assert 1 <= len(payload["description"]) <= 100
        options = {o["name"]: o for o in payload.get("options", [])}
        extra = ({"file"} if command.reads_file else set()) | ({"yes"} if command.confirmable else set())
        assert set(options) == {a.name for a in command.args} | extra, command.name
        if command.reads_file:  # an optional attachment, after the typed options
            assert options["file"]["type"] == AppCommandOptionType.attachment.value and not options["file"]["required"]
        if command.confirmable:  # the typed --yes: an optional boolean
            assert options["yes"]["type"] == AppCommandOptionType.boolean.value and not options["yes"]["required"]
        for arg in command.args:
            option = options[arg.name]
            assert NAME.match(option["name"]) and 1 <= len(option["description"]) <= 100
            assert option["required"] is arg.required
            expected = (
                AppCommandOptionType.integer if arg.kind is ArgKind.INT else AppCommandOptionType.string
            )
            assert option["type"] == expected.value
            assert option.get("autocomplete", False) is (arg.kind is ArgKind.TICKER or arg.suggest is not None)
            if arg.kind is ArgKind.INT:  # ids and pages: Discord refuses 0 and what the database cannot hold
                assert (option["min_value"], option["max_value"]) == (1, 2**31 - 1), command.name
            elif "choices" not in option:  # free text has a length Discord checks as the user types
                assert 1 <= option["max_length"] <= 6000, (command.name, arg.name)
        # where it may be used, declared the current way: servers and the bot's DMs, a server install
        assert payload["contexts"] == [0, 1] and payload["integration_types"] == [0], command.name
        assert "dm_permission" not in payload


async def test_market_options_have_choices_and_autocomplete(bot):
    options = {o["name"]: o for o in _payloads(bot)["market"]["options"]}
    assert options["ticker"]["autocomplete"] is True and options["ticker"]["required"] is True
    assert [c["value"] for c in options["interval"]["choices"]] == list(INTERVALS)
    assert [c["value"] for c in options["range"]["choices"]] == list(RANGE_CODES)
    indicators = options["indicators"]
    assert indicators["type"] == AppCommandOptionType.string.value and "choices" not in indicators
    assert options["ticker"]["max_length"] == 32 and indicators["max_length"] == 200
    assert indicators["required"] is False
    # Discord wants required options first: the ticker leads
    assert _payloads(bot)["market"]["options"][0]["name"] == "ticker"


async def test_awkward_argument_names_and_kinds_map_and_convert(core, fake_discord, dk):
    registry = Registry()
    seen = {}

    @registry.command(
        "mixed",
        "A command with every kind of argument " + "x" * 120,  # summary longer than Discord allows
        Arg("symbol", "a ticker", kind=ArgKind.TICKER),
        Arg("from", "a Python keyword as a name", kind=ArgKind.CHOICE, choices=("buy", "sell")),
        Arg("count", "a whole number", kind=ArgKind.INT, required=False, default=3),
        Arg("names", "several", kind=ArgKind.INDICATOR, many=True, required=False, default=[]),
        Arg("note", "the rest", kind=ArgKind.REST, required=False),
    )
    async def mixed(ctx, **kwargs):
        seen.update(kwargs)
        return Message("ok")

    harness = await dk.make_harness(core, registry, fake_discord)
    payload = _payloads(harness)["mixed"]
    assert len(payload["description"]) == 100
    options = {o["name"]: o for o in payload["options"]}
    assert [c["value"] for c in options["from"]["choices"]] == ["buy", "sell"]
    assert options["count"]["type"] == AppCommandOptionType.integer.value

    calls = await harness.slash("mixed", symbol=" bbca ", **{"from": "sell"}, names="rsi, macd ema:50")
    assert calls[0].json["type"] == 4 and not calls[0].flags
    assert seen == {
        "symbol": "BBCA",
        "from": "sell",
        "count": 3,
        "names": ["rsi", "macd", "ema:50"],
        "note": None,
    }

    await harness.slash("mixed", symbol="BBCA", **{"from": "buy"}, count=7, note="  keep  spaces ")
    assert seen["count"] == 7 and seen["note"] == "  keep  spaces " and seen["names"] == []
    await harness.client.close()
