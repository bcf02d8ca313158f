"""Media: content sniffed, size limited, random keys, sanitised names, owner-only access; files on disk."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from core.account.service import actor_for
from core.config import Settings
from core.errors import Invalid, NotFound
from core.lifecycle import profile
from core.media import service as media
from core.media.models import Media
from core.media.sniff import sniff
from core.media.storage import LocalStorage, media_root, new_key, storage_for

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 32
GIF = b"GIF89a" + b"\0" * 16
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\0" * 8
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


@pytest.mark.parametrize(
    ("data", "kind"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp"), (PDF, "application/pdf"),
     (b"harga BBCA naik 5%\n", "text/plain"), (b"\xef\xbb\xbfbom text", "text/plain"),
     (b"<html><script>x</script></html>", None), (b"  <svg onload=x>", None), (b"MZ\x90\x00\x03", None),
     (b"PK\x03\x04zip", None), (b"\xff\xfe\x00bin", None), (b"text with \x00 nul", None)],
)  # fmt: skip
def test_sniffing(data, kind):
    assert sniff(data) == kind


def _settings(tmp_path, **kw) -> Settings:
    return Settings(_env_file=None, media_dir=tmp_path / "media", **kw)


async def _stored_key(db, media_id: int) -> str:
    async with db.session() as session:
        return await session.scalar(select(Media.key).where(Media.id == media_id))


async def test_upload_fetch_list_remove(db, tmp_path):
    settings = _settings(tmp_path)
    ana = await actor_for(db, platform="telegram", external_id="111")
    encoded = "data:image/png;base64," + base64.b64encode(PNG).decode()
    view = await media.upload_base64(db, settings, ana, encoded, "../../etc/passwd")
    assert view.content_type == "image/png" and view.size == len(PNG) and view.name == "passwd"
    assert view.ref == f"media:{view.id}"
    key = await _stored_key(db, view.id)
    path = LocalStorage(tmp_path / "media").path_of(key)
    assert path.read_bytes() == PNG and path.is_relative_to(tmp_path / "media") and "passwd" not in key

    got, data = await media.fetch(db, settings, ana, view.id)
    assert got == view and data == PNG
    note = await media.upload(db, settings, ana, b"remember BBCA 9500", None)
    assert note.name == "file.txt"
    page = await media.list_media(db, ana, 1, 10)
    assert page.total == 2 and [v.id for v in page.items] == [note.id, view.id]  # newest first

    await profile.set_field(db, settings, ana, "image", view.ref)
    gone = await media.remove(db, settings, ana, view.id)
    assert gone.id == view.id and not path.exists()
    assert (await profile.get_profile(db, settings, ana)).image is None  # the profile no longer points at it
    with pytest.raises(NotFound):
        await media.fetch(db, settings, ana, view.id)


async def test_only_the_owner_fetches_or_removes(db, tmp_path):
    settings = _settings(tmp_path)
    ana = await actor_for(db, platform="telegram", external_id="111")
    bob = await actor_for(db, platform="discord", external_id="222")
    view = await media.upload(db, settings, ana, JPEG, "a.jpg")
    for attempt in (media.fetch(db, settings, bob, view.id), media.remove(db, settings, bob, view.id)):
        with pytest.raises(NotFound, match=f"you have no file #{view.id}"):
            await attempt
    assert (await media.list_media(db, bob)).total == 0
    assert (await media.fetch(db, settings, ana, view.id))[1] == JPEG


async def test_refusals_are_explained(db, tmp_path):
    settings = _settings(tmp_path, media_max_bytes=64)
    ana = await actor_for(db, platform="telegram", external_id="111")
    with pytest.raises(Invalid, match=r"that file is 100 B; the largest accepted is 64 B"):
        await media.upload(db, settings, ana, PNG + b"\0" * 60)
    with pytest.raises(Invalid, match="not accepted"):
        await media.upload(db, settings, ana, b"<!DOCTYPE html><p>hi")
    with pytest.raises(Invalid, match="empty"):
        await media.upload(db, settings, ana, b"")
    with pytest.raises(Invalid, match="not valid base64"):
        await media.upload_base64(db, settings, ana, "***not base64***")
    with pytest.raises(Invalid, match="no content"):
        await media.upload_base64(db, settings, ana, "data:image/png;base64,")
    with pytest.raises(Invalid, match="over the 64 B limit"):
        await media.upload_base64(db, settings, ana, "A" * 2000)
    assert (await media.list_media(db, ana)).total == 0
    assert [p for p in (tmp_path / "media").rglob("*") if p.is_file()] == []


async def test_a_failed_row_insert_leaves_no_file(db, tmp_path, monkeypatch):
    settings = _settings(tmp_path)
    ana = await actor_for(db, platform="telegram", external_id="111")
    monkeypatch.setattr(media, "clean_name", lambda name, kind: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        await media.upload(db, settings, ana, PNG)
    assert [p for p in (tmp_path / "media").rglob("*") if p.is_file()] == []


def test_names_are_sanitised():
    assert media.clean_name("C:\\Users\\ana\\My Photo.png", "image/png") == "My Photo.png"
    assert media.clean_name("..", "image/png") == "file.png"
    assert media.clean_name("a\x00b<script>.txt", "text/plain") == "a_b_script_.txt"
    assert len(media.clean_name("x" * 500, "text/plain")) == 128


def test_url_safe_and_unpadded_base64():
    raw = bytes(range(250, 256)) * 3
    assert media.decode_base64(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw
    assert (
        media.decode_base64(base64.b64encode(raw).decode()[:8] + "\n" + base64.b64encode(raw).decode()[8:])
        == raw
    )


async def test_local_storage(tmp_path):
    storage = LocalStorage(tmp_path / "deep" / "media")  # created on demand
    key = new_key()
    await storage.put(key, b"abc", "text/plain")
    assert await storage.get(key) == b"abc"
    assert storage.path_of(key).parent.name == key[:2]
    await storage.delete(key)
    await storage.delete(key)  # twice is fine
    with pytest.raises(NotFound):
        await storage.get(key)
    for bad in ("../etc/passwd", "a/b", "", "short"):
        with pytest.raises(ValueError):
            storage.path_of(bad)


def test_storage_choice_and_default_folder(tmp_path):
    sqlite = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/data/bot.db")
    assert media_root(sqlite) == tmp_path / "data" / "media"
    assert isinstance(storage_for(sqlite), LocalStorage)
    chosen = Settings(_env_file=None, media_dir=tmp_path / "m")
    assert media_root(chosen) == tmp_path / "m"
    s3 = Settings(_env_file=None, media_s3_bucket="b", media_s3_access_key="AK", media_s3_secret_key="SK",
                  media_s3_endpoint="http://127.0.0.1:9000")  # fmt: skip
    from core.media.s3 import S3Storage

    store = storage_for(s3)
    assert isinstance(store, S3Storage) and store.url_of("a" * 32) == f"http://127.0.0.1:9000/b/{'a' * 32}"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_image_size_from_the_header(fmt):
    import io

    from PIL import Image as Picture

    from core.media.sniff import image_size

    for size in ((1, 1), (640, 480), (9000, 1100), (100, 2100)):
        out = io.BytesIO()
        Picture.new("RGB", size, "white").save(out, fmt)
        assert image_size(out.getvalue()) == size
    assert image_size(PNG) is None and image_size(b"\xff\xd8\xff\xe0") is None and image_size(b"text") is None


@pytest.mark.parametrize(
    ("name", "content_type", "served"),
    [("evil.html", "image/png", "evil.png"), ("evil.svg", "image/gif", "evil.gif"), ("report", "application/pdf",
     "report.pdf"), ("a.b.html", "text/plain", "a.b.txt"), (".html", "image/jpeg", "file.jpg"),
     ("x.svg", "image/svg+xml", "x.bin")],
)  # fmt: skip
def test_served_name_takes_the_extension_of_the_sniffed_type(name, content_type, served):
    from datetime import UTC, datetime

    view = media.MediaView(1, name, content_type, 10, datetime(2026, 1, 1, tzinfo=UTC))
    assert media.served_name(view) == served
