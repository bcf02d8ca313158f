"""/model save as a reply to the message holding the script: Telegram hands the script over."""

from __future__ import annotations

import time

from sqlalchemy import select

from core.model.models import Model

ALICE = {"id": 1001, "is_bot": False, "first_name": "Alice", "username": "alice"}
PRIVATE = {"id": 1001, "type": "private", "first_name": "Alice"}
SCRIPT = "fast = ema(close, 12)\nslow = ema(close, 26)\nbuy = crossover(fast, slow)\nsell = crossunder(fast, slow)"


def _update(update_id: int, message_id: int, text: str, reply_to: dict | None = None) -> dict:
    msg = {"message_id": message_id, "date": int(time.time()), "chat": PRIVATE, "from": ALICE, "text": text}
    if text.startswith("/"):
        msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    if reply_to is not None:
        msg["reply_to_message"] = reply_to
    return {"update_id": update_id, "message": msg}


async def test_model_save_replying_to_the_script(tg):
    script_message = _update(9001, 9001, SCRIPT)["message"]
    before = len(tg.rec.calls)
    await tg.feed(_update(9002, 9002, "/model save cross", reply_to=script_message))
    sent = [c for c in tg.rec.calls[before:] if c.method == "sendMessage"]
    assert sent and "Saved model 'cross' (long-only)." in sent[-1].text
    async with tg.core.db.session() as session:
        [row] = list(await session.scalars(select(Model)))
    assert row.source == SCRIPT and row.label == "cross"
