"""Slash commands, autocomplete and button presses through the real discord.py client."""

from __future__ import annotations

import asyncio

import discord
import pytest

from bots.discord import commands as discord_commands
from bots.discord.render import ERROR_COLOUR
from bots.registry import Arg, ArgKind, Registry
from core.message import Button, Image, Message

PNG = b"\x89PNG\r\n\x1a\n"
EPHEMERAL = 64
IS_COMPONENTS_V2 = 1 << 15


def _callback_types(calls) -> list[int]:
    return [c.json["type"] for c in calls if c.path.endswith("/callback")]


async def test_market_defers_then_follows_up_with_chart_and_owned_buttons(bot, dk):
    calls = await bot.slash("market", ticker="bbca", interval="1d", indicators="rsi macd")
    defer, followup = calls
    assert defer.via == "webhook" and defer.path.endswith("/callback")
    assert defer.json == {"type": 5}  # thinking, public
    assert followup.method == "POST" and followup.path == f"/webhooks/{dk.APP_ID}/{defer.path.split('/')[3]}"
    assert not followup.flags & EPHEMERAL
    # a quote with its chart is a card (IS_COMPONENTS_V2): a container of the figures (text display),
    # the chart (media gallery) and the interval buttons, and no embed or content beside it
    assert followup.flags & IS_COMPONENTS_V2 and "embeds" not in followup.json and "content" not in followup.json
    [card] = followup.components
    assert card["type"] == 17 and card["accent_color"] != ERROR_COLOUR.value
    kinds = [c["type"] for c in card["components"]]
    assert kinds[:3] == [10, 12, 14] and set(kinds[3:]) == {1}  # text, gallery, separator, button rows
    heading, _, figures = card["components"][0]["content"].partition("\n")
    assert heading.startswith("### BBCA") and "RSI" in figures and "MACD" in figures
    ((name, data),) = followup.files
    [item] = card["components"][1]["items"]
    assert data.startswith(PNG) and item["media"]["url"] == f"attachment://{name}" and "BBCA" in item["description"]
    assert [a["filename"] for a in followup.json["attachments"]] == [name]
    dk.check_card_limits(followup.json)
    tokens = followup.custom_ids
    assert tokens and all(t.startswith("b:") for t in tokens)
    store = bot.client.runtime.buttons
    lines = [await store.resolve(t, str(dk.OWNER_ID)) for t in tokens]
    assert "/market BBCA 1w rsi macd" in lines
    labels = [c["label"] for c in followup.buttons]
    assert "1w" in labels and "1d" not in labels


async def test_argument_error_answers_privately_with_usage(bot):
    calls = await bot.slash("market", ticker="BBCA", indicators="rsii")
    assert _callback_types(calls) == [5]
    # the public "thinking…" placeholder is removed and the error goes to the asker alone
    assert [c.method for c in calls[1:]] == ["DELETE", "POST"]
    error = calls[-1]
    assert error.flags & EPHEMERAL
    text = error.embeds[0]["title"] + error.embeds[0].get("description", "")
    assert "rsii" in text and "Usage: /market TICKER" in text
    assert error.embeds[0]["color"] == ERROR_COLOUR.value
    assert "Traceback" not in text


async def test_quick_command_error_is_a_direct_ephemeral_response(bot):
    calls = await bot.slash("help", command="nosuch")
    (response,) = calls
    assert response.json["type"] == 4 and response.flags & EPHEMERAL
    assert "no command or group 'nosuch'" in response.embeds[0]["title"]


async def test_unexpected_failure_shows_a_reference_not_a_trace(core, fake_discord, dk):
    registry = Registry()

    @registry.command("boom", "Fails")
    async def boom(ctx):
        raise RuntimeError("secret internals")

    harness = await dk.make_harness(core, registry, fake_discord)
    (response,) = await harness.slash("boom")
    title = response.embeds[0]["title"]
    assert title.startswith("Something went wrong (ref ") and "secret" not in str(response.json)
    assert response.flags & EPHEMERAL
    await harness.client.close()


