"""Group settings: stored per chat, changed only by the group's admins."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from core.account import groups
from core.account.models import Chat
from core.account.service import actor_for
from core.errors import Forbidden, Invalid


async def _member(db, *, admin: bool):
    actor = await actor_for(
        db, platform="telegram", external_id="7", chat_id="-100123", chat_title="IDX Traders", is_group=True
    )
    return dataclasses.replace(actor, is_admin=admin)


async def test_admin_changes_a_setting_and_it_is_stored(db):
    admin = await _member(db, admin=True)
    assert await groups.group_settings(db, admin) == groups.GroupSettings("IDX Traders", True, True)
    changed = await groups.change_group_setting(db, admin, "alerts", False)
    assert changed.alerts is False and changed.shared is True
    async with db.session() as session:
        chat = await session.scalar(select(Chat).where(Chat.external_id == "-100123"))
    assert chat.alerts_enabled is False and chat.share_results is True


async def test_member_cannot_change_and_private_chat_has_no_group(db):
    member = await _member(db, admin=False)
    with pytest.raises(Forbidden, match="only this group's admins"):
        await groups.change_group_setting(db, member, "shared", False)
    private = await actor_for(db, platform="telegram", external_id="7", chat_id="7")
    with pytest.raises(Invalid, match="use this command in the group"):
        await groups.group_settings(db, private)
    with pytest.raises(Invalid, match="no group setting"):
        await groups.change_group_setting(db, dataclasses.replace(member, is_admin=True), "colour", True)
