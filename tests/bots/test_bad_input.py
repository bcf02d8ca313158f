"""Bad input a user can type (or a client can send) gets a short reply on SQLite and PostgreSQL:
NUL bytes, lone surrogates, huge or non-ASCII numbers and very long words never reach
"Something went wrong", and a reply quotes at most a short excerpt of what was typed."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from bots.registry import EXCERPT_CHARS, Context, UsageError
from core.account.models import User
from core.contact.models import ContactMessage
from core.model.models import Model
from core.strategy.models import Strategy

NUL_REPLY = "NUL character"


async def _count(console, table) -> int:
    async with console.core.db.session() as session:
        return await session.scalar(select(func.count()).select_from(table))


@pytest.mark.parametrize(
    ("line", "usage"),
    [
        ("/contact a\x00b", "Usage: /contact MESSAGE"),
        ("/model show a\x00b", "Usage: /model"),
        ("/strategy new a\x00b", "Usage: /strategy"),
        ("/model save m\nbuy = close > 1\x00\nsell = close < 1", "Usage: /model"),
    ],
)
async def test_nul_is_refused_with_the_usage_and_nothing_stored(db_console, line, usage):
    reply = await db_console.handle(line)
    assert reply.error and NUL_REPLY in reply.text and usage in reply.text
    assert "Something went wrong" not in reply.text and "\x00" not in reply.text
    for table in (ContactMessage, Model, Strategy):
        assert await _count(db_console, table) == 0


async def test_nul_in_values_from_forms_is_refused_too(db_console):
    """Discord's slash options and modal values reach ``invoke`` without a command line."""
    registry = db_console.registry
    ctx = Context(core=db_console.core, actor=db_console.actor, transport="discord")
    reply = await registry.invoke(ctx, registry.get("contact"), {"message": "hello\x00there"})
    assert reply.error and NUL_REPLY in reply.text and "Usage: /contact MESSAGE" in reply.text
    assert await _count(db_console, ContactMessage) == 0


async def _name(console) -> str:
    async with console.core.db.session() as session:
        return await session.scalar(select(User.name).where(User.id == console.actor.user_id))


async def test_lone_surrogates_become_replacement_characters(db_console):
    reply = await db_console.handle("/profile set name a\ud800b")
    assert not reply.error, reply.text
    assert await _name(db_console) == "a\ufffdb"
    # a pair that arrived as two escapes (JSON "\ud83d\ude00") is the character it encodes
    reply = await db_console.handle("/profile set name x\ud83d\ude00")
    assert not reply.error, reply.text
    assert await _name(db_console) == "x\U0001f600"


async def test_lone_surrogates_in_form_values_are_mended(db_console):
    registry = db_console.registry
    ctx = Context(core=db_console.core, actor=db_console.actor, transport="discord")
    reply = await registry.invoke(ctx, registry.get("contact"), {"message": "hi \udc80"})
    assert not reply.error, reply.text
    async with db_console.core.db.session() as session:
        assert await session.scalar(select(ContactMessage.text)) == "hi \ufffd"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/pause " + "1" * 5000, "ID is out of range"),
        ("/pause -" + "1" * 5000, "ID is a deployment number"),
        ("/profile set image media:" + "9" * 30, "you have no file #"),
        ("/deployments " + "9" * 5000, "PAGE is out of range"),
        ("/stop 3000000000", "ID is out of range"),
        ("/trades " + "7" * 5000, "PAGE is out of range"),
        ("/contact list " + "7" * 5000, "PAGE is out of range"),
        ("/media show " + "7" * 5000, "out of range"),
        ("/buy 99999999999999999999999", "no plan"),
        ("/buy 2147483648", "no plan"),
        ("/buy ²", "no plan"),
        ("/buy ٣", "no plan"),
        ("/deployments ٣", "PAGE must be a whole number"),
        ("/purchases ²", "PAGE must be a whole number"),
    ],
)
async def test_numbers_out_of_range_or_not_ascii_get_a_short_reply(db_console, line, expected):
    reply = await db_console.handle(line)
    assert reply.error and expected in reply.text, reply.text
    assert "Something went wrong" not in reply.text
    assert len(reply.text) < 300