async def test_ticker_autocomplete_offers_matching_symbols(bot, dk):
    data = dk.slash("market")
    data["options"] = [{"name": "ticker", "type": 3, "value": "bank", "focused": True}]
    (response,) = await bot.send(dk.interaction_payload(4, data))
    assert response.json["type"] == 8
    choices = response.json["data"]["choices"]
    assert "BBCA" in [c["value"] for c in choices]
    assert all(len(c["name"]) <= 100 for c in choices) and len(choices) <= 25

    data["options"][0]["value"] = "b"  # too short to search: no suggestions, no error
    (response,) = await bot.send(dk.interaction_payload(4, data))
    assert response.json == {"type": 8, "data": {"choices": []}}


async def test_ticker_autocomplete_hook_puts_own_suggestions_first(bot, dk):
    async def mine(runtime, interaction, current):
        return [discord_commands.Choice(name="My model: BBCA swing", value="BBCA")]

    bot.client.runtime.ticker_suggesters.insert(0, mine)
    data = dk.slash("market")
    data["options"] = [{"name": "ticker", "type": 3, "value": "bank", "focused": True}]
    (response,) = await bot.send(dk.interaction_payload(4, data))
    values = [c["value"] for c in response.json["data"]["choices"]]
    assert values[0] == "BBCA" and values.count("BBCA") == 1
    assert response.json["data"]["choices"][0]["name"] == "My model: BBCA swing"


async def test_owner_press_re_renders_the_message_in_place(bot, dk, fake_discord):
    _, followup = await bot.slash("market", ticker="BBCA", interval="1d", indicators="rsi")
    message = followup.response
    weekly = next(c["custom_id"] for c in followup.buttons if c["label"] == "1w")

    calls = await bot.press(message, weekly)
    assert _callback_types(calls) == [6]  # deferred update: the chart takes a moment
    (edit,) = [c for c in calls if c.method == "PATCH"]
    assert edit.path.endswith("/messages/@original")
    # the card is re-rendered as a card: the flag is set, the legacy fields cleared as Discord asks
    assert edit.flags & IS_COMPONENTS_V2 and edit.json["embeds"] == [] and edit.json["content"] is None
    assert "BBCA" in edit.text and "1w" in edit.text
    ((name, data),) = edit.files
    gallery = [item["media"]["url"] for c in edit.walk() if c["type"] == 12 for item in c["items"]]
    assert data.startswith(PNG) and gallery == [f"attachment://{name}"]
    assert len(edit.json["attachments"]) == 1  # the old chart is replaced, not kept
    dk.check_card_limits(edit.json)
    labels = [c["label"] for c in edit.buttons]
    assert "1d" in labels and "1w" not in labels
    assert not [c for c in calls if c.method == "POST" and not c.path.endswith("/callback")]


async def test_quick_command_press_edits_with_an_update_response(core, fake_discord, dk):
    registry = Registry()

    @registry.command("count", "Counts", Arg("n", "a number", kind=ArgKind.INT))
    async def count(ctx, n):
        if n > 2:
            return Message.fail("that is enough counting")
        return Message(f"Count {n}", buttons=[[Button("next", f"/count {n + 1}")]])

    harness = await dk.make_harness(core, registry, fake_discord)
    (first,) = await harness.slash("count", n=1)
    message = fake_discord.message(first.json["data"])
    (update,) = await harness.press(message, first.custom_ids[0])
    assert update.json["type"] == 7 and update.json["data"]["embeds"][0]["title"] == "Count 2"
    assert update.custom_ids and update.custom_ids != first.custom_ids

    # a failure on a press goes to the presser alone and leaves the message as it was
    message = fake_discord.message(update.json["data"])
    (failure,) = await harness.press(message, update.custom_ids[0])
    assert failure.json["type"] == 4 and failure.flags & EPHEMERAL
    assert failure.embeds[0]["title"] == "that is enough counting"
    await harness.client.close()


async def test_someone_elses_press_is_refused_privately(bot, dk):
    _, followup = await bot.slash("market", ticker="BBCA", interval="1d")
    calls = await bot.press(followup.response, followup.custom_ids[0], user_id=dk.OTHER_ID)
    (refusal,) = calls
    assert refusal.json["type"] == 4 and refusal.flags & EPHEMERAL
    assert "belongs to the person who asked" in refusal.embeds[0]["title"]


async def test_expired_button_says_so(bot, dk, fake_discord):
    message = fake_discord.message(
        {
            "components": [
                {
                    "type": 1,
                    "components": [{"type": 2, "style": 2, "label": "x", "custom_id": "b:gone12345678"}],
                }
            ]
        }
    )
    (answer,) = await bot.press(message, "b:gone12345678")
    assert answer.flags & EPHEMERAL and "expired" in answer.embeds[0]["title"]


