"""The Telegram transport end to end: real Update JSON in, recorded Bot API calls out."""

from __future__ import annotations

import asyncio
import json
import re
from html.parser import HTMLParser

import pytest

from bots.registry import Arg, ArgKind, Context, Registry
from bots.telegram import app as tg_app
from core.message import Button, Image, Message

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
KEY = "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"  # 64 alphanumerics


def only_tags(markup: str) -> set[str]:
    tags: set[str] = set()

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.add(tag)

    Parser().feed(markup)
    return tags


def methods(calls) -> list[str]:
    return [c.method for c in calls]


def local_registry() -> Registry:
    """Commands that exercise the renderer without market data."""
    reg = Registry()

    @reg.command("echo", "Say it back", Arg("words", "anything", kind=ArgKind.REST))
    async def echo(ctx: Context, words: str) -> Message:
        return Message(f"You said:\n{words}")

    @reg.command("long", "A very long answer", Arg("lines", "how many", kind=ArgKind.INT))
    async def long(ctx: Context, lines: int) -> Message:
        return Message("\n".join(f"row {i:05d} " + "." * 80 for i in range(lines)))

    @reg.command(
        "chart",
        "One image",
        Arg("size", "text lines", kind=ArgKind.INT, required=False, default=3),
        expensive=True,
    )
    async def chart(ctx: Context, size: int) -> Message:
        text = "\n".join(f"line {i}" + " <&>" * 20 for i in range(size))
        buttons = [[Button("1h", "/chart 2"), Button("4h", "/chart 300")]]
        return Message(text, images=[Image(PNG, "c.png", "SHORT <caption>")], buttons=buttons)

    @reg.command("album", "Three images", expensive=True)
    async def album(ctx: Context) -> Message:
        images = [Image(PNG, f"{i}.png", f"chart {i}") for i in range(3)]
        return Message("Three charts\nsee above", images=images, buttons=[[Button("again", "/album")]])

    @reg.command("settings", "Change the group settings", admin_only=True)
    async def settings(ctx: Context) -> Message:
        return Message(f"settings changed by admin={ctx.actor.is_admin}")

    @reg.command("keys", "Manage exchange keys", private_only=True)
    async def keys(ctx: Context) -> Message:
        return Message("your keys")

    @reg.command("slow", "Takes a while")
    async def slow(ctx: Context) -> Message:
        await asyncio.sleep(0.2)
        return Message("done")

    @reg.command("slowchart", "Takes a while, expensive", expensive=True)
    async def slowchart(ctx: Context) -> Message:
        await asyncio.sleep(0.2)
        return Message("done")

    return reg


@pytest.fixture
async def local(make_tg):
    return await make_tg(local_registry())


# -- the real registry --------------------------------------------------------------------------


async def test_private_market_sends_action_then_photo_with_caption_and_keyboard(tg):
    calls = await tg.say("/market BBCA 1d rsi")
    assert methods(calls) == ["sendChatAction", "sendPhoto"]
    action, photo = calls
    assert action.params == {"chat_id": tg.ALICE["id"], "action": "upload_photo"}
    assert photo.params["chat_id"] == tg.ALICE["id"]
    assert "photo" in photo.files and photo.files["photo"][1].startswith(b"\x89PNG")
    assert photo.params["parse_mode"] == "HTML"
    assert photo.text.startswith("<b>BBCA") and "RSI" in photo.text.upper()
    assert len(photo.text) <= 1024
    tokens = photo.callback_tokens
    assert len(tokens) == 4 and all(t.startswith("b:") and len(t.encode()) <= 64 for t in tokens)
    assert "reply_parameters" not in photo.params  # private chats are not quoted


async def test_group_command_addressed_to_the_bot(tg):
    calls = await tg.say("/market@StoxlifyBot BBCA", chat=tg.GROUP)
    assert methods(calls) == ["sendChatAction", "sendPhoto"]
    photo = calls[1]
    assert photo.params["chat_id"] == tg.GROUP["id"]
    assert photo.params["reply_parameters"]["allow_sending_without_reply"] is True
    assert await tg.say("/market@SomeOtherBot BBCA", chat=tg.GROUP) == []


