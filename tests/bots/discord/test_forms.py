"""Forms (modals) with a File Upload, through the real discord.py client: the modal the API receives
(Label type 18 around a File Upload type 19) and a submitted file reaching the same core call as the
slash command's ``file`` option, with the same size bounds."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from sqlalchemy import select

from bots.discord import commands as discord_commands
from bots.registry import MAX_ATTACHED_TEXT_BYTES

MODAL = 9
LABEL, TEXT_INPUT, FILE_UPLOAD = 18, 4, 19
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
SCRIPT = b"buy = close > sma(close, 10)\nsell = close < sma(close, 10)\n"
CSV = (
    b"date,broker,investor,buy_lot,buy_value,sell_lot,sell_value\n"
    b"2024-06-03,YP,D,12500,118750000000,9800,93100000000\n"
)


@pytest.fixture(autouse=True)
def _no_modal_timeout(monkeypatch):
    monkeypatch.setattr(
        discord_commands, "MODAL_TIMEOUT_S", None
    )  # no timeout task for the harness to wait on


@pytest.fixture
def uploaded(monkeypatch) -> dict[str, bytes]:
    """What each uploaded file (by name) reads as: Discord's CDN, offline."""
    contents: dict[str, bytes] = {}

    async def read(self, **_):
        return contents[self.filename]

    monkeypatch.setattr(discord.Attachment, "read", read)
    return contents


def _form(calls) -> dict[str, Any]:
    [modal] = [c for c in calls if c.path.endswith("/callback")]
    assert modal.json["type"] == MODAL
    return modal.json["data"]


def check_modal_limits(form: dict[str, Any]) -> None:
    """Discord's documented limits on a modal: title 45, 1-5 top-level components, each a Label
    (label 45, description 100) around one component; a custom_id 1-100; a File Upload takes
    0-10 files (min <= max)."""
    assert 1 <= len(form["title"]) <= 45 and 1 <= len(form["custom_id"]) <= 100
    assert 1 <= len(form["components"]) <= 5
    for label in form["components"]:
        assert label["type"] == LABEL and 1 <= len(label["label"]) <= 45
        assert len(label.get("description", "")) <= 100
        inner = label["component"]
        assert 1 <= len(inner["custom_id"]) <= 100
        if inner["type"] == FILE_UPLOAD:
            assert 0 <= inner.get("min_values", 1) <= inner.get("max_values", 1) <= 10


def _submit(form: dict[str, Any], text: str = "", file: tuple[str, int, str] | None = None) -> dict[str, Any]:
    """A MODAL_SUBMIT's data as Discord sends it: each Label's component with its value(s); an uploaded
    file as an attachment id in ``values``, the attachment itself under ``resolved``."""
    components = []
    data: dict[str, Any] = {"custom_id": form["custom_id"], "components": components}
    for label in form["components"]:
        inner = label["component"]
        if inner["type"] == TEXT_INPUT:
            components.append(
                {
                    "type": LABEL,
                    "component": {"type": TEXT_INPUT, "custom_id": inner["custom_id"], "value": text},
                }
            )
        elif inner["type"] == FILE_UPLOAD:
            values = []
            if file is not None:
                name, size, content_type = file
                values = ["1300000000000000001"]
                data["resolved"] = {"attachments": {values[0]: {
                    "id": values[0], "filename": name, "size": size, "url": f"https://cdn.example/{name}",
                    "proxy_url": f"https://cdn.example/{name}", "content_type": content_type,
                }}}  # fmt: skip
            components.append(
                {
                    "type": LABEL,
                    "component": {"type": FILE_UPLOAD, "custom_id": inner["custom_id"], "values": values},
                }
            )
    return data


def _answer_text(calls) -> str:
    """The answer's text, whether it came as the interaction's response or (deferred) as a follow-up."""
    return " ".join(e.get("title", "") + "\n" + e.get("description", "") for c in calls for e in c.embeds)


async def test_model_save_form_offers_a_file_upload_beside_the_script(bot):
    form = _form(await bot.slash("model", action="save", name="cross"))
    check_modal_limits(form)
    script, upload = form["components"]
    assert script["label"] == "Script" and script["component"]["type"] == TEXT_INPUT
    assert script["component"]["required"] is False  # a file may come instead
    assert upload["label"] == "Or a file" and "a script, a CSV or an image" in upload["description"]
    assert upload["component"]["type"] == FILE_UPLOAD
    assert upload["component"]["required"] is False and upload["component"]["max_values"] == 1