@pytest.fixture
async def private_bot(core, fake_discord, dk):
    registry = Registry()

    @registry.command("keys", "Your broker keys", private_only=True)
    async def keys(ctx):
        return Message(f"Keys of {ctx.actor.display_name}\nbinance: ****1234")

    @registry.command("settings", "Change this group's settings", admin_only=True)
    async def settings(ctx):
        return Message("Group settings changed")

    harness = await dk.make_harness(core, registry, fake_discord)
    try:
        yield harness
    finally:
        await harness.client.close()


async def test_private_only_command_answers_ephemerally(private_bot):
    (response,) = await private_bot.slash("keys", guild=False)
    assert response.json["type"] == 4 and response.flags & EPHEMERAL
    assert response.embeds[0]["title"] == "Keys of Owner"

    (refused,) = await private_bot.slash("keys")  # in a guild channel: refused, privately
    assert refused.flags & EPHEMERAL and "works only in a private chat" in refused.embeds[0]["title"]


@pytest.mark.parametrize(
    ("permissions", "allowed"),
    [
        (0, False),
        (1 << 11, False),
        (1 << 5, True),
        (1 << 3, True),
    ],  # send messages; manage guild; administrator
)
async def test_admin_only_command_checks_the_members_permissions(private_bot, permissions, allowed):
    (response,) = await private_bot.slash("settings", permissions=permissions)
    title = response.embeds[0]["title"]
    if allowed:
        assert title == "Group settings changed" and not response.flags & EPHEMERAL
    else:
        assert "only this group's admins" in title and response.flags & EPHEMERAL


async def test_admin_only_command_is_hidden_from_non_admins_by_default(private_bot):
    tree = private_bot.client.tree
    payloads = {c.name: c.to_dict(tree) for c in tree.get_commands()}
    assert int(payloads["settings"]["default_member_permissions"]) == 1 << 5
    assert payloads["keys"]["default_member_permissions"] is None


async def test_admin_only_command_works_in_a_dm(private_bot):
    (response,) = await private_bot.slash("settings", guild=False)
    assert response.embeds[0]["title"] == "Group settings changed"


async def test_slow_quick_command_defers_before_the_deadline(core, fake_discord, dk, monkeypatch):
    monkeypatch.setattr(discord_commands, "DEFER_AFTER_S", 0.05)
    registry = Registry()

    @registry.command("slow", "Takes its time")
    async def slow(ctx):
        await asyncio.sleep(0.3)
        return Message("Done")

    harness = await dk.make_harness(core, registry, fake_discord)
    defer, followup = await harness.slash("slow")
    assert defer.json == {"type": 5}
    assert followup.method == "POST" and followup.embeds[0]["title"] == "Done"
    await harness.client.close()


async def test_long_reply_continues_in_follow_up_messages(core, fake_discord, dk):
    registry = Registry()

    @registry.command("long", "A long reply")
    async def long(ctx):
        return Message("Report\n" + "\n".join(f"line {i} " + "x" * 80 for i in range(120)))

    harness = await dk.make_harness(core, registry, fake_discord)
    first, *more = await harness.slash("long")
    assert first.json["type"] == 4 and more and all(c.method == "POST" for c in more)
    described = [first.embeds[0]["description"], *(c.embeds[0]["description"] for c in more)]
    assert all(len(d) <= 4096 for d in described)
    assert "line 0 " in described[0] and "line 119 " in described[-1]
    await harness.client.close()


async def test_the_actor_is_recorded_with_its_discord_chat(bot, dk):
    from sqlalchemy import select

    from core.account.models import Chat, Identity

    await bot.slash("help", command="market")
    async with bot.client.runtime.core.db.session() as session:
        identity = (await session.scalars(select(Identity))).one()
        chat = (await session.scalars(select(Chat))).one()
    assert (identity.platform, identity.external_id) == ("discord", str(dk.OWNER_ID))
    assert (chat.external_id, chat.is_group) == (str(dk.CHANNEL_ID), True)


