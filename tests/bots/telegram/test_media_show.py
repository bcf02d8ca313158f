"""/media show on Telegram: images Telegram refuses as photos (width + height over 10,000, sides over
20:1, over 10 MB) go out as documents; every file is named with the extension of its sniffed type."""

from __future__ import annotations

import io

import pytest
from PIL import Image as Picture

from core.account.service import actor_for
from core.media import service as media


def picture(width: int, height: int, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Picture.new("RGB", (width, height), "white").save(out, fmt)
    return out.getvalue()


async def _stored(tg, data: bytes, name: str) -> int:
    alice = await actor_for(tg.core.db, platform="telegram", external_id=str(tg.ALICE["id"]))
    view = await media.upload(tg.core.db, tg.core.settings, alice, data, name)
    return view.id


def _sent(calls) -> list[tuple[str, str]]:
    """(method, file name) of each upload the reply made."""
    return [(c.method, name) for c in calls for name, *_ in c.files.values()]


@pytest.mark.parametrize(
    ("width", "height", "fmt"),
    [(9000, 1100, "PNG"), (5001, 5000, "JPEG"), (100, 2100, "PNG"), (2100, 100, "GIF"), (10_000, 400, "WEBP")],
)
async def test_images_telegram_refuses_as_photos_are_sent_as_documents(tg, width, height, fmt):
    number = await _stored(tg, picture(width, height, fmt), "panorama")
    calls = await tg.say(f"/media show {number}")
    extension = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp"}[fmt]
    assert _sent(calls) == [("sendDocument", f"panorama.{extension}")]
    assert not [c for c in calls if c.method == "sendPhoto"]
    assert any(f"#{number} panorama" in c.text for c in calls)


async def test_an_ordinary_image_is_still_a_photo(tg):
    number = await _stored(tg, picture(1200, 800), "chart")
    calls = await tg.say(f"/media show {number}")
    assert _sent(calls) == [("sendPhoto", "chart.png")]


async def test_a_photo_over_ten_megabytes_is_a_document(tg):
    tg.core.settings = tg.core.settings.model_copy(update={"media_max_bytes": 12 * 1024 * 1024})
    big = picture(400, 300) + b"\0" * (10 * 1024 * 1024)  # trailing bytes: a PNG decoder ignores them
    number = await _stored(tg, big, "big")
    calls = await tg.say(f"/media show {number}")
    assert _sent(calls) == [("sendDocument", "big.png")]


@pytest.mark.parametrize("name", ["evil.html", "evil.svg", "evil.png.html", "evil"])
async def test_a_file_is_named_by_its_sniffed_type_not_the_name_given(tg, name):
    number = await _stored(tg, picture(64, 64, "GIF"), name)
    calls = await tg.say(f"/media show {number}")
    [(_, sent_name)] = _sent(calls)
    assert sent_name.endswith(".gif") and ".html" not in sent_name and ".svg" not in sent_name


@pytest.mark.parametrize(
    ("width", "height", "photo"),
    [(5000, 5000, True), (5001, 5000, False), (20, 400, True), (20, 401, False), (400, 20, True), (401, 20, False)],
)
def test_photo_limits_at_their_edges(width, height, photo):
    from bots.telegram.render import fits_photo

    assert fits_photo(picture(width, height)) is photo


async def test_a_pressed_photo_is_not_edited_into_one_telegram_refuses(tg):
    """Re-rendering a photo in place (a button under a chart) never tries editMessageMedia with an
    image no photo can hold: the answer comes anew, as a document."""
    from telegram import Message as TelegramMessage
    from telegram import error as tg_error

    from bots.telegram.render import edit_photo
    from core.message import Image, Message

    message = TelegramMessage.de_json(tg.press("x")["callback_query"]["message"], tg.app.bot)
    reply = Message("wide", images=[Image(picture(9000, 1100), "wide.png")])
    with pytest.raises(tg_error.BadRequest):
        await edit_photo(tg.app.bot, message, reply)
    assert not tg.rec.api("editMessageMedia")


async def test_in_an_album_only_the_refused_image_becomes_a_document(tg):
    from bots.telegram.render import send_reply
    from core.message import Image, Message

    images = [Image(picture(800, 600), "a.png"), Image(picture(100, 2500), "tall.png"), Image(picture(600, 800), "b.png")]
    await send_reply(tg.app.bot, tg.PRIVATE["id"], Message("three charts", images=images))
    [album] = tg.rec.api("sendMediaGroup")
    assert len(album.params["media"]) == 2
    [document] = tg.rec.api("sendDocument")
    assert [name for name, *_ in document.files.values()] == ["tall.png"]
