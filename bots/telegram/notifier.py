"""``TelegramNotifier``: how jobs push alerts (text and chart images) into Telegram chats."""

from __future__ import annotations

import asyncio

from telegram import Bot
from telegram import error as tg_error

from bots.telegram import render
from bots.telegram.members import is_gone
from core.logging import get_logger
from core.message import Message
from core.notify import ChatTarget
from core.state.buttons import ButtonStore

log = get_logger(__name__)

RETRY_AFTER_ATTEMPTS = 3  # on top of the rate limiter's own retries, for a bot built without one


class TelegramNotifier:
    """Implements ``core.notify.Notifier`` for Telegram.

    ``send`` returns True when Telegram accepted the notice and False (logged) when it cannot be
    delivered: the bot was blocked or removed (``Forbidden``), the chat does not exist
    (``BadRequest``), or the network failed. A 429 is waited out (by the application's
    ``AIORateLimiter``, or here for a plain ``Bot``), never dropped. Buttons are attached only when a
    ``ButtonStore`` is given and the target is a private chat, whose id is its user's id (the
    button's owner).

    It also answers ``core.account.membership.MembershipCheck`` (is a user still in a group?).
    """

    platform = "telegram"

    def __init__(self, bot: Bot, buttons: ButtonStore | None = None) -> None:
        self.bot = bot
        self.buttons = buttons

    async def send(self, target: ChatTarget, message: Message) -> bool:
        if target.platform != self.platform:
            log.warning("telegram_notice_wrong_platform", platform=target.platform)
            return False
        chat_id = _chat_id(target.chat_id)
        markup = None
        private = isinstance(chat_id, int) and chat_id > 0
        if self.buttons is not None and message.buttons and (private or message.public):
            markup = render.keyboard(message.buttons, await self.buttons.binder(str(chat_id), message.buttons))
        for attempt in range(RETRY_AFTER_ATTEMPTS + 1):
            try:
                await render.send_reply(self.bot, chat_id, message, markup=markup)
                return True
            except tg_error.RetryAfter as exc:
                if attempt == RETRY_AFTER_ATTEMPTS:
                    log.warning("telegram_notice_rate_limited", chat=target.chat_id)
                    return False
                await asyncio.sleep(_retry_after_s(exc) + 0.1)
            except (tg_error.Forbidden, tg_error.BadRequest) as exc:
                log.warning("telegram_notice_undeliverable", chat=target.chat_id, error=exc.message)
                return False
            except tg_error.TelegramError as exc:
                log.warning("telegram_notice_failed", chat=target.chat_id, error=type(exc).__name__)
                return False
        return False

    async def still_member(self, chat_external_id: str, user_external_id: str) -> bool | None:
        """getChatMember: False when the user is out of the group, or the bot is (Telegram then
        refuses with Forbidden, or BadRequest for a chat or user it does not know); None when
        Telegram cannot be asked now (network, flood wait)."""
        try:
            member = await self.bot.get_chat_member(_chat_id(chat_external_id), int(user_external_id))
        except (tg_error.Forbidden, tg_error.BadRequest) as exc:
            log.info("telegram_membership_denied", chat=chat_external_id, error=exc.message)
            return False
        except (tg_error.TelegramError, ValueError) as exc:
            log.warning("telegram_membership_unknown", chat=chat_external_id, error=type(exc).__name__)
            return None
        return not is_gone(member)


def _chat_id(raw: str) -> int | str:
    """Numeric ids as ints (negative for groups); ``@channelname`` stays a string."""
    try:
        return int(raw)
    except ValueError:
        return raw


def _retry_after_s(exc: tg_error.RetryAfter) -> float:
    # The private timedelta avoids PTB 22's deprecation warning on the int-valued ``retry_after``.
    value = getattr(exc, "_retry_after", None)
    if value is None:
        value = exc.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)