async def test_model_save_without_script_opens_a_form_and_saving_it_stores_the_model(bot, dk, monkeypatch):
    monkeypatch.setattr(discord_commands, "MODAL_TIMEOUT_S", None)  # no timeout task for the harness to wait on
    calls = await bot.slash("model", action="save", name="cross")
    [modal] = [c for c in calls if c.path.endswith("/callback")]
    assert modal.json["type"] == 9  # MODAL
    form = modal.json["data"]
    assert form["title"].startswith("/model save cross")
    label, upload = form["components"]  # Labels (type 18): the text input, then a File Upload (type 19)
    assert upload["component"]["type"] == 19
    text_input = label["component"]
    assert label["type"] == 18 and label["label"] == "Script" and not text_input.get("label")
    assert text_input["style"] == 2 and text_input["max_length"] == 4000  # a paragraph

    script = "fast = sma(close, 10)\nslow = sma(close, 30)\nbuy = crossover(fast, slow)\nsell = crossunder(fast, slow)"
    submit = {
        "custom_id": form["custom_id"],
        "components": [{"type": 18, "component": {"type": 4, "custom_id": text_input["custom_id"], "value": script}}],
    }
    calls = await bot.send(dk.interaction_payload(5, submit))
    [answer] = [c for c in calls if c.path.endswith("/callback")]
    assert "Saved model 'cross' (long-only)." in answer.embeds[0]["title"] + answer.embeds[0].get("description", "")

    shown = await bot.slash("model", action="show", name="cross")
    body = " ".join(e.get("title", "") + e.get("description", "") for c in shown for e in c.embeds)
    assert "buy = crossover(fast, slow)" in body


async def test_run_autocompletes_the_users_own_model_names(bot, dk):
    from core.account.service import actor_for
    from core.model.service import ModelRequest, save_model

    me = await actor_for(bot.client.runtime.core.db, platform="discord", external_id=str(dk.OWNER_ID))
    other = await actor_for(bot.client.runtime.core.db, platform="discord", external_id="999")
    for label in ("ema_cross", "rsi_dip", "macd_cross"):
        await save_model(bot.client.runtime.core.db, me, ModelRequest(label, "plot(close)"))
    await save_model(bot.client.runtime.core.db, other, ModelRequest("cross_secret", "plot(close)"))

    data = dk.slash("run")
    data["options"] = [{"name": "name", "type": 3, "value": "cro", "focused": True}]
    (response,) = await bot.send(dk.interaction_payload(4, data))
    assert response.json["type"] == 8
    assert [c["value"] for c in response.json["data"]["choices"]] == ["ema_cross", "macd_cross"]


async def test_model_save_reads_an_attached_script_file(bot, dk, monkeypatch):
    import discord

    script = b"buy = close > sma(close, 10)\nsell = close < sma(close, 10)\n"

    async def read(self, **_):
        return script

    monkeypatch.setattr(discord.Attachment, "read", read)
    data = dk.slash("model", action="save", name="fromfile")
    data["options"].append({"name": "file", "type": 11, "value": "555"})
    data["resolved"] = {"attachments": {"555": {
        "id": "555", "filename": "cross.txt", "size": len(script), "url": "https://cdn.example/cross.txt",
        "proxy_url": "https://cdn.example/cross.txt", "content_type": "text/plain",
    }}}  # fmt: skip
    calls = await bot.send(dk.interaction_payload(2, data))
    [answer] = [c for c in calls if c.path.endswith("/callback")]
    assert answer.json["type"] == 4  # answered directly: no form when a file came with the command
    text = answer.embeds[0]["title"] + answer.embeds[0].get("description", "")
    assert "Saved model 'fromfile' (long-only)." in text


async def test_commands_that_read_files_offer_an_attachment_option(bot):
    options = {c.name: [o.name for o in c.parameters] for c in bot.client.tree.get_commands()}
    assert options["model"][-1] == "file" and options["upload"][-1] == "file" and options["bandar"][-1] == "file"
    assert "file" not in options["market"]


def _with_file(dk, data, name: str, size: int):
    data["options"].append({"name": "file", "type": 11, "value": "556"})
    data["resolved"] = {"attachments": {"556": {
        "id": "556", "filename": name, "size": size, "url": f"https://cdn.example/{name}",
        "proxy_url": f"https://cdn.example/{name}", "content_type": "text/plain",
    }}}  # fmt: skip
    return data


