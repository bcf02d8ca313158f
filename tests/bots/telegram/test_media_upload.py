"""A photo (or file) sent in private with the caption /upload is stored as media, through the real
python-telegram-bot handlers (getFile and the file download answered by the recording request)."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from core.media.models import Media
from core.media.storage import LocalStorage, media_root

from .conftest import ALICE, GROUP, PRIVATE, RecordingRequest

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
_ids = itertools.count(9000)


@dataclass
class FileRequest(RecordingRequest):
    """Also answers getFile, and serves the file's bytes at its download URL."""

    content: bytes = PNG

    async def do_request(self, url: str, method: str, request_data=None, *args: Any, **kwargs: Any):
        if "/file/bot" in url:
            return 200, self.content
        return await super().do_request(url, method, request_data, *args, **kwargs)

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        if name == "getFile":
            return {"file_id": params["file_id"], "file_unique_id": "U1", "file_size": len(self.content),
                    "file_path": "photos/file_1.jpg"}  # fmt: skip
        return super()._result(name, params)


@pytest.fixture
def rec() -> FileRequest:
    return FileRequest()


def photo_message(
    caption: str | None, *, chat: dict[str, Any] = PRIVATE, size: int = len(PNG)
) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "message_id": next(_ids),
        "date": int(time.time()),
        "chat": chat,
        "from": ALICE,
        "photo": [
            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 60, "file_size": 100},
            {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 853, "file_size": size},
        ],
    }
    if caption is not None:
        msg["caption"] = caption
        msg["caption_entities"] = [{"type": "bot_command", "offset": 0, "length": len(caption.split()[0])}]
    return {"update_id": next(_ids), "message": msg}


async def _media(core) -> list[Media]:
    async with core.db.session() as session:
        return list(await session.scalars(select(Media)))


async def test_a_captioned_photo_is_stored(tg):
    before = len(tg.rec.calls)
    await tg.feed(photo_message("/upload avatar"))
    calls = [c for c in tg.rec.calls[before:] if c.ok]
    assert [c.params["file_id"] for c in calls if c.method == "getFile"] == ["large"]  # the largest size
    (reply,) = [c for c in calls if c.method == "sendMessage"]
    assert "Stored #1 avatar · PNG image" in reply.text and "media:1" in reply.text
    (row,) = await _media(tg.core)
    assert row.name == "avatar" and row.content_type == "image/png"
    assert LocalStorage(media_root(tg.core.settings)).path_of(row.key).read_bytes() == PNG


async def test_bad_content_and_big_files_get_a_clear_reply(tg):
    tg.rec.content = b"MZ\x90\x00 an executable"
    calls_before = len(tg.rec.calls)
    await tg.feed(photo_message("/upload"))
    (reply,) = [c for c in tg.rec.calls[calls_before:] if c.ok and c.method == "sendMessage"]
    assert "not accepted" in reply.text

    calls_before = len(tg.rec.calls)
    await tg.feed(photo_message("/upload", size=50 * 1024 * 1024))
    calls = [c for c in tg.rec.calls[calls_before:] if c.ok]
    assert not [c for c in calls if c.method == "getFile"]  # refused before downloading
    (reply,) = [c for c in calls if c.method == "sendMessage"]
    assert "over the 5 MB upload limit" in reply.text
    assert await _media(tg.core) == []


async def test_photos_without_the_caption_or_for_another_bot_are_ignored(tg):
    calls_before = len(tg.rec.calls)
    await tg.feed(photo_message(None))
    await tg.feed(photo_message("nice chart"))
    await tg.feed(photo_message("/upload@OtherBot", chat=GROUP))
    assert [c for c in tg.rec.calls[calls_before:] if c.ok and c.method in ("getFile", "sendMessage")] == []
    assert await _media(tg.core) == []


async def test_a_captioned_upload_in_a_group_is_refused_as_private_only(tg):
    calls_before = len(tg.rec.calls)
    await tg.feed(photo_message("/upload", chat=GROUP))
    calls = [c for c in tg.rec.calls[calls_before:] if c.ok]
    assert not [c for c in calls if c.method == "getFile"]  # never downloaded
    (reply,) = [c for c in calls if c.method == "sendMessage"]
    assert "private chat" in reply.text
    assert await _media(tg.core) == []


