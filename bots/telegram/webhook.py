"""Telegram's webhook, the transport's side: handing updates to the running Application.

The HTTP side is a route of the API's one server (``api.webhooks.telegram``: the secret checked
from the headers before any body is read, the body capped, malformed JSON refused). In webhook
mode ``bots.telegram.app.serve`` registers ``receiver(app, ...)`` as ``core.receivers["telegram"]``;
the route hands each parsed update over through it, which does exactly what python-telegram-bot's
own receiver does: ``Update.de_json``, arbitrary callback data restored, then the Application's
update queue.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, ExtBot

from core.inbound import Receiver

PLATFORM = "telegram"


def receiver(app: Application[Any, Any, Any, Any, Any, Any], *, secret: str, max_bytes: int) -> Receiver:
    """The hand-over to ``app``'s update queue, behind ``secret`` and ``max_bytes``."""

    async def receive(data: Any) -> bool:
        update = Update.de_json(data, app.bot) if isinstance(data, dict) else None
        if update is None:
            return False
        if isinstance(app.bot, ExtBot):
            app.bot.insert_callback_data(update)  # arbitrary callback data, as PTB's receiver does
        await app.update_queue.put(update)
        return True

    return Receiver(secret=secret, max_bytes=max_bytes, receive=receive)
