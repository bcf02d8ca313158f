"""Group membership on Telegram follows chat_member / my_chat_member updates through the real
handlers, and /copy asks getChatMember before trusting a stored membership."""

from __future__ import annotations

import itertools
import time
from typing import Any

from sqlalchemy import select

from core.account.models import ChatMember
from core.account.service import actor_for
from core.sharing import service as sharing

_ids = itertools.count(70_000)
SCRIPT = "buy = crossover(ema(close, 5), ema(close, 20))\nsell = crossunder(ema(close, 5), ema(close, 20))"


def member_update(kind: str, user: dict[str, Any], chat: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """A ``chat_member`` or ``my_chat_member`` update as Telegram sends it."""

    def member(status: str) -> dict[str, Any]:
        return {"status": status, "user": user, **({"until_date": 0} if status == "kicked" else {})}

    change = {"chat": chat, "from": user, "date": int(time.time()), "old_chat_member": member(old),
              "new_chat_member": member(new)}  # fmt: skip
    return {"update_id": next(_ids), kind: change}


async def _group_with_a_share(tg) -> int:
    """Alice shares a model into the group; Bob has written there (so he may copy it)."""
    alice = await actor_for(tg.core.db, platform="telegram", external_id=str(tg.ALICE["id"]), display_name="Alice",
                            chat_id=str(tg.GROUP["id"]), chat_title=tg.GROUP["title"], is_group=True)  # fmt: skip
    await tg.say("/help", user=tg.BOB, chat=tg.GROUP)
    group = await sharing.current_group(tg.core.db, alice)
    share = await sharing.record_share(tg.core.db, alice, group.id, kind="model", label="ema", ticker="BBCA",
                                       interval="1d", range_="1y", payload={"source": SCRIPT}, stats={})  # fmt: skip
    return share.id


async def _members(tg) -> set[str]:
    from core.account.models import Identity

    async with tg.core.db.session() as session:
        rows = await session.execute(
            select(Identity.external_id).join(ChatMember, ChatMember.user_id == Identity.user_id)
        )
        return set(rows.scalars())


async def _copy_as_bob(tg, share: int) -> str:
    bob_private = {"id": tg.BOB["id"], "type": "private", "first_name": "Bob"}
    calls = await tg.say(f"/copy {share}", user=tg.BOB, chat=bob_private)
    return [c for c in calls if c.method == "sendMessage"][-1].text


async def test_a_member_who_leaves_can_no_longer_copy(tg):
    share = await _group_with_a_share(tg)
    assert await _members(tg) == {str(tg.ALICE["id"]), str(tg.BOB["id"])}
    await tg.feed(member_update("chat_member", tg.BOB, tg.GROUP, "member", "left"))
    assert await _members(tg) == {str(tg.ALICE["id"])}
    # getChatMember would still say "member" here: the refusal comes from the update alone
    assert "group you are not in" in await _copy_as_bob(tg, share)


async def test_a_banned_member_is_forgotten_too(tg):
    await _group_with_a_share(tg)
    await tg.feed(member_update("chat_member", tg.BOB, tg.GROUP, "member", "kicked"))
    assert await _members(tg) == {str(tg.ALICE["id"])}


async def test_a_join_or_promotion_changes_nothing(tg):
    await _group_with_a_share(tg)
    await tg.feed(member_update("chat_member", tg.BOB, tg.GROUP, "left", "member"))
    assert await _members(tg) == {str(tg.ALICE["id"]), str(tg.BOB["id"])}


async def test_removing_the_bot_forgets_every_member_of_the_group(tg):
    share = await _group_with_a_share(tg)
    await tg.feed(member_update("my_chat_member", tg.BOT, tg.GROUP, "member", "kicked"))
    assert await _members(tg) == set()
    assert "group you are not in" in await _copy_as_bob(tg, share)


async def test_copy_asks_telegram_and_refuses_a_member_who_left_unreported(tg):
    """The bot is no admin, so Bob's leave was never reported: getChatMember tells."""
    share = await _group_with_a_share(tg)
    tg.rec.member_status = "left"
    assert "no longer in" in await _copy_as_bob(tg, share)
    [asked] = tg.rec.api("getChatMember")
    assert (int(asked.params["chat_id"]), int(asked.params["user_id"])) == (tg.GROUP["id"], tg.BOB["id"])
    assert await _members(tg) == {str(tg.ALICE["id"])}


async def test_copy_by_a_current_member_still_works(tg):
    share = await _group_with_a_share(tg)
    assert "Copied model 'ema'" in await _copy_as_bob(tg, share)


async def test_copy_is_refused_when_the_bot_was_removed_unnoticed(tg):
    share = await _group_with_a_share(tg)
    tg.rec.fail_once("getChatMember", 403, {"ok": False, "error_code": 403,
                                            "description": "Forbidden: bot was kicked from the supergroup chat"})  # fmt: skip
    assert "no longer in" in await _copy_as_bob(tg, share)


async def test_share_into_a_group_left_unreported_is_refused(tg):
    await _group_with_a_share(tg)
    async with tg.core.db.session() as session:
        from core.account.models import Chat

        group_id = await session.scalar(select(Chat.id).where(Chat.external_id == str(tg.GROUP["id"])))
    tg.rec.member_status = "left"
    bob_private = {"id": tg.BOB["id"], "type": "private", "first_name": "Bob"}
    calls = await tg.say(f"/share ema BBCA 1d 1y to={group_id}", user=tg.BOB, chat=bob_private)
    [reply] = [c for c in calls if c.method == "sendMessage"]
    assert "you are no longer in Traders &lt;&amp;&gt; Co" in reply.text
    assert not [c for c in calls if c.method in ("sendPhoto", "sendMessage") and c.params["chat_id"] == tg.GROUP["id"]]
    assert await _members(tg) == {str(tg.ALICE["id"])}


async def test_a_restricted_user_who_is_no_member_is_forgotten(tg):
    await _group_with_a_share(tg)
    update = member_update("chat_member", tg.BOB, tg.GROUP, "member", "restricted")
    rights = ["can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos", "can_send_videos",
              "can_send_video_notes", "can_send_voice_notes", "can_send_polls", "can_send_other_messages",
              "can_add_web_page_previews", "can_change_info", "can_invite_users", "can_pin_messages",
              "can_manage_topics", "can_edit_tag", "can_react_to_messages"]  # fmt: skip
    update["chat_member"]["new_chat_member"].update(dict.fromkeys(rights, False), is_member=False, until_date=0)
    await tg.feed(update)
    assert await _members(tg) == {str(tg.ALICE["id"])}