def _document(update: dict[str, Any], content: bytes, name: str = "cross.txt") -> dict[str, Any]:
    message = update["message"]
    del message["photo"]
    message["document"] = {"file_id": "doc", "file_unique_id": "d", "file_name": name,
                           "mime_type": "text/plain", "file_size": len(content)}  # fmt: skip
    return update


async def test_a_script_file_captioned_model_save_in_a_group_is_saved(tg):
    from core.model.models import Model

    script = b"buy = close > sma(close, 5)\nsell = close < sma(close, 5)\n"
    tg.rec.content = script
    before = len(tg.rec.calls)
    await tg.feed(_document(photo_message("/model save group_file", chat=GROUP), script))
    calls = [c for c in tg.rec.calls[before:] if c.ok]
    (reply,) = [c for c in calls if c.method == "sendMessage"]
    assert "Saved model 'group_file' (long-only)." in reply.text
    async with tg.core.db.session() as session:
        [row] = list(await session.scalars(select(Model)))
    assert row.source == script.decode()


async def test_attached_text_files_share_one_size_limit(tg):
    from bots.registry import MAX_ATTACHED_TEXT_BYTES

    script = b"buy = close > sma(close, 5)\nsell = close < sma(close, 5)\n"
    padded = script + b"//" + b" " * (100 * 1024) + b"\n"  # over the old 64 KB, under the shared limit
    tg.rec.content = padded
    before = len(tg.rec.calls)
    await tg.feed(_document(photo_message("/model save roomy"), padded))
    (reply,) = [c for c in tg.rec.calls[before:] if c.ok and c.method == "sendMessage"]
    assert "over the" not in reply.text

    before = len(tg.rec.calls)
    update = _document(photo_message("/model save huge"), script)
    update["message"]["document"]["file_size"] = MAX_ATTACHED_TEXT_BYTES + 1
    await tg.feed(update)
    calls = [c for c in tg.rec.calls[before:] if c.ok]
    assert not [c for c in calls if c.method == "getFile"]  # refused before downloading
    (reply,) = [c for c in calls if c.method == "sendMessage"]
    assert "over the 1 MB limit" in reply.text


async def test_a_script_file_captioned_model_save_is_saved_as_a_model(tg):
    from core.model.models import Model

    script = b"buy = close > sma(close, 5)\nsell = close < sma(close, 5)\n"
    tg.rec.content = script
    update = photo_message("/model save from_file")
    message = update["message"]
    del message["photo"]
    message["document"] = {"file_id": "doc", "file_unique_id": "d", "file_name": "cross.txt",
                           "mime_type": "text/plain", "file_size": len(script)}  # fmt: skip
    before = len(tg.rec.calls)
    await tg.feed(update)
    calls = [c for c in tg.rec.calls[before:] if c.ok]
    assert [c.params["file_id"] for c in calls if c.method == "getFile"] == ["doc"]
    (reply,) = [c for c in calls if c.method == "sendMessage"]
    assert "Saved model 'from_file' (long-only)." in reply.text
    async with tg.core.db.session() as session:
        [row] = list(await session.scalars(select(Model)))
    assert row.source == script.decode()


async def test_an_upload_over_the_quota_is_refused_before_downloading(tg):
    tg.core.settings = tg.core.settings.model_copy(update={"free_max_media_files": 1})
    await tg.feed(photo_message("/upload first"))
    before = len(tg.rec.calls)
    await tg.feed(photo_message("/upload second"))
    calls = [c for c in tg.rec.calls[before:] if c.ok]
    assert not [c for c in calls if c.method == "getFile"]
    (reply,) = [c for c in calls if c.method == "sendMessage"]
    assert "you keep 1 of 1 files on your Free plan" in reply.text and "/media rm ID" in reply.text
    assert len(await _media(tg.core)) == 1