async def test_start_onboards_a_new_user(tg):
    (sent,) = await tg.say("/start")
    assert sent.method == "sendMessage"
    assert sent.text.startswith("<b>Welcome to Stoxlify")
    assert "/market BBCA 1d rsi macd" in sent.text
    assert "/model save first\n    fast = ema(close, 5)" in sent.text
    assert "/deploy first BTCUSDT 1h" in sent.text  # the sample files alone (no live feed here) start at 1h
    assert len(sent.callback_tokens) == 4  # a chart, help, save the model, deploy it
    (deep,) = await tg.say("/start ref-campaign")  # deep links carry a payload
    assert deep.text.startswith("<b>Welcome to Stoxlify")


async def test_argument_error_replies_with_usage(tg):
    (sent,) = await tg.say("/market")
    assert sent.method == "sendMessage"
    assert "missing TICKER" in sent.text
    assert "Usage: /market TICKER [INTERVAL] [RANGE] [INDICATORS...]" in sent.text


async def test_unknown_command(tg):
    (sent,) = await tg.say("/nope")
    assert "unknown command /nope" in sent.text
    assert await tg.say("/nope", chat=tg.GROUP) == []  # another bot's, probably
    (addressed,) = await tg.say("/nope@StoxlifyBot", chat=tg.GROUP)
    assert "unknown command /nope" in addressed.text


async def test_plain_text_in_private_points_at_commands(tg):
    (sent,) = await tg.say("hello bot")
    assert "/help" in sent.text
    assert await tg.say("hello everyone", chat=tg.GROUP) == []


async def test_owner_press_re_renders_the_chart_in_place(tg):
    photo = (await tg.say("/market BBCA 1d rsi"))[-1]
    token = photo.token("1w")  # the BBCA sample has hourly candles, resampled to weekly
    calls = await tg.push(token)
    assert methods(calls) == ["answerCallbackQuery", "sendChatAction", "editMessageMedia"]
    answer, _, edit = calls
    assert "show_alert" not in answer.params
    assert edit.params["chat_id"] == tg.ALICE["id"] and edit.params["message_id"] == 42
    media = edit.params["media"]
    media = json.loads(media) if isinstance(media, str) else media
    assert media["type"] == "photo" and media["parse_mode"] == "HTML" and "1w" in media["caption"]
    assert edit.files  # the new chart is uploaded
    assert len(edit.callback_tokens) == 4 and token not in edit.callback_tokens


async def test_another_user_cannot_press_someone_elses_button(tg):
    token = (await tg.say("/market BBCA"))[-1].callback_tokens[0]
    calls = await tg.push(token, user=tg.BOB)
    assert methods(calls) == ["answerCallbackQuery"]
    assert calls[0].params["show_alert"] is True
    assert "belongs to the person who asked" in calls[0].params["text"]


async def test_an_expired_button_says_so_and_its_keyboard_goes(tg):
    calls = await tg.push("b:gone-for-good")
    assert methods(calls) == ["answerCallbackQuery", "editMessageReplyMarkup"]
    assert "expired" in calls[0].params["text"]
    assert not calls[1].params.get("reply_markup")  # no stale button left to press again


async def test_press_under_a_text_message_edits_that_message(tg):
    token = (await tg.say("/start"))[0].callback_tokens[1]  # Help
    text_message = {"message_id": 77, "date": 0, "chat": tg.PRIVATE, "from": tg.BOT, "text": "Welcome"}
    calls = await tg.push(token, on=text_message)
    assert methods(calls) == ["answerCallbackQuery", "editMessageText"]
    assert calls[1].params["message_id"] == 77 and calls[1].text.startswith("<b>Stoxlify commands:")


async def test_in_a_group_a_press_answers_anew_and_leaves_the_shared_message_as_it_is(tg):
    token = (await tg.say("/start"))[0].callback_tokens[1]  # Help
    text_message = {"message_id": 79, "date": 0, "chat": tg.GROUP, "from": tg.BOT, "text": "Welcome"}
    calls = await tg.push(token, on=text_message)
    assert "editMessageText" not in methods(calls) and "sendMessage" in methods(calls)