async def test_a_script_file_uploaded_in_the_form_saves_the_model(bot, dk, uploaded):
    form = _form(await bot.slash("model", action="save", name="fromform"))
    uploaded["cross.txt"] = SCRIPT
    calls = await bot.send(
        dk.interaction_payload(5, _submit(form, file=("cross.txt", len(SCRIPT), "text/plain")))
    )
    assert "Saved model 'fromform' (long-only)." in _answer_text(calls)
    shown = _answer_text(await bot.slash("model", action="show", name="fromform"))
    assert "sell = close < sma(close, 10)" in shown


async def test_a_typed_script_still_saves_when_no_file_is_uploaded(bot, dk):
    form = _form(await bot.slash("model", action="save", name="typed"))
    calls = await bot.send(dk.interaction_payload(5, _submit(form, text="buy = close > open")))
    assert "Saved model 'typed'" in _answer_text(calls)


async def test_a_form_with_neither_script_nor_file_says_what_is_missing(bot, dk):
    form = _form(await bot.slash("model", action="save", name="empty"))
    text = _answer_text(await bot.send(dk.interaction_payload(5, _submit(form))))
    assert "no script given" in text and "Something went wrong" not in text


async def test_an_oversized_file_in_the_form_is_refused_as_the_slash_option_is(bot, dk, uploaded):
    form = _form(await bot.slash("model", action="save", name="huge"))
    uploaded["huge.txt"] = b"x"  # never read: the size Discord reports refuses it first
    data = _submit(form, file=("huge.txt", MAX_ATTACHED_TEXT_BYTES + 1, "text/plain"))
    text = _answer_text(await bot.send(dk.interaction_payload(5, data)))
    assert "over the 1 MB limit" in text and "Something went wrong" not in text


async def test_upload_without_anything_opens_a_form_and_stores_the_uploaded_photo(bot, dk, uploaded):
    from core.media.models import Media

    form = _form(await bot.slash("upload", guild=False))
    check_modal_limits(form)
    assert [label["component"]["type"] for label in form["components"]] == [TEXT_INPUT, FILE_UPLOAD]
    uploaded["logo.png"] = PNG
    calls = await bot.send(
        dk.interaction_payload(
            5, _submit(form, text="avatar", file=("logo.png", len(PNG), "image/png")), guild=False
        )
    )
    assert "Stored #" in _answer_text(calls) and "avatar" in _answer_text(calls)
    async with bot.client.runtime.core.db.session() as session:
        stored = (await session.scalars(select(Media))).one()
    assert stored.name == "avatar" and stored.size == len(PNG)


async def test_a_photo_over_the_media_limit_in_the_form_is_refused(bot, dk, uploaded):
    limit = bot.client.runtime.core.settings.media_max_bytes
    form = _form(await bot.slash("upload", guild=False))
    uploaded["big.png"] = b"x"
    data = _submit(form, file=("big.png", limit + 1, "image/png"))
    assert "upload limit" in _answer_text(await bot.send(dk.interaction_payload(5, data, guild=False)))


async def test_bandar_import_form_takes_the_csv_as_a_file(bot, dk, uploaded):
    form = _form(await bot.slash("bandar", ticker="import"))
    assert [label["component"]["type"] for label in form["components"]] == [TEXT_INPUT, FILE_UPLOAD]
    uploaded["broker.csv"] = CSV
    data = _submit(form, text="BBCA", file=("broker.csv", len(CSV), "text/csv"))
    text = _answer_text(await bot.send(dk.interaction_payload(5, data)))
    assert "Imported 1 row(s) for BBCA" in text


async def test_a_form_for_a_command_that_reads_no_file_has_no_upload(bot, dk):
    form = _form(await bot.slash("connect", broker="binance", label="main", client_id="KEY", guild=False))
    assert [label["component"]["type"] for label in form["components"]] == [TEXT_INPUT]
    assert form["components"][0]["component"].get("required", True) is True


async def test_a_private_command_in_a_server_is_refused_without_a_form_first(bot):
    """No form to fill (a file to pick, a secret to type) only to be told it works in private chats."""
    for calls in (await bot.slash("upload"), await bot.slash("connect", broker="binance", label="m", client_id="K")):
        [answer] = [c for c in calls if c.path.endswith("/callback")]
        assert answer.json["type"] == 4 and answer.flags & 64  # a private refusal, not a MODAL (9)
        assert "works only in a private chat" in answer.text
