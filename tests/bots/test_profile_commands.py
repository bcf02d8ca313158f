"""/me, /profile, /deleteaccount, /upload, /media, /contact and /dict through the console registry."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from sqlalchemy import func, select

from bots.console.transport import Console
from core.account.models import User
from core.account.service import actor_for
from core.app import Core
from core.config import Settings
from core.contact.models import ContactMessage
from core.media import service as media_service
from core.media.models import Media
from core.message import Message
from core.notify import ChatTarget

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


class Recorder:
    platform = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[ChatTarget, Message]] = []

    async def send(self, target: ChatTarget, notice: Message) -> bool:
        self.sent.append((target, notice))
        return True


@pytest.fixture
async def bot(tmp_path):
    settings = Settings(
        _env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", market_offline=True,
        admin_chat="telegram:-100123", admin_ids=["console:admin"], contact_per_hour=2,
    )  # fmt: skip
    core = await Core.start(settings)
    recorder = Recorder()
    core.notifiers["telegram"] = recorder
    actor = await actor_for(core.db, platform="console", external_id="ana", display_name="Ana")
    try:
        yield Console(core, actor, tmp_path / "out"), recorder
    finally:
        await core.close()


async def test_me_and_profile_edits(bot):
    console, _ = bot
    me = await console.handle("/me")
    assert not me.error and "Name: Ana" in me.text and "Plan: Free · up to 3 deployments" in me.text
    assert "console (Ana): first seen" in me.text
    bad = await console.handle("/profile set email ana@")
    assert bad.error and "'ana@' is not a valid email address" in bad.text
    good = await console.handle("/profile set phone 0812-3456-7890")
    assert (
        not good.error and good.text.startswith("Saved your phone.") and "Phone: +6281234567890" in good.text
    )
    country = await console.handle("/profile set country zz")
    assert country.error and "'ZZ' is not an ISO 3166-1 country code" in country.text
    assert "Country: ID (Indonesia)" in (await console.handle("/profile set country id")).text
    image = await console.handle("/profile set image http://example.com/a.png")
    assert image.error and "https:// URL" in image.text
    missing = await console.handle("/profile set email")
    assert missing.error and "give the new email" in missing.text
    which = await console.handle("/profile set")
    assert which.error and "say which field" in which.text and "phone:" in which.text
    field = await console.handle("/profile set age 30")
    assert field.error and "FIELD must be one of name, email, image, country, phone" in field.text
    cleared = await console.handle("/profile clear phone")
    assert "Removed your phone" in cleared.text and "Phone: —" in cleared.text
    named = await console.handle("/profile set name Ana Wijaya")
    assert "Name: Ana Wijaya" in named.text


async def test_private_only_in_groups(bot):
    console, _ = bot
    console.actor = dataclasses.replace(console.actor, is_group=True, chat_id="-5")
    for line in ("/me", "/profile set email a@b.co", "/deleteaccount", "/upload x", "/media"):
        reply = await console.handle(line)
        assert reply.error and "works only in a private chat" in reply.text, line


async def test_upload_list_show_remove_and_profile_image(bot):
    console, _ = bot
    empty = await console.handle("/media")
    assert "You have no files yet" in empty.text
    none = await console.handle("/upload")
    assert none.error and "nothing to upload" in none.text
    up = await console.handle(f"/upload logo.png {base64.b64encode(PNG).decode()}")
    assert not up.error and up.text.startswith("Stored #1 logo.png · PNG image · 40 bytes")
    assert "/profile set image media:1" in [b.command for row in up.buttons for b in row]
    text = await console.handle(f"/upload {base64.b64encode(b'hello BBCA').decode()}")
    assert "#2 file.txt · text" in text.text
    listing = await console.handle("/media")
    assert listing.text.splitlines()[1:3] == [
        "• #2 file.txt · text · 10 bytes · " + listing.text.splitlines()[1].rsplit(" · ", 1)[1],
        "• #1 logo.png · PNG image · 40 bytes · " + listing.text.splitlines()[2].rsplit(" · ", 1)[1],
    ]
    shown = await console.handle("/media show 1")
    assert shown.images and shown.images[0].data == PNG
    assert "hello BBCA" in (await console.handle("/media show 2")).text
    bad = await console.handle("/upload x.bin " + base64.b64encode(b"\x00\x01binary").decode())
    assert bad.error and "not accepted" in bad.text and "PNG, JPEG" in bad.text
    junk = await console.handle("/upload name !!!")
    assert junk.error and "not valid base64" in junk.text

    assert "Image: media:1" in (await console.handle("/profile set image media:1")).text
    assert (await console.handle("/profile set image media:99")).text.startswith("you have no file #99")
    ask = await console.handle("/media rm 1")
    assert "Remove #1 logo.png" in ask.text and [b.command for b in ask.buttons[0]] == [
        "/media rm 1 --yes",
        "/media",
    ]
    done = await console.handle("/media rm 1 --yes")
    assert done.text == "Removed file #1 (logo.png)."
    assert "Image: —" in (await console.handle("/me")).text
    gone = await console.handle("/media show 1")
    assert gone.error and "you have no file #1" in gone.text
    need = await console.handle("/media rm")
    assert need.error and "say which file" in need.text


async def test_media_show_reads_the_bytes_only_of_what_it_can_show(bot, monkeypatch):
    console, _ = bot
    await console.handle(f"/upload doc.pdf {base64.b64encode(b'%PDF-1.4 tiny').decode()}")
    await console.handle(f"/upload {base64.b64encode(b'hello BBCA').decode()}")
    fetched = []
    real_fetch = media_service.fetch

    async def fetch(*args, **kwargs):
        fetched.append(args[-1])
        return await real_fetch(*args, **kwargs)

    monkeypatch.setattr(media_service, "fetch", fetch)
    pdf = await console.handle("/media show 1")
    assert "#1 doc.pdf · PDF" in pdf.text and "cannot be shown in chat" in pdf.text and fetched == []
    assert "hello BBCA" in (await console.handle("/media show 2")).text and fetched == [2]
    listing = await console.handle("/media")
    assert listing.ephemeral and listing.text.splitlines()[0] == "Your files:"
    assert listing.text.splitlines()[-1] == "Show one: /media show ID · remove: /media rm ID"


async def test_contact_forwards_and_limits_and_admin_lists(bot):
    console, recorder = bot
    sent = await console.handle("/contact the chart for BBCA is blank")
    assert sent.text == "Thank you: your message #1 has reached the team."
    ((target, notice),) = recorder.sent
    assert target == ChatTarget("telegram", "-100123") and notice.text.endswith(
        "\nthe chart for BBCA is blank"
    )
    await console.handle("/contact second")
    limited = await console.handle("/contact third")
    assert limited.error and "2 messages in the last hour" in limited.text and "try again in" in limited.text
    empty = await console.handle("/contact")
    assert empty.error and "missing MESSAGE" in empty.text
    refused = await console.handle("/contact list")
    assert refused.error and "only the bot's administrators" in refused.text
    async with console.core.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ContactMessage)) == 2

    console.actor = await actor_for(console.core.db, platform="console", external_id="admin")
    listing = await console.handle("/contact list")
    assert listing.text.splitlines()[0] == "Contact Us messages, newest first:"
    assert "· Ana (user 1) · forwarded\n  second" in listing.text


async def test_delete_account_asks_then_deletes_everything(bot):
    console, _ = bot
    await console.handle(f"/upload a.png {base64.b64encode(PNG).decode()}")
    await console.handle("/watch BBCA price>9000")
    ask = await console.handle("/deleteaccount")
    assert "Delete your account?" in ask.text and "1 files" in ask.text and "1 watches" in ask.text
    assert "cannot be undone" in ask.text
    assert [b.command for b in ask.buttons[0]] == ["/deleteaccount --yes", "/me"]
    files = [
        p
        for p in (console.core.settings.media_dir or (console.out_dir.parent / "media")).rglob("*")
        if p.is_file()
    ]
    assert len(files) == 1
    done = await console.handle("/deleteaccount --yes")
    assert done.text.startswith("Your account is deleted:") and "1 file(s)" in done.text
    assert not files[0].exists()
    async with console.core.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0
        assert await session.scalar(select(func.count()).select_from(Media)) == 0
    after = await console.handle("/me")
    assert after.error and "no longer exists" in after.text


async def test_dict_brokers_and_glossary(bot):
    console, _ = bot
    listing = await console.handle("/dict glossary")
    assert "stop loss: batas rugi" in listing.text and "bandarmology: bandarmologi" in listing.text
    term = await console.handle("/dict glossary batas rugi")
    assert term.text.splitlines()[0] == "stop loss: ID: batas rugi"
    assert "EN: An exit" in term.text and "ID: Batas keluar" in term.text
    okx = await console.handle("/dict broker okx")
    assert "passphrase" in okx.text
    assert "OKX" in (await console.handle("/dict brokers")).text
    assert "rsi" in (await console.handle("/dict indicator rsi")).text
    bad = await console.handle("/dict glossary stop los")
    assert bad.error and "did you mean 'stop loss'" in bad.text


async def test_upload_over_the_quota_says_the_quota_and_the_use(bot):
    console, _ = bot
    console.core.settings = console.core.settings.model_copy(update={"free_max_media_files": 2})
    for _ in range(2):
        assert not (await console.handle(f"/upload {base64.b64encode(b'hello BBCA').decode()}")).error
    refused = await console.handle(f"/upload {base64.b64encode(b'hello BBCA').decode()}")
    assert refused.error and "you keep 2 of 2 files on your Free plan (20 B used)" in refused.text
    assert "/media rm ID" in refused.text
    listing = await console.handle("/media")
    assert "Using 2 of 2 files · 20 bytes of 25.0 MB (Free plan)" in listing.text