async def test_a_pressed_confirmation_becomes_its_outcome_and_loses_its_buttons(tg):
    """Today's stale "Yes, remove" under a removed file would answer "you have no file #1"."""
    await tg.say("/model save cross buy = close > open")
    [ask] = [c for c in await tg.say("/model rm cross") if c.method == "sendMessage"]
    markup = ask.params["reply_markup"]
    markup = json.loads(markup) if isinstance(markup, str) else markup
    styles = {b["text"]: b.get("style") for row in markup["inline_keyboard"] for b in row}
    assert styles == {"Yes, remove": "danger", "Keep": None}  # red where it destroys
    yes = next(t for t in ask.callback_tokens if t)
    on = {"message_id": 78, "date": 0, "chat": tg.PRIVATE, "from": tg.BOT, "text": ask.text}
    calls = await tg.push(yes, on=on)
    [edited] = [c for c in calls if c.method == "editMessageText"]
    assert edited.params["message_id"] == 78 and "cross" in edited.text and "Remove model" not in edited.text
    assert not edited.params.get("reply_markup") and not [c for c in calls if c.method == "sendMessage"]


async def test_command_menus_per_scope_keep_admin_and_private_commands_where_they_belong(tg):
    """Groups see no private-only command and /group only for their administrators; nobody but a bot
    administrator (in their own chat with the bot) sees /product, /discount and /refund; the bot's
    description and short description are set too."""
    from bots.commands import load

    tg.core.settings = tg.core.settings.model_copy(update={"admin_ids": ["telegram:4242", "discord:9"]})
    await tg.app.post_init(tg.app)

    def listed(value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    menus = {json.dumps(listed(c.params.get("scope")), sort_keys=True): [m["command"] for m in listed(c.params["commands"])]
             for c in tg.rec.api("setMyCommands")}  # fmt: skip
    registry = load()
    every = [c.name for c in registry]
    bot_admins = {c.name for c in registry if c.for_bot_admins}
    private_only = {c.name for c in registry if c.private_only}
    assert {"product", "discount", "refund"} <= bot_admins and "group" not in bot_admins
    assert "connect" in private_only
    groups = menus[json.dumps({"type": "all_group_chats"})]
    group_admins = menus[json.dumps({"type": "all_chat_administrators"})]
    private = menus[json.dumps({"type": "all_private_chats"})]
    admin = menus[json.dumps({"chat_id": 4242, "type": "chat"}, sort_keys=True)]
    assert menus[json.dumps({"type": "default"})] == groups
    assert groups == [n for n in every if n not in bot_admins | private_only | {"group"}]
    assert group_admins == [n for n in every if n not in bot_admins | private_only]  # /group: its admins only
    assert private == [n for n in every if n not in bot_admins | {"group"}]
    assert admin == [n for n in every if n != "group"] and len(menus) == 5  # the Discord admin gets no Telegram menu
    for call in tg.rec.api("setMyCommands"):
        for c in listed(call.params["commands"]):
            assert re.fullmatch(r"[a-z0-9_]{1,32}", c["command"]) and 1 <= len(c["description"]) <= 256
    (description,) = tg.rec.api("setMyDescription")
    (short,) = tg.rec.api("setMyShortDescription")
    assert 0 < len(description.params["description"]) <= 512 and 0 < len(short.params["short_description"]) <= 120


@pytest.mark.filterwarnings(
    "ignore::telegram.warnings.PTBDeprecationWarning"
)  # raised inside PTB's RetryAfter
async def test_rate_limited_message_is_retried_not_dropped(tg):
    tg.rec.fail_once(
        "sendMessage",
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        },
    )
    await tg.feed(tg.message("/help"))
    attempts = [c for c in tg.rec.calls if c.method == "sendMessage"]
    assert [c.ok for c in attempts] == [False, True]
    assert attempts[1].text.startswith("<b>Stoxlify commands:")


