"""Contact Us: stored, forwarded to ADMIN_CHAT through the notifiers, rate-limited; admins list them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.account.service import actor_for
from core.config import Settings
from core.contact import service as contact
from core.contact.models import ContactMessage
from core.db import utcnow
from core.errors import Forbidden, Invalid, LimitExceeded
from core.message import Message
from core.notify import ChatTarget


class Recorder:
    """A Notifier that records what it was asked to send."""

    def __init__(self, platform: str = "telegram", accept: bool = True, explode: bool = False) -> None:
        self.platform, self.accept, self.explode = platform, accept, explode
        self.sent: list[tuple[ChatTarget, Message]] = []

    async def send(self, target: ChatTarget, notice: Message) -> bool:
        if self.explode:
            raise RuntimeError("network down")
        self.sent.append((target, notice))
        return self.accept


def _settings(**kw) -> Settings:
    return Settings(_env_file=None, admin_chat="telegram:-100123", admin_ids=["telegram:999"], **kw)


async def _rows(db) -> list[ContactMessage]:
    async with db.session() as session:
        return list(await session.scalars(select(ContactMessage).order_by(ContactMessage.id)))


async def test_stored_and_forwarded(db):
    ana = await actor_for(db, platform="telegram", external_id="111", display_name="Ana")
    recorder = Recorder()
    sent = await contact.send_message(
        db, _settings(), {"telegram": recorder}, ana, "  the BBCA chart is blank  "
    )
    assert sent.forwarded and sent.message.forwarded_at is not None
    ((target, notice),) = recorder.sent
    assert target == ChatTarget("telegram", "-100123")
    assert (
        notice.text
        == f"Contact #{sent.message.id} from Ana (telegram:111, user {ana.user_id}):\nthe BBCA chart is blank"
    )
    (row,) = await _rows(db)
    assert (row.user_id, row.name, row.text) == (ana.user_id, "Ana", "the BBCA chart is blank")
    assert row.forwarded_at is not None


@pytest.mark.parametrize(
    ("settings", "notifiers"),
    [(_settings(), {"telegram": Recorder(accept=False)}), (_settings(), {"telegram": Recorder(explode=True)}),
     (_settings(), {}), (Settings(_env_file=None), {"telegram": Recorder()}),
     (Settings(_env_file=None, admin_chat="nonsense"), {"telegram": Recorder()})],
    ids=["refused", "raises", "no-notifier", "no-admin-chat", "malformed-admin-chat"],
)  # fmt: skip
async def test_stored_even_when_not_forwarded(db, settings, notifiers):
    ana = await actor_for(db, platform="discord", external_id="222", display_name="ana")
    sent = await contact.send_message(db, settings, notifiers, ana, "hello")
    assert not sent.forwarded
    (row,) = await _rows(db)
    assert row.text == "hello" and row.forwarded_at is None


async def test_rate_limited_per_user(db):
    settings = _settings(contact_per_hour=5)
    ana = await actor_for(db, platform="telegram", external_id="111")
    bob = await actor_for(db, platform="telegram", external_id="222")
    start = utcnow()
    for i in range(5):
        await contact.send_message(db, settings, {}, ana, f"message {i}", now=start + timedelta(minutes=i))
    with pytest.raises(LimitExceeded, match=r"5 messages in the last hour.*try again in 50 minutes"):
        await contact.send_message(db, settings, {}, ana, "one more", now=start + timedelta(minutes=10))
    await contact.send_message(db, settings, {}, bob, "bob is not limited", now=start + timedelta(minutes=10))
    await contact.send_message(db, settings, {}, ana, "an hour later", now=start + timedelta(minutes=61))
    assert len(await _rows(db)) == 7


async def test_bad_messages(db):
    ana = await actor_for(db, platform="telegram", external_id="111")
    with pytest.raises(Invalid, match="write your message"):
        await contact.send_message(db, _settings(), {}, ana, "   ")
    with pytest.raises(Invalid, match="at most 2000 characters, not 2001"):
        await contact.send_message(db, _settings(), {}, ana, "x" * 2001)
    assert await _rows(db) == []


async def test_admins_list_newest_first(db):
    settings = _settings()
    ana = await actor_for(db, platform="telegram", external_id="111", display_name="Ana")
    admin = await actor_for(db, platform="telegram", external_id="999")
    start = utcnow()
    for i in range(3):
        await contact.send_message(db, settings, {}, ana, f"m{i}", now=start + timedelta(seconds=i))
    with pytest.raises(Forbidden, match="administrators"):
        await contact.list_messages(db, settings, ana)
    page = await contact.list_messages(db, settings, admin, 1, 2)
    assert page.total == 3 and [m.text for m in page.items] == ["m2", "m1"] and page.has_next
