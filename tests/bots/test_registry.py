"""The shared registry: parsing as users type, usage on mistakes, errors never leak."""

from __future__ import annotations

import pytest

from bots.commands import load
from bots.registry import Arg, ArgKind, Context, Registry, UsageError
from core.actor import Actor
from core.errors import NotFound
from core.message import Message

registry = load()


def parse(line: str):
    command, kwargs = registry.parse(line)
    return command.name, kwargs


def test_market_optional_arguments_are_matched_by_shape():
    assert parse("/market bbca") == ("market", {"ticker": "BBCA", "interval": "1d", "range": None, "indicators": []})
    assert parse("/market BBCA 1h") [1]["interval"] == "1h"
    assert parse("/market BBCA 6mo")[1] == {"ticker": "BBCA", "interval": "1d", "range": "6mo", "indicators": []}
    _, kw = parse("/market BTCUSDT 4h 3mo rsi:21 macd,ema:50")
    assert kw == {"ticker": "BTCUSDT", "interval": "4h", "range": "3mo", "indicators": ["rsi:21", "macd", "ema:50"]}
    _, kw = parse("/market BBCA rsi bbands:20:2")
    assert kw["interval"] == "1d" and kw["range"] is None and kw["indicators"] == ["rsi", "bbands:20:2"]


def test_group_mention_suffix_is_ignored():
    assert parse("/market@StoxlifyBot BBCA")[0] == "market"


def test_missing_argument_names_it_and_gives_usage():
    with pytest.raises(UsageError) as err:
        registry.parse("/market")
    assert "missing TICKER" in err.value.message
    assert err.value.hint == "/market TICKER [INTERVAL] [RANGE] [INDICATORS...]"


def test_unknown_command_points_to_help():
    with pytest.raises(UsageError, match="unknown command /nope: see /help"):
        registry.parse("/nope")


def test_rest_argument_keeps_text_verbatim():
    # /watch's optional INTERVAL (issue 15) binds only a word shaped like one; the condition keeps its spaces
    assert parse("/watch BBCA price > 9500")[1] == {"ticker": "BBCA", "interval": None, "condition": "price > 9500"}
    assert parse("/watch BTCUSDT 1H ema(close, 9) > 3")[1] == {
        "ticker": "BTCUSDT", "interval": "1H", "condition": "ema(close, 9) > 3"
    }
    assert parse("/search bank central asia")[1] == {"query": "bank central asia"}


def test_unbalanced_quote_does_not_crash():
    assert parse('/search "bank')[1] == {"query": '"bank'}
    assert parse('/market "BBCA')[1]["ticker"] == '"BBCA'


def test_help_is_generated_from_every_command():
    text = registry.help_text()
    for command in registry:
        assert command.usage in text


async def _ctx() -> Context:
    return Context(core=None, actor=Actor(user_id=1))  # type: ignore[arg-type]


async def test_domain_error_becomes_short_reply_and_bug_becomes_reference():
    local = Registry()

    @local.command("boom", "fails", Arg("what", "which failure", kind=ArgKind.CHOICE, choices=("domain", "bug")))
    async def boom(ctx: Context, what: str) -> Message:
        if what == "domain":
            raise NotFound("no model called 'x'", hint="see /models")
        raise RuntimeError("secret internals /home/user/key.pem")

    ctx = await _ctx()
    domain = await local.dispatch(ctx, "/boom domain")
    assert domain.error and domain.text == "no model called 'x'\nsee /models"
    bug = await local.dispatch(ctx, "/boom bug")
    assert bug.error and bug.text.startswith("Something went wrong (ref ")
    assert "internals" not in bug.text and "Traceback" not in bug.text
    choice = await local.dispatch(ctx, "/boom maybe")
    assert choice.error and "WHAT must be one of domain, bug, not 'maybe'" in choice.text
    assert "Usage: /boom domain|bug" in choice.text


async def test_private_only_command_refused_in_group():
    local = Registry()

    @local.command("secret", "needs privacy", private_only=True)
    async def secret(ctx: Context) -> Message:
        return Message("ok")

    group_ctx = Context(core=None, actor=Actor(user_id=1, is_group=True))  # type: ignore[arg-type]
    reply = await local.dispatch(group_ctx, "/secret")
    assert reply.error and "private chat" in reply.text


def test_whole_accepts_only_ascii_digits():
    from bots.registry import whole

    assert whole("42", "ID") == 42
    for odd in ("²", "٣", "1²", "", "-1"):
        with pytest.raises(UsageError, match="ID must be a whole number"):
            whole(odd, "ID")


@pytest.mark.parametrize("line", ["/undeploy ²", "/pause ²", "/trades ²", "/undeploy ٣"])
async def test_non_ascii_digits_are_a_usage_reply_not_a_crash(console, line):
    reply = await console.handle(line)
    assert "Something went wrong" not in reply.text
    assert reply.text


async def test_console_superscript_is_not_a_button_press(console):
    await console.handle("/help")
    reply = await console.handle("²")
    assert "Something went wrong" not in reply.text


async def test_public_buttons_bind_to_anyone_the_rest_to_their_owner():
    from core.errors import Forbidden
    from core.message import Button
    from core.state.buttons import MemoryButtonStore

    store = MemoryButtonStore()
    mine = await store.bind_button("alice", Button("Stop", "/stop 1"))
    shared = await store.bind_button("alice", Button("Copy", "/copy 7", public=True))
    assert await store.resolve(mine, "alice") == "/stop 1"
    with pytest.raises(Forbidden):
        await store.resolve(mine, "bob")
    assert await store.resolve(shared, "bob") == "/copy 7"


def test_the_registry_refuses_private_and_admin_commands_in_groups():
    registry = Registry()

    @registry.command("keys", "Private", private_only=True)
    async def keys(ctx) -> Message:
        return Message("k")

    @registry.command("settings", "Admins", admin_only=True)
    async def settings(ctx) -> Message:
        return Message("s")

    private, admin = registry.get("keys"), registry.get("settings")
    assert private is not None and admin is not None
    member, chief, alone = Actor(1, is_group=True), Actor(1, is_group=True, is_admin=True), Actor(1)
    assert "works only in a private chat" in registry.refusal(private, member).text
    assert registry.refusal(private, chief) is not None and registry.refusal(private, alone) is None
    assert "only this group's admins" in registry.refusal(admin, member).text
    assert registry.refusal(admin, chief) is None and registry.refusal(admin, alone) is None
    assert registry.needs_admin_check(admin, True) and not registry.needs_admin_check(admin, False)
    assert not registry.needs_admin_check(private, True)