async def test_unexpected_failure_replies_with_a_reference(tg, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("database exploded with password hunter2")

    monkeypatch.setattr(tg_app, "actor_for", broken)
    (sent,) = await tg.say("/help")
    assert re.fullmatch(r"Something went wrong \(ref [0-9a-f]{6}\)\. .*", sent.text)
    assert "hunter2" not in sent.text and "Traceback" not in sent.text


# -- rendering through a local registry -------------------------------------------------------


async def test_long_text_is_split_into_several_messages(local):
    calls = await local.say("/long 200")
    assert len(calls) >= 4 and set(methods(calls)) == {"sendMessage"}
    assert all(len(c.text) <= 4096 for c in calls)
    rows = [line for c in calls for line in c.text.replace("<b>", "").replace("</b>", "").split("\n")]
    assert rows == [f"row {i:05d} " + "." * 80 for i in range(200)]


async def test_html_is_escaped(local):
    (sent,) = await local.say("/echo <script>alert('x')</script> & <b>bold</b> *a* _b_ [c](d)")
    assert sent.params["parse_mode"] == "HTML"
    assert only_tags(sent.text) == {"b"}
    assert sent.text == (
        "<b>You said:</b>\n&lt;script&gt;alert('x')&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt; *a* _b_ [c](d)"
    )


async def test_long_caption_goes_after_the_photo(local):
    calls = await local.say("/chart 60")
    assert methods(calls)[:2] == ["sendChatAction", "sendPhoto"]
    assert calls[1].text == "SHORT &lt;caption&gt;"
    assert calls[1].callback_tokens  # the keyboard stays under the chart
    assert set(methods(calls[2:])) == {"sendMessage"}
    assert "line 59" in calls[-1].text


async def test_several_images_go_as_a_media_group(local):
    calls = await local.say("/album")
    assert methods(calls) == ["sendChatAction", "sendMediaGroup", "sendMessage"]
    media = calls[1].params["media"]
    media = json.loads(media) if isinstance(media, str) else media
    assert [m["caption"] for m in media] == ["chart 0", "chart 1", "chart 2"]
    assert len(calls[1].files) == 3
    assert calls[2].callback_tokens  # buttons ride on the text after the album


async def test_press_with_a_long_reply_edits_the_photo_then_sends_the_text(local):
    photo = (await local.say("/chart"))[-1]
    calls = await local.push(photo.callback_tokens[1])  # /chart 300: text too long for a caption
    assert methods(calls)[:3] == ["answerCallbackQuery", "sendChatAction", "editMessageMedia"]
    assert set(methods(calls[3:])) == {"sendMessage"}


async def test_failed_edit_falls_back_to_a_new_photo(local):
    photo = (await local.say("/chart"))[-1]
    local.rec.fail_once(
        "editMessageMedia",
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: message to edit not found"},
    )
    calls = await local.push(photo.callback_tokens[0])
    assert [c.method for c in calls if c.ok] == ["answerCallbackQuery", "sendChatAction", "sendPhoto"]


async def test_admin_only_command_refused_for_members(local):
    (check, refusal) = await local.say("/settings", chat=local.GROUP)
    assert check.method == "getChatMember"
    assert check.params == {"chat_id": local.GROUP["id"], "user_id": local.ALICE["id"]}
    assert "only this group's admins can use /settings" in refusal.text


async def test_admin_only_command_allowed_for_admins_and_cached(local):
    local.rec.member_status = "administrator"
    (check, sent) = await local.say("/settings", chat=local.GROUP)
    assert check.method == "getChatMember"
    assert sent.text == "settings changed by admin=True"
    (again,) = await local.say("/settings", chat=local.GROUP)  # cached: no second lookup
    assert again.text == "settings changed by admin=True"


async def test_group_owner_counts_as_admin(local):
    local.rec.member_status = "creator"
    calls = await local.say("/settings", chat=local.GROUP)
    assert calls[-1].text == "settings changed by admin=True"


async def test_admin_only_in_private_needs_no_lookup(local):
    (sent,) = await local.say("/settings")
    assert sent.text == "settings changed by admin=False"


async def test_anonymous_admin_must_post_as_themselves(local):
    local.rec.member_status = "administrator"
    (sent,) = await local.say(
        "/settings", user=local.ANONYMOUS_ADMIN, chat=local.GROUP, sender_chat=local.GROUP
    )
    assert sent.method == "sendMessage" and "post as yourself" in sent.text.lower()
    assert "settings changed" not in sent.text


async def test_private_only_command_refused_politely_in_groups(local):
    (sent,) = await local.say("/keys", chat=local.GROUP)
    assert "works only in a private chat" in sent.text
    assert sent.params["chat_id"] == local.GROUP["id"]
    keys = sent.params["reply_markup"]["inline_keyboard"]
    assert keys[-1][0]["url"] == "https://t.me/StoxlifyBot"
    (private,) = await local.say("/keys")
    assert private.text == "your keys"


async def test_chat_action_repeats_while_slow_work_runs(local, monkeypatch):
    monkeypatch.setattr(tg_app, "ACTION_EVERY_S", 0.05)
    calls = await local.say("/slowchart")
    actions = [c for c in calls if c.method == "sendChatAction"]
    assert len(actions) >= 3 and {a.params["action"] for a in actions} == {"upload_photo"}
    assert calls[-1].method == "sendMessage"


async def test_typing_shows_only_when_a_quick_command_is_slow(local, monkeypatch):
    monkeypatch.setattr(tg_app, "TYPING_AFTER_S", 0.01)
    calls = await local.say("/slow")
    assert calls[0].params["action"] == "typing"
    assert methods(await local.say("/echo hi")) == ["sendMessage"]  # fast: no action at all


# -- secrets ----------------------------------------------------------------------------------


async def test_secret_pasted_in_a_group_is_deleted_and_never_echoed(tg):
    calls = await tg.say(f"here is my binance key {KEY}", chat=tg.GROUP)
    assert methods(calls) == ["deleteMessage", "sendMessage"]
    delete, warning = calls
    assert delete.params["chat_id"] == tg.GROUP["id"]
    assert "revoke that key now" in warning.text
    assert KEY not in warning.text and KEY[:12] not in warning.text
    assert "I deleted it" in warning.text


async def test_secret_in_a_group_command_is_deleted_and_the_command_not_run(tg):
    calls = await tg.say(f"/watch BBCA api_key={KEY}", chat=tg.GROUP)
    assert methods(calls) == ["deleteMessage", "sendMessage"]
    assert KEY not in calls[1].text


async def test_secret_without_delete_rights(tg, capsys):
    tg.rec.fail_once(
        "deleteMessage",
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: message can't be deleted"},
    )
    calls = await tg.say(f"my token 123456789:{'A' * 35}", chat=tg.GROUP)
    (warning,) = calls
    assert "could not delete it" in warning.text and "revoke that key now" in warning.text
    assert "A" * 35 not in warning.text
    captured = capsys.readouterr()
    assert "A" * 35 not in captured.out + captured.err  # nor logged


async def test_secrets_in_private_chats_are_left_alone(local):
    (sent,) = await local.say(f"/echo {KEY}")
    assert sent.method == "sendMessage"  # a private chat with the bot is where keys belong


async def test_ordinary_group_chatter_is_ignored(tg):
    assert await tg.say("BBCA looks strong today", chat=tg.GROUP) == []


async def test_connect_with_a_short_key_in_a_group_is_deleted_too(tg):
    calls = await tg.say("/connect binance main shortkey123 shortsecret456", chat=tg.GROUP)
    assert methods(calls) == ["deleteMessage", "sendMessage"]
    assert "shortsecret456" not in calls[1].text and "revoke that key now" in calls[1].text


async def test_connect_in_private_deletes_the_message_holding_the_key(tg):
    calls = await tg.say(f"/connect binance main {KEY} {KEY[::-1]}")
    assert methods(calls)[0] == "deleteMessage"
    (reply,) = [c for c in calls if c.method == "sendMessage"]
    assert "I deleted your message that held the key" in reply.text
    assert KEY not in reply.text and KEY[::-1] not in reply.text


async def test_a_link_code_comes_with_a_button_that_copies_the_command(tg):
    [sent] = [c for c in await tg.say("/link") if c.method == "sendMessage"]
    markup = sent.params["reply_markup"]
    markup = json.loads(markup) if isinstance(markup, str) else markup
    [[button]] = markup["inline_keyboard"]
    code = re.search(r"Your link code: ([A-Z0-9]{4}-[A-Z0-9]{4})", sent.text).group(1)
    assert button["copy_text"] == {"text": f"/link {code}"} and "callback_data" not in button


async def test_times_are_shown_in_each_readers_time_zone_with_the_utc_text_behind(tg):
    from datetime import UTC, datetime

    calls = await tg.say("/market BBCA")
    shown = " ".join(c.text for c in calls)
    found = re.search(r'<tg-time unix="(\d+)" format="dt">(\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC</tg-time>', shown)
    assert found, shown
    written = datetime.strptime(found.group(2), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert int(found.group(1)) == int(written.timestamp())


def test_a_users_own_text_shaped_like_an_impossible_time_is_left_alone():
    from bots.telegram.render import local_times

    assert local_times("due 2026-13-45 25:00 UTC") == "due 2026-13-45 25:00 UTC"


def test_a_time_inside_a_code_block_stays_text_telegram_nests_no_entity_there():
    from bots.telegram.render import local_times

    shown = local_times("at 2026-12-07 09:00 UTC\n<pre>x = 1  # 2026-12-07 09:00 UTC\n    ^</pre>")
    assert shown.count("<tg-time") == 1 and shown.endswith("<pre>x = 1  # 2026-12-07 09:00 UTC\n    ^</pre>")