async def test_an_oversized_attached_script_is_refused_with_a_clear_reply(bot, dk):
    from bots.registry import MAX_ATTACHED_TEXT_BYTES

    data = _with_file(dk, dk.slash("model", action="save", name="huge"), "huge.txt", MAX_ATTACHED_TEXT_BYTES + 1)
    calls = await bot.send(dk.interaction_payload(2, data))
    [answer] = [c for c in calls if c.path.endswith("/callback")]
    text = answer.embeds[0]["title"] + answer.embeds[0].get("description", "")
    assert "over the 1 MB limit" in text
    assert "Something went wrong" not in text


async def test_an_attached_file_over_the_media_limit_is_refused(bot, dk):
    limit = bot.client.runtime.core.settings.media_max_bytes
    data = _with_file(dk, dk.slash("upload"), "big.png", limit + 1)
    calls = await bot.send(dk.interaction_payload(2, data, guild=False))
    [answer] = [c for c in calls if c.path.endswith("/callback")]
    text = answer.embeds[0]["title"] + answer.embeds[0].get("description", "")
    assert "upload limit" in text


async def test_confirmable_commands_take_a_yes_option_that_confirms_directly(bot, dk):
    from core.account.service import actor_for
    from core.model.service import ModelRequest, save_model

    options = {c.name: [o.name for o in c.parameters] for c in bot.client.tree.get_commands()}
    assert "yes" in options["model"] and options["stop"][-1] == "yes"
    assert "yes" not in options["market"]

    me = await actor_for(bot.client.runtime.core.db, platform="discord", external_id=str(dk.OWNER_ID))
    for label in ("asked", "gone"):
        await save_model(bot.client.runtime.core.db, me, ModelRequest(label, "plot(close)"))

    def text_of(calls):
        [answer] = [c for c in calls if c.path.endswith("/callback")]
        return answer.embeds[0]["title"] + answer.embeds[0].get("description", "")

    assert "Remove model 'asked'?" in text_of(await bot.slash("model", action="rm", name="asked"))
    data = dk.slash("model", action="rm", name="gone")
    data["options"].append({"name": "yes", "type": 5, "value": True})
    assert "Removed model 'gone'." in text_of(await bot.send(dk.interaction_payload(2, data)))


async def test_a_destructive_confirmation_button_is_red_and_the_way_back_plain(bot):
    await bot.slash("model", action="save", name="cross", script="buy = close > open")
    calls = await bot.slash("model", action="rm", name="cross")
    styles = {c["label"]: c["style"] for call in calls for row in call.components for c in row["components"]}
    assert styles == {"Yes, remove": discord.ButtonStyle.danger.value, "Keep": discord.ButtonStyle.secondary.value}


async def test_a_press_turns_an_embed_into_a_card_and_a_card_never_back(core, fake_discord, dk):
    """Discord sets IS_COMPONENTS_V2 on an edit (clearing content and embeds) but never removes it:
    a text answer pressed from under a card is edited in as a card too."""
    registry = Registry()

    @registry.command("step", "Alternates", Arg("n", "a number", kind=ArgKind.INT))
    async def step(ctx, n):
        images = [Image(PNG + b"\0" * 8, f"step{n}.png", f"step {n}")] if n % 2 == 0 else []
        return Message(f"Step {n}\nvalue {n * 10}", images=images, buttons=[[Button("next", f"/step {n + 1}")]])

    harness = await dk.make_harness(core, registry, fake_discord)
    (first,) = await harness.slash("step", n=1)  # text only: an embed
    assert first.embeds and not first.flags & IS_COMPONENTS_V2

    (card,) = await harness.press(fake_discord.message(first.json["data"]), first.custom_ids[0])
    assert card.json["type"] == 7  # the pressed message updated in place
    body = card.json["data"]
    assert body["flags"] & IS_COMPONENTS_V2 and body["embeds"] == [] and body["content"] is None
    assert "### Step 2\nvalue 20" in card.text and card.files[0][0] == "step2.png"
    dk.check_card_limits(body)

    (again,) = await harness.press(fake_discord.message(body), card.custom_ids[0])  # step 3: text only
    body = again.json["data"]
    assert body["flags"] & IS_COMPONENTS_V2 and body["embeds"] == []
    [container] = body["components"]
    assert [c["type"] for c in container["components"]] == [10, 14, 1]
    assert container["components"][0]["content"] == "### Step 3\nvalue 30"
    assert body["attachments"] == []  # step 2's chart is gone with its gallery
    dk.check_card_limits(body)
    await harness.client.close()
