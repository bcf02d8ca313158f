"""Telegram Stars on the Telegram side: the pre-checkout answer, the successful payment, refunds.

The rules live in core.purchase.stars_payments; here only Telegram's shapes. Telegram waits at most
10 s for the pre-checkout answer, so it is answered in the handler itself after one short database
read (bounded by ``PRE_CHECKOUT_BUDGET_S``); any failure there answers ``ok=False`` with a reason
rather than leaving the payer waiting. Only ``successful_payment`` credits anything.
"""

from __future__ import annotations

import asyncio

from telegram import Bot, Update
from telegram import error as tg_error
from telegram.constants import ParseMode
from telegram.ext import BaseHandler, ContextTypes, MessageHandler, PreCheckoutQueryHandler, filters

from bots.telegram import render
from core.actor import Actor
from core.app import Core
from core.contact.service import admin_target
from core.errors import Unavailable
from core.logging import get_logger
from core.message import Message
from core.purchase import service as purchases
from core.purchase import stars_payments
from core.purchase.stars_payments import Credit

log = get_logger(__name__)

PRE_CHECKOUT_BUDGET_S = 7.0  # of Telegram's 10 s: the answer itself must still get there
NOT_NOW = "We could not check this order just now: please try again in a minute."


class TelegramStars:
    """``refundStarPayment`` for the core (``Core.stars``; core.purchase.stars_payments.StarsGateway)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def refund(self, user_id: int, charge_id: str) -> bool:
        try:
            await self.bot.refund_star_payment(user_id, charge_id)
        except tg_error.BadRequest as exc:
            if "ALREADY_REFUNDED" in exc.message.upper():  # a retried /refund: done before
                return False
            raise Unavailable(f"Telegram refused the refund: {exc.message[:200]}") from None
        except tg_error.TelegramError as exc:
            log.warning("stars_refund_failed", error=type(exc).__name__)
            raise Unavailable("Telegram cannot be reached now: try the refund again in a minute") from None
        return True

    async def cancel(self, user_id: int, charge_id: str) -> bool:
        """Stop a Stars subscription's renewals (``editUserStarSubscription``); False when Telegram refused."""
        try:
            return bool(await self.bot.edit_user_star_subscription(user_id, charge_id, is_canceled=True))
        except tg_error.TelegramError as exc:  # the refund is done: say so, and let the admin know about this
            log.warning("stars_subscription_not_canceled", error=type(exc).__name__)
            return False


async def _tell_admins(core: Core, text: str) -> None:
    """A payment nobody can credit automatically, posted to ``ADMIN_CHAT`` when it is set."""
    target = admin_target(core.settings)
    notifier = core.notifiers.get(target.platform) if target is not None else None
    if target is None or notifier is None:
        return
    try:
        await notifier.send(target, Message(text))
    except Exception as exc:  # the buyer's answer must still go out; the warning is logged already
        log.warning("stars_admin_not_told", error=type(exc).__name__)


def handlers(core: Core) -> list[BaseHandler]:
    """The payment handlers, to go before every other message handler."""

    async def on_pre_checkout(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.pre_checkout_query
        if query is None:
            return
        try:
            reason = await asyncio.wait_for(
                stars_payments.check_pre_checkout(
                    core.db, payload=query.invoice_payload, currency=query.currency, amount=query.total_amount,
                    payer=str(query.from_user.id),
                ),
                PRE_CHECKOUT_BUDGET_S,
            )
        except Exception as exc:  # the payer must get an answer whatever happened
            log.error("stars_precheckout_failed", error=type(exc).__name__, exc_info=exc)
            reason = NOT_NOW
        if reason is None:
            await query.answer(ok=True)
        else:
            await query.answer(ok=False, error_message=reason)
        log.info("stars_precheckout", user=query.from_user.id, ok=reason is None)

    async def on_paid(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        payment = message.successful_payment if message is not None else None
        if message is None or payment is None or message.from_user is None:
            return
        # Telegram sends this once: should crediting fail, this line is what an admin credits or refunds from
        log.info("stars_payment_received", payload=payment.invoice_payload[:128], stars=payment.total_amount,
                 charge=payment.telegram_payment_charge_id, payer=message.from_user.id)  # fmt: skip
        result = await stars_payments.credit(
            core.db, payload=payment.invoice_payload, currency=payment.currency, amount=payment.total_amount,
            charge_id=payment.telegram_payment_charge_id, payer=str(message.from_user.id),
            recurring=bool(payment.is_recurring), first_recurring=bool(payment.is_first_recurring),
            raw=payment.to_dict(),
        )  # fmt: skip
        log.info("stars_payment", outcome=result.outcome, purchase=result.purchase_id)
        if result.outcome is Credit.DUPLICATE:
            return  # told once already
        if result.outcome in (Credit.SETTLED, Credit.RENEWED) and result.user_id is not None:
            subs = await purchases.subscriptions(core.db, Actor(user_id=result.user_id))
            verb = "Renewed" if result.outcome is Credit.RENEWED else "Paid"
            lines = [f"{verb}: ⭐{payment.total_amount:,} for purchase #{result.purchase_id}. Thank you!"]
            lines += [f"{s.name}: {s.starts_at:%Y-%m-%d} to {s.ends_at:%Y-%m-%d %H:%M} UTC" for s in subs]
        else:
            order = f" for order #{result.purchase_id}" if result.purchase_id is not None else ""
            lines = [f"We received ⭐{payment.total_amount:,}{order} but could not credit it "
                     f"({result.detail}). An admin will credit or refund it; see /contact."]  # fmt: skip
            await _tell_admins(core, f"A Telegram Stars payment needs an admin: ⭐{payment.total_amount:,} from "
                               f"Telegram user {message.from_user.id}{order}: {result.detail}. Credit it by hand, "
                               f"or /refund {result.purchase_id if result.purchase_id is not None else 'it'}.")  # fmt: skip
        await render.send_html(context.bot, message.chat_id, render.html_chunks("\n".join(lines)))

    async def on_refunded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        refunded = message.refunded_payment if message is not None else None
        if message is None or refunded is None:
            return
        revoked = await stars_payments.refunded_by_telegram(
            core.db, charge_id=refunded.telegram_payment_charge_id, raw=refunded.to_dict()
        )
        log.info("stars_refund_seen", changed=revoked is not None)
        if revoked is None:
            return  # an admin's /refund got there first, or not ours
        ended = f" Ended: {', '.join(revoked)}." if revoked else ""
        text = f"⭐{refunded.total_amount:,} were refunded to you.{ended}"
        await context.bot.send_message(message.chat_id, render.escape(text), parse_mode=ParseMode.HTML)

    return [
        PreCheckoutQueryHandler(on_pre_checkout),
        MessageHandler(filters.SUCCESSFUL_PAYMENT, on_paid),
        MessageHandler(filters.StatusUpdate.REFUNDED_PAYMENT, on_refunded),
    ]