def _longest_run(text: str, word: str) -> int:
    """The longest stretch of ``word``'s letter repeated in ``text`` (how much of it was quoted)."""
    runs = re.findall(f"(?:{re.escape(word[0])})+", text, flags=re.I)
    return max((len(r) for r in runs), default=0)


@pytest.mark.parametrize(
    "line",
    [
        "/" + "q" * 300,
        "/model show " + "q" * 300,
        "/strategy new " + "q" * 300,
        "/market " + "q" * 300,
        "/pause " + "q" * 300,
        "/deployments " + "q" * 300,
        "/alerts " + "q" * 300,
        "/strategy show s " + "q" * 300,
        "/help " + "q" * 300,
        "/market BBCA 1d 1y " + "q" * 300,
    ],
)
async def test_error_replies_quote_a_short_excerpt_of_what_was_typed(db_console, line):
    reply = await db_console.handle(line)
    assert reply.error, reply.text
    assert _longest_run(reply.text, "q") <= EXCERPT_CHARS, reply.text
    assert "Something went wrong" not in reply.text


def test_parse_refuses_nul_with_the_commands_usage(db_console):
    with pytest.raises(UsageError) as err:
        db_console.registry.parse("/contact a\x00b")
    assert NUL_REPLY in err.value.message and err.value.hint == "/contact MESSAGE"


BANDAR_HEADER = "date,broker,investor,buy_lot,buy_value,sell_lot,sell_value"


async def _bandar_rows(console) -> int:
    from core.bandarmology.models import BrokerActivity

    return await _count(console, BrokerActivity)


async def test_bandar_import_refuses_a_far_future_day_naming_the_row(db_console):
    csv_text = f"{BANDAR_HEADER}\n2024-06-03,AK,F,10,9500000,0,0\n9999-12-31,YP,D,10,9500000,0,0\n"
    reply = await db_console.handle("/bandar import BBCA\n" + csv_text)
    assert reply.error and "1 bad row, nothing imported" in reply.text
    assert "line 3: date 9999-12-31 is after" in reply.text and "cannot be in the future" in reply.text
    assert await _bandar_rows(db_console) == 0


async def test_bandar_file_with_a_huge_field_names_the_line(db_console):
    big = f"{BANDAR_HEADER}\n2024-06-03,\"{'Y' * 140_000}\",F,10,9500000,0,0\n".encode()

    async def attached() -> bytes:
        return big

    ctx = Context(core=db_console.core, actor=db_console.actor, transport="telegram",
                  extras={"attached_text": attached})  # fmt: skip
    reply = await db_console.registry.dispatch(ctx, "/bandar import BBCA")
    assert reply.error and "line 2: a value is over 131,072 characters" in reply.text
    assert "Something went wrong" not in reply.text and len(reply.text) < 500
    assert await _bandar_rows(db_console) == 0


async def test_a_search_that_finds_nothing_quotes_an_excerpt(db_console):
    reply = await db_console.handle("/search " + "q" * 5000)
    assert reply.text.startswith("No ticker matches 'qqq") and _longest_run(reply.text, "q") <= EXCERPT_CHARS


async def test_a_script_error_keeps_its_source_line_whole_above_the_caret(db_console):
    """The script language shows the line of a mistake (windowed to 80 characters) with a caret
    under it; cutting a long word of it to an excerpt would move the caret off the mistake."""
    line = "buy=crossover(ema(close,12),ema(close,26))and(nosuchname>1)"
    reply = await db_console.handle(f"/model save m\n{line}\nsell = close < open")
    assert reply.error
    lines = reply.text.splitlines()
    source = next(i for i, text in enumerate(lines) if text.strip().startswith("buy="))
    assert lines[source] == "  " + line
    assert lines[source + 1].strip() == "^" and line[len(lines[source + 1]) - 3] == "n"  # under nosuchname
