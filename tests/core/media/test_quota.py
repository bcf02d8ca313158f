"""Media quotas: a user keeps at most the plan's number of files and bytes; a refusal says the
quota and the use, stores nothing, and holds under concurrent uploads."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.account.service import actor_for
from core.config import Settings
from core.db import utcnow
from core.errors import LimitExceeded
from core.media import service as media
from core.purchase.models import Purchase, Subscription

TEXT = b"note " * 20  # 100 bytes of plain text


def _settings(tmp_path, **kw) -> Settings:
    return Settings(_env_file=None, media_dir=tmp_path / "media", **kw)


def _files_on_disk(tmp_path) -> int:
    return len([p for p in (tmp_path / "media").rglob("*") if p.is_file()])


async def _subscribe(db, user_id: int, features: dict) -> None:
    now = utcnow()
    async with db.session() as session:
        purchase = Purchase(user_id=user_id, provider="Mock", subtotal=1, total=1, status="Paid")
        session.add(purchase)
        await session.flush()
        session.add(Subscription(user_id=user_id, purchase_id=purchase.id, name="Pro", starts_at=now - timedelta(days=1),
                                 ends_at=now + timedelta(days=30), features=features))  # fmt: skip


async def test_the_file_count_quota_says_quota_and_use(db, tmp_path):
    settings = _settings(tmp_path, free_max_media_files=3, free_max_media_bytes=0)
    ana = await actor_for(db, platform="telegram", external_id="111")
    for _ in range(3):
        await media.upload(db, settings, ana, TEXT, "n.txt")
    with pytest.raises(LimitExceeded) as refused:
        await media.upload(db, settings, ana, TEXT, "n.txt")
    assert "3 of 3 files" in refused.value.message and "Free" in refused.value.message
    assert "/media rm" in (refused.value.hint or "")
    assert (await media.list_media(db, ana)).total == 3 and _files_on_disk(tmp_path) == 3


async def test_the_byte_quota_counts_what_is_kept_plus_the_new_file(db, tmp_path):
    settings = _settings(tmp_path, free_max_media_files=0, free_max_media_bytes=250)
    ana = await actor_for(db, platform="telegram", external_id="111")
    await media.upload(db, settings, ana, TEXT)
    await media.upload(db, settings, ana, TEXT)
    with pytest.raises(LimitExceeded) as refused:
        await media.upload(db, settings, ana, TEXT)
    assert "200 B of 250 B" in refused.value.message
    assert _files_on_disk(tmp_path) == 2
    await media.upload(db, settings, ana, b"small")  # what still fits is taken
    other = await actor_for(db, platform="telegram", external_id="222")
    await media.upload(db, settings, other, TEXT)  # quotas are per user


async def test_a_removed_file_frees_its_share(db, tmp_path):
    settings = _settings(tmp_path, free_max_media_files=1)
    ana = await actor_for(db, platform="telegram", external_id="111")
    first = await media.upload(db, settings, ana, TEXT)
    with pytest.raises(LimitExceeded):
        await media.upload(db, settings, ana, TEXT)
    await media.remove(db, settings, ana, first.id)
    await media.upload(db, settings, ana, TEXT)


async def test_a_plan_raises_the_quota(db, tmp_path):
    settings = _settings(tmp_path, free_max_media_files=1)
    ana = await actor_for(db, platform="telegram", external_id="111")
    await _subscribe(db, ana.user_id, {"max_media_files": 3, "max_media_bytes": 10_000})
    for _ in range(3):
        await media.upload(db, settings, ana, TEXT)
    with pytest.raises(LimitExceeded, match="3 of 3 files on your Pro plan"):
        await media.upload(db, settings, ana, TEXT)


async def test_concurrent_uploads_cannot_overrun_the_quota(db, tmp_path):
    """The attack: many uploads at once, each checking the count before any has stored its row."""
    settings = _settings(tmp_path, free_max_media_files=3)
    ana = await actor_for(db, platform="telegram", external_id="111")
    results = await asyncio.gather(
        *(media.upload(db, settings, ana, TEXT) for _ in range(12)), return_exceptions=True
    )
    stored = [r for r in results if isinstance(r, media.MediaView)]
    refused = [r for r in results if isinstance(r, LimitExceeded)]
    assert len(stored) == 3 and len(refused) == 9
    assert (await media.list_media(db, ana)).total == 3 and _files_on_disk(tmp_path) == 3
